"""Property tests: any valid Query compiles and runs on both backends; any invalid input ends in
a QueryValidationError, never another exception.

The strategies are built from the tool's own enums and column kinds, so they follow the schema.
``valid_queries()`` is reused by the tenant-scope properties.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import date, datetime, time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_builders import cond, field, query

from nl2sql import schema
from nl2sql.compiler import Compiler
from nl2sql.errors import QueryValidationError
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.query import TOOL, Aggregate, ColumnInfo, Operator, TimeGrain

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

COLUMNS: dict[str, ColumnInfo] = TOOL.columns
TABLES = sorted(schema.TABLES)
NUMERIC = ("integer", "number")
CALENDAR = ("date", "datetime")
COMPARISON_OPERATORS = ["=", "!=", ">", ">=", "<", "<="]
KNOWN_TEXT = {
    "orders.status": list(schema.ORDER_STATUSES) + ["Delivered", "SHIPPED"],
    "customers.country": ["Germany", "United States", "Japan", "Brazil", "Atlantis"],
    "products.category": ["Books", "Electronics", "Home & Kitchen", "Toys", "Garden"],
    "customers.city": ["Berlin", "Sapporo", "Paris", "Nowhere"],
}


def family(kind: str) -> str:
    return {"integer": "number", "datetime": "date"}.get(kind, kind)


# -- values ----------------------------------------------------------------------------------------

DATES = st.dates(min_value=date(2023, 6, 1), max_value=date(2027, 1, 31))


def scalar_values(info: ColumnInfo) -> st.SearchStrategy[Any]:
    """A literal that fits this column (for '=' and friends)."""
    if info.qualified == "orders.status":
        return st.sampled_from(KNOWN_TEXT["orders.status"])
    if info.kind == "text":
        known = KNOWN_TEXT.get(info.qualified, [])
        free = st.text(alphabet="abcJohnSe %_'\";-/\\&", min_size=0, max_size=8)
        return st.sampled_from(known) | free if known else free
    if info.kind == "integer":
        return st.integers(min_value=-5, max_value=3000)
    if info.kind == "number":
        return st.integers(min_value=0, max_value=3000) | st.floats(
            min_value=-10, max_value=5000, allow_nan=False
        ).map(lambda x: round(x, 2))
    if info.kind == "date":
        return DATES.map(date.isoformat)
    moments = st.builds(
        datetime.combine,
        DATES,
        st.times(min_value=time(0), max_value=time(23, 59, 59)).map(
            lambda t: t.replace(microsecond=0)
        ),
    )
    return DATES.map(date.isoformat) | moments.map(lambda m: m.isoformat(timespec="seconds"))


def operators_for(info: ColumnInfo) -> list[str]:
    operators = [o.value for o in Operator]
    if info.kind != "text":
        operators.remove("contains")
    return operators


@st.composite
def condition_values(draw: st.DrawFn, info: ColumnInfo, operator: str) -> Any:
    if operator in ("is null", "is not null"):
        return None
    if operator in ("in", "not in"):
        return draw(st.lists(scalar_values(info), min_size=1, max_size=3))
    if operator == "between":
        return draw(st.lists(scalar_values(info), min_size=2, max_size=2))
    if operator == "contains":
        return draw(st.text(alphabet="abcJohnSe %_'&", min_size=0, max_size=5))
    if operator in COMPARISON_OPERATORS and draw(st.integers(0, 6)) == 0:
        same_table = [
            name
            for name, other in COLUMNS.items()
            if other.table == info.table and family(other.kind) == family(info.kind)
        ]
        return {"column_name": draw(st.sampled_from(same_table))}
    return draw(scalar_values(info))


# -- query parts -----------------------------------------------------------------------------------


def aggregates_for(info: ColumnInfo) -> list[str]:
    allowed = ["count", "count_distinct", "min", "max"]
    if info.kind in NUMERIC:
        allowed += ["sum", "avg"]
    return allowed


@st.composite
def fields(draw: st.DrawFn, aggregated: bool) -> dict[str, Any]:
    info = COLUMNS[draw(st.sampled_from(sorted(COLUMNS)))]
    aggregate = None
    if aggregated and draw(st.booleans()):
        aggregate = draw(st.sampled_from(aggregates_for(info)))
    grain = None
    if aggregate is None and info.kind in CALENDAR and draw(st.booleans()):
        grain = draw(st.sampled_from([g.value for g in TimeGrain]))
    return {"column": info.qualified, "aggregate": aggregate, "time_grain": grain}


@st.composite
def conditions(draw: st.DrawFn, allow_having: bool) -> dict[str, Any]:
    info = COLUMNS[draw(st.sampled_from(sorted(COLUMNS)))]
    if allow_having and draw(st.integers(0, 4)) == 0:
        aggregate = draw(st.sampled_from(aggregates_for(info)))
        operator = draw(st.sampled_from(COMPARISON_OPERATORS))
        if aggregate in ("count", "count_distinct"):
            value: Any = draw(st.integers(min_value=0, max_value=500))
        elif aggregate in ("sum", "avg"):
            value = draw(st.integers(min_value=0, max_value=100_000))
        else:
            value = draw(scalar_values(info))
        return {
            "column": info.qualified,
            "aggregate": aggregate,
            "operator": operator,
            "value": value,
        }
    operator = draw(st.sampled_from(operators_for(info)))
    value = draw(condition_values(info, operator))
    return {"column": info.qualified, "aggregate": None, "operator": operator, "value": value}


@st.composite
def sorts(draw: st.DrawFn, aggregated: bool, grouped: list[str]) -> dict[str, Any]:
    if aggregated and grouped and draw(st.booleans()):
        column = draw(st.sampled_from(grouped))  # a grouped column: always allowed
        aggregate = None
    else:
        column = draw(st.sampled_from(sorted(COLUMNS)))
        aggregate = None
        if aggregated:
            aggregate = draw(st.sampled_from(aggregates_for(COLUMNS[column])))
    return {
        "column": column,
        "aggregate": aggregate,
        "direction": draw(st.sampled_from(["asc", "desc"])),
    }


@st.composite
def valid_queries(draw: st.DrawFn) -> dict[str, Any]:
    """A Query the tool's schema accepts, with values that fit their columns."""
    aggregated = draw(st.booleans())
    columns = draw(st.lists(fields(aggregated), min_size=0 if not aggregated else 1, max_size=3))
    grouped = [c["column"] for c in columns if c["aggregate"] is None]
    return {
        "table_name": draw(st.sampled_from(TABLES)),
        "columns": columns,
        "conditions": draw(st.lists(conditions(aggregated), max_size=3)),
        "order_by": draw(st.lists(sorts(aggregated, grouped), max_size=2)),
        "limit": draw(st.none() | st.integers(min_value=1, max_value=2000)),
    }


# -- valid queries run -----------------------------------------------------------------------------

KIND_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (float,),
    "fraction": (float,),
    "text": (str,),
    "date": (date,),
    "datetime": (datetime,),
}


def test_valid_queries_compile_and_run(sample_reader: ReadOnlyDatabase) -> None:
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()

    @SETTINGS
    @given(spec=valid_queries())
    def run(spec: dict[str, Any]) -> None:
        TOOL.parse(spec)  # the strategy only makes schema-valid arguments
        try:
            compiled = Compiler().compile(spec)
            result = sample_reader.run(spec)
        except QueryValidationError as error:
            outcomes["rejected"] += 1
            reasons[error.problems[0]["message"].split(";")[0][:40]] += 1
            return
        outcomes["ran"] += 1
        limit = spec["limit"] or 100
        assert result.row_count == len(result.rows) <= min(limit, 1000)
        assert result.columns == compiled.labels
        if spec["columns"]:
            assert len(result.columns) == len(spec["columns"])
        for row in result.rows:
            assert len(row) == len(result.columns)
            for value, kind in zip(row, compiled.kinds, strict=True):
                assert value is None or isinstance(value, KIND_TYPES[kind]), (value, kind)
                if isinstance(value, float):
                    assert math.isfinite(value)
        json.dumps(result.to_json())  # what goes back to the model is plain JSON

    run()
    total = outcomes["ran"] + outcomes["rejected"]
    assert total >= 30
    assert outcomes["rejected"] < total / 2, f"too many rejected on purpose: {reasons}"


# -- invalid input is a QueryValidationError -------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
TOP_KEYS = ["table_name", "columns", "conditions", "order_by", "limit"]
ITEM_KEYS = {
    "columns": ["column", "aggregate", "time_grain"],
    "conditions": ["column", "aggregate", "operator", "value"],
    "order_by": ["column", "aggregate", "direction"],
}


ODD_NUMBERS = st.sampled_from(
    [2**31, -(2**31) - 1, 2**63, 10**30, 1e300, -1e300, float("nan"), float("inf"), 1.5, 0.1]
)


@st.composite
def misfit_conditions(draw: st.DrawFn) -> dict[str, Any]:
    """A condition that names real columns and operators, with a value or aggregate that may not
    fit: any aggregate on any column, a column compared with any other, extreme numbers."""
    column = draw(st.sampled_from(sorted(COLUMNS)))
    aggregate = draw(st.none() | st.sampled_from([a.value for a in Aggregate]))
    operator = draw(st.sampled_from([o.value for o in Operator]))
    value = draw(
        st.fixed_dictionaries({"column_name": st.sampled_from(sorted(COLUMNS))})
        | ODD_NUMBERS
        | scalar_values(COLUMNS[draw(st.sampled_from(sorted(COLUMNS)))])
        | st.lists(ODD_NUMBERS | st.text(max_size=4), max_size=2)
        | st.booleans()
    )
    return cond(column, operator, value, aggregate)


@st.composite
def mutated_queries(draw: st.DrawFn) -> dict[str, Any] | list[Any] | Any:
    spec = draw(valid_queries())
    mutation = draw(
        st.sampled_from(
            [
                "replace_top",
                "drop_top",
                "extra_top",
                "replace_item",
                "drop_item_key",
                "bad_column",
                "bad_value",
                "not_an_object",
                "semantic",
                "semantic",
                "semantic",
            ]
        )
    )
    if mutation == "semantic":  # schema-valid, but the value or aggregate does not fit the column
        spec["conditions"].append(draw(misfit_conditions()))
        return spec
    if mutation == "replace_top":
        spec[draw(st.sampled_from(TOP_KEYS))] = draw(JSON_VALUES)
    elif mutation == "drop_top":
        del spec[draw(st.sampled_from(TOP_KEYS))]
    elif mutation == "extra_top":
        spec[draw(st.sampled_from(["group_by", "sql", "having", "offset", "Limit"]))] = draw(
            JSON_VALUES
        )
    elif mutation in ("replace_item", "drop_item_key", "bad_column", "bad_value"):
        part = draw(st.sampled_from(list(ITEM_KEYS)))
        if not spec[part]:
            spec[part] = [draw(JSON_VALUES)]
            return spec
        item = spec[part][draw(st.integers(0, len(spec[part]) - 1))]
        if mutation == "replace_item":
            item[draw(st.sampled_from(ITEM_KEYS[part]))] = draw(JSON_VALUES)
        elif mutation == "drop_item_key":
            del item[draw(st.sampled_from(ITEM_KEYS[part]))]
        elif mutation == "bad_column":
            item["column"] = draw(
                st.sampled_from(["invoices.total", "orders", "orders.price", "ORDERS.ID", ""])
                | st.text(max_size=15)
            )
        else:
            spec["conditions"].append(
                {
                    "column": draw(st.sampled_from(sorted(COLUMNS))),
                    "aggregate": None,
                    "operator": draw(st.sampled_from(["=", "<", "in", "contains"])),
                    "value": draw(JSON_VALUES | st.integers(min_value=2**63) | st.just([])),
                }
            )
    else:
        return draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
    return spec


def test_invalid_arguments_raise_only_query_validation_error(
    sample_reader: ReadOnlyDatabase,
) -> None:
    outcomes: Counter[str] = Counter()

    @SETTINGS
    @given(spec=mutated_queries(), as_json=st.booleans())
    def run(spec: Any, as_json: bool) -> None:
        arguments = json.dumps(spec) if as_json else spec
        try:
            sample_reader.run(arguments)
        except QueryValidationError as error:
            outcomes["rejected"] += 1
            assert str(error).startswith("Invalid query: ")
            assert "\n" not in str(error)
            assert error.problems and all("message" in p for p in error.problems)
        else:
            outcomes["ran"] += 1  # some mutations happen to stay valid (e.g. a new limit)

    run()
    assert outcomes["rejected"] > outcomes["ran"]


@SETTINGS
@given(text=st.text(max_size=60))
def test_random_text_is_a_query_validation_error(text: str) -> None:
    with pytest.raises(QueryValidationError):
        TOOL.parse(text)


@SETTINGS
@given(prefix=st.integers(min_value=1, max_value=120))
def test_truncated_json_is_a_query_validation_error(prefix: int) -> None:
    spec = query(
        "orders", [field("orders.status")], [cond("orders.status", "=", "shipped")], limit=5
    )
    text = json.dumps(spec)
    with pytest.raises(QueryValidationError) as caught:
        TOOL.parse(text[: min(prefix, len(text) - 1)])
    assert "JSON" in str(caught.value)


def test_enum_members_cover_the_schema() -> None:
    # The strategies above sample from these; if the tool grows, they grow with it.
    assert {a.value for a in Aggregate} == {
        "count", "count_distinct", "sum", "avg", "min", "max",
        "median", "p25", "p75", "p90", "p95", "p99",
    }  # fmt: skip
    assert set(TABLES) == {t.value for t in TOOL.Table}  # type: ignore[attr-defined]
    assert set(COLUMNS) == {c.value for c in TOOL.Column}  # type: ignore[attr-defined]


# -- the analysts' parts: any mix compiles and runs, or is a clear validation error ------------

KEYS = ["orders.id", "customers.id", "products.id", "order_items.order_id"]
NUMERIC_COLUMNS = sorted(q for q, info in COLUMNS.items() if info.kind in NUMERIC)
DATE_COLUMNS = sorted(q for q, info in COLUMNS.items() if info.kind in CALENDAR)


@st.composite
def analyst_field(draw: st.DrawFn, field_spec: dict[str, Any]) -> dict[str, Any]:
    """A field with some of the newer parts added (days_from, filter, share, change, ...)."""
    spec = dict(field_spec)
    info = COLUMNS[spec["column"]]
    if info.kind in CALENDAR and draw(st.booleans()):
        spec["days_from"] = draw(st.sampled_from(DATE_COLUMNS))
        spec["time_grain"] = None
    if spec["aggregate"] is not None:
        if draw(st.integers(0, 2)) == 0 and info.kind in NUMERIC:
            spec["aggregate"] = draw(st.sampled_from(["median", "p90"]))
        if draw(st.booleans()):
            spec["filter"] = [draw(conditions(False))]
        spec["share"] = draw(st.sampled_from([None, None, "group", "total"]))
        spec["change"] = draw(st.sampled_from([None, None, None, "difference", "percent"]))
        if draw(st.integers(0, 3)) == 0:
            spec["average_per"] = draw(st.sampled_from(KEYS))
    return spec


@st.composite
def compared_with_an_aggregate(draw: st.DrawFn) -> dict[str, Any]:
    column = draw(st.sampled_from(NUMERIC_COLUMNS))
    value: dict[str, Any] = {
        "column_name": column,
        "aggregate": draw(st.sampled_from(["avg", "max"])),
    }
    if draw(st.booleans()):
        value["within"] = draw(st.sampled_from(sorted(COLUMNS)))
    aggregate = draw(st.sampled_from([None, None, "sum"]))
    return {"column": column, "aggregate": aggregate, "operator": ">", "value": value}


@st.composite
def analyst_queries(draw: st.DrawFn) -> dict[str, Any]:
    spec = draw(valid_queries())
    spec["columns"] = [draw(analyst_field(f)) for f in spec["columns"]]
    if draw(st.booleans()):
        spec["any_of"] = draw(st.lists(conditions(False), min_size=1, max_size=2))
    if draw(st.integers(0, 3)) == 0:
        spec["conditions"] = [*spec["conditions"], draw(compared_with_an_aggregate())]
    if draw(st.integers(0, 3)) == 0 and spec["order_by"]:
        grouped = [c["column"] for c in spec["columns"] if c["aggregate"] is None]
        column = draw(st.sampled_from(grouped or sorted(COLUMNS)))
        spec["per_group_limit"] = {"column": column, "limit": draw(st.integers(1, 3))}
    return spec


def test_analyst_parts_compile_and_run(sample_reader: ReadOnlyDatabase) -> None:
    outcomes: Counter[str] = Counter()

    @SETTINGS
    @given(spec=analyst_queries())
    def run(spec: dict[str, Any]) -> None:
        TOOL.parse(spec)
        try:
            compiled = Compiler().compile(spec)
            result = sample_reader.run(spec)
        except QueryValidationError:
            outcomes["rejected"] += 1
            return
        outcomes["ran"] += 1
        assert result.columns == compiled.labels
        for row in result.rows:
            for value, kind in zip(row, compiled.kinds, strict=True):
                assert value is None or isinstance(value, KIND_TYPES[kind]), (value, kind)
        json.dumps(result.to_json())

    run()
    assert outcomes["ran"] >= 10, outcomes
