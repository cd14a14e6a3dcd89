"""Bad tool calls: each ends in a QueryValidationError whose message names the field and says what
is allowed (values or format). No other exception type escapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from query_builders import cond, field, query, sort

from nl2sql import schema
from nl2sql.compiler import Compiler
from nl2sql.errors import NL2SQLError, QueryValidationError
from nl2sql.execute import ReadOnlyDatabase


def with_extra(**extra: Any) -> dict[str, Any]:
    return {**query(), **extra}


def without(key: str) -> dict[str, Any]:
    spec = query()
    del spec[key]
    return spec


STATUSES = ", ".join(schema.ORDER_STATUSES)

# name: (arguments, field named in the message, texts the message must hold)
CASES: dict[str, tuple[Any, str, list[str]]] = {
    "malformed JSON": ('{"table_name": "orders", "columns": [', "arguments", ["not valid JSON"]),
    "JSON that is not an object": ("[1, 2]", "arguments", ["should be an object", "[1, 2]"]),
    "empty text": ("", "arguments", ["not valid JSON"]),
    "unknown top-level field": (
        with_extra(group_by=["orders.status"]),
        "group_by",
        ["unknown field; remove it"],
    ),
    "unknown field in a column": (
        query(columns=[{**field("orders.id"), "alias": "n"}]),
        "columns[0].alias",
        ["unknown field"],
    ),
    "missing field": (without("order_by"), "order_by", ["required field is missing", "use []"]),
    "unknown table": (
        query(table="invoices"),
        "table_name",
        ["'invoices'", "'customers'", "'order_items'", "'orders'", "'products'"],
    ),
    "column of another schema": (
        query(columns=[field("invoices.total")]),
        "columns[0].column",
        ["unknown column 'invoices.total'"],
    ),
    "unknown column of a known table": (
        query(columns=[field("orders.amount")]),
        "columns[0].column",
        ["unknown column 'orders.amount'", "Columns of orders:", "total_amount"],
    ),
    "misspelled column": (
        query(conditions=[cond("customers.contry", "=", "Germany")]),
        "conditions[0].column",
        ["Did you mean 'customers.country'?"],
    ),
    "unknown status": (
        query(conditions=[cond("orders.status", "=", "deliverd")]),
        "conditions[0]",
        ["'deliverd' is not a valid orders.status", f"Allowed: {STATUSES}.", "Did you mean"],
    ),
    "unknown status in a list": (
        query(conditions=[cond("orders.status", "in", ["shipped", "lost"])]),
        "conditions[0]",
        ["'lost'", f"Allowed: {STATUSES}."],
    ),
    "unknown operator": (
        query(conditions=[cond("orders.id", "like", 1)]),
        "conditions[0].operator",
        ["'like'", "'contains'", "'not in'"],
    ),
    "unknown aggregate": (
        query(columns=[field("orders.total_amount", "average")]),
        "columns[0].aggregate",
        ["'average'", "'avg'", "'count_distinct'"],
    ),
    "unknown time grain": (
        query(columns=[field("orders.ordered_at", grain="hour")]),
        "columns[0].time_grain",
        ["'hour'", "'day'", "'quarter'"],
    ),
    "unknown direction": (
        query(order_by=[sort("orders.id", "up")]),
        "order_by[0].direction",
        ["'up'", "'asc'", "'desc'"],
    ),
    "list for =": (
        query(conditions=[cond("orders.status", "=", ["shipped", "delivered"])]),
        "conditions[0]",
        ["'=' takes one value, not a list", "use 'in'"],
    ),
    "scalar for in": (
        query(conditions=[cond("orders.status", "in", "shipped")]),
        "conditions[0]",
        ["'in' needs a non-empty list"],
    ),
    "empty list for not in": (
        query(conditions=[cond("orders.customer_id", "not in", [])]),
        "conditions[0]",
        ["'not in' needs a non-empty list"],
    ),
    "missing value for =": (
        query(conditions=[cond("orders.status", "=", None)]),
        "conditions[0]",
        ["needs a value", "'is null'"],
    ),
    "date that does not parse": (
        query(conditions=[cond("orders.expected_delivery_date", ">", "2024-13-45")]),
        "conditions[0]",
        ["orders.expected_delivery_date is a date", "YYYY-MM-DD", "'2024-13-45'"],
    ),
    "words for a timestamp": (
        query(conditions=[cond("orders.ordered_at", ">=", "last week")]),
        "conditions[0]",
        ["orders.ordered_at is a UTC timestamp", "YYYY-MM-DD", "'last week'"],
    ),
    "timestamp for a date column": (
        query(conditions=[cond("orders.expected_delivery_date", "=", "2024-01-07T10:00:00")]),
        "conditions[0]",
        ["YYYY-MM-DD"],
    ),
    "a number for a timestamp": (
        query(conditions=[cond("orders.ordered_at", ">", 20240101)]),
        "conditions[0]",
        ["orders.ordered_at is a UTC timestamp", "20240101"],
    ),
    "string for a numeric column": (
        query(conditions=[cond("orders.total_amount", ">", "100")]),
        "conditions[0]",
        ["orders.total_amount is a number (e.g. 250 or 19.99)", "'100'"],
    ),
    "string for an integer column": (
        query(conditions=[cond("order_items.quantity", ">=", "two")]),
        "conditions[0]",
        ["order_items.quantity is a whole number", "'two'"],
    ),
    "fraction for an integer column": (
        query(conditions=[cond("orders.id", "=", 1.5)]),
        "conditions[0]",
        ["orders.id is a whole number", "1.5"],
    ),
    "integer out of range": (
        query(conditions=[cond("orders.id", "<", 2**40)]),
        "conditions[0]",
        ["out of range", "2147483647"],
    ),
    "number for a text column": (
        query(conditions=[cond("customers.country", "=", 5)]),
        "conditions[0]",
        ["customers.country is text", "as a string"],
    ),
    "boolean for a numeric column": (
        query(conditions=[cond("orders.total_amount", ">", True)]),
        "conditions[0]",
        ["orders.total_amount does not take true/false"],
    ),
    "negative limit": (query(limit=-5), "limit", ["positive whole number or null", "-5"]),
    "zero limit": (query(limit=0), "limit", ["positive whole number or null", "not 0"]),
    "limit that is not a number": (query(limit="ten"), "limit", ["'ten'"]),
    "sum over a text column": (
        query(columns=[field("customers.name", "sum")]),
        "columns[0]",
        ["sum needs a numeric column", "customers.name is text", "count or min/max"],
    ),
    "avg over a timestamp": (
        query(columns=[field("orders.status"), field("orders.ordered_at", "avg")]),
        "columns[1]",
        ["avg needs a numeric column", "orders.ordered_at is datetime"],
    ),
    "sum over text in a HAVING": (
        query(
            columns=[field("customers.country")],
            conditions=[cond("customers.name", ">", "5", aggregate="sum")],
        ),
        "conditions[0]",
        ["sum needs a numeric column", "customers.name is text"],
    ),
    "sum over text in order_by": (
        query(
            columns=[field("customers.country")],
            order_by=[sort("customers.name", "desc", aggregate="sum")],
        ),
        "order_by[0]",
        ["sum needs a numeric column"],
    ),
    "time grain on a non-date column": (
        query(columns=[field("orders.status", grain="month"), field("orders.id", "count")]),
        "columns[0]",
        ["time_grain month needs a date or datetime column", "orders.status is text"],
    ),
    "time grain and aggregate together": (
        query(columns=[field("orders.ordered_at", "max", "month")]),
        "columns[0]",
        ["either time_grain", "or an aggregate"],
    ),
    "sort by a non-grouped column in an aggregate query": (
        query(
            columns=[field("orders.status"), field("orders.id", "count")],
            order_by=[sort("orders.ordered_at", "desc")],
        ),
        "order_by[0]",
        ["orders.ordered_at is neither grouped nor aggregated", "add it to columns"],
    ),
    "contains on a number column": (
        query(conditions=[cond("orders.total_amount", "contains", "12")]),
        "conditions[0]",
        ["'contains' works on text", "orders.total_amount is number"],
    ),
    "contains on a date column": (
        query(conditions=[cond("orders.ordered_at", "contains", "2024")]),
        "conditions[0]",
        ["'contains' works on text"],
    ),
    "DynamicValue text against timestamp": (
        query(conditions=[cond("orders.status", ">", {"column_name": "orders.ordered_at"})]),
        "conditions[0]",
        ["cannot compare orders.status (text) with orders.ordered_at (datetime)"],
    ),
    "DynamicValue number against text": (
        query(conditions=[cond("orders.total_amount", "=", {"column_name": "customers.name"})]),
        "conditions[0]",
        ["cannot compare orders.total_amount (number) with customers.name (text)"],
    ),
    "DynamicValue with in": (
        query(conditions=[cond("orders.shipped_at", "in", {"column_name": "orders.ordered_at"})]),
        "conditions[0]",
        ["'in' cannot compare two columns", "=, !=, >, >=, <, <="],
    ),
    "DynamicValue naming an unknown column": (
        query(conditions=[cond("orders.shipped_at", ">", {"column_name": "orders.sent_at"})]),
        "conditions[0].value",
        ["'orders.sent_at'"],
    ),
    "DynamicValue in a HAVING": (
        query(
            columns=[field("orders.status")],
            conditions=[
                cond("orders.total_amount", ">", {"column_name": "orders.id"}, aggregate="sum")
            ],
        ),
        "conditions[0]",
        ["cannot compare with orders.id", "not reachable"],
    ),
    "aggregating two tables through a repeating join": (
        query(
            columns=[
                field("products.category"),
                field("orders.total_amount", "sum"),
                field("order_items.line_total", "sum"),
            ]
        ),
        "columns",
        ["once per matching row", "Aggregate columns of one table per query"],
    ),
    "columns is not a list": (query(columns="orders.id"), "columns", ["list"]),  # type: ignore[arg-type]
    "condition is not an object": (
        query(conditions=["orders.status = 'shipped'"]),  # type: ignore[list-item]
        "conditions[0]",
        ["Condition"],
    ),
    # -- what analysts ask every day --
    "a share of the unfiltered aggregate with no filter": (
        query(columns=[field("orders.id", "count", share="group")]),
        "columns[0].share",
        ["give a filter", "share total"],
    ),
    "a share with no aggregate": (
        query(columns=[field("orders.id", share="total")]),
        "columns[0]",
        ["share needs an aggregate"],
    ),
    "a misspelt share": (
        query(columns=[field("orders.id", "count", share="grup")]),
        "columns[0].share",
        ["'group'", "'total'", "Did you mean 'group'?"],
    ),
    "a filter with an aggregate": (
        query(columns=[field("orders.id", "count", filter=[cond("orders.id", ">", 3, "count")])]),
        "columns[0].filter[0]",
        ["remove its aggregate"],
    ),
    "a filter on a table the measured rows have many of": (
        query(
            columns=[field("orders.id", "count", filter=[cond("products.category", "=", "Books")])]
        ),
        "columns[0].filter[0]",
        ["products.category is not on a table each order row has one of"],
    ),
    "a change with no time grain": (
        query(columns=[field("orders.status"), field("orders.id", "count", change="difference")]),
        "columns[1].change",
        ["group by a date column with a time_grain"],
    ),
    "days from a column that is not a date": (
        query(columns=[field("orders.delivered_at", "avg", days_from="orders.total_amount")]),
        "columns[0].days_from",
        ["days_from counts days between two dates", "orders.total_amount is number"],
    ),
    "days compared with a column": (
        query(
            conditions=[
                cond(
                    "orders.delivered_at",
                    ">",
                    {"column_name": "orders.shipped_at"},
                    days_from="orders.ordered_at",
                )
            ]
        ),
        "conditions[0]",
        ["days_from compares with a number of days"],
    ),
    "between with one value": (
        query(conditions=[cond("orders.total_amount", "between", [100])]),
        "conditions[0]",
        ["'between' needs [low, high]"],
    ),
    "between with a value that does not fit": (
        query(conditions=[cond("orders.ordered_at", "between", ["2025-01-01", "soon"])]),
        "conditions[0]",
        ["YYYY-MM-DD", "'soon'"],
    ),
    "an any_of condition with a bad value": (
        query(any_of=[cond("orders.status", "=", "lost")]),
        "any_of[0]",
        ["'lost' is not a valid orders.status", "Did you mean 'lost'"][:1],
    ),
    "any_of mixing rows and groups": (
        query(
            columns=[field("orders.status"), field("orders.id", "count")],
            any_of=[cond("orders.status", "=", "returned"), cond("orders.id", ">", 5, "count")],
        ),
        "any_of",
        ["mixes conditions with and without an aggregate"],
    ),
    "a per-group limit with no order": (
        query(
            "products",
            [field("products.name")],
            per_group_limit={"column": "products.category", "limit": 2},
        ),
        "per_group_limit",
        ["needs order_by"],
    ),
    "a per-group limit on a column that is not grouped": (
        query(
            "products",
            [field("products.category"), field("products.id", "count")],
            [],
            [sort("products.id", "desc", "count")],
            per_group_limit={"column": "products.name", "limit": 1},
        ),
        "per_group_limit.column",
        ["products.name is not one of the grouped columns"],
    ),
    "within without an aggregate": (
        query(
            conditions=[
                cond(
                    "orders.total_amount",
                    ">",
                    {"column_name": "orders.total_amount", "within": "orders.status"},
                )
            ]
        ),
        "conditions[0]",
        ["within needs an aggregate"],
    ),
    "within on a table the compared rows have many of": (
        query(
            "customers",
            [field("customers.id")],
            [
                cond(
                    "customers.id",
                    ">",
                    {"column_name": "customers.id", "aggregate": "avg", "within": "orders.status"},
                )
            ],
        ),
        "conditions[0]",
        ["within must be a column of customers"],
    ),
    "an average of text": (
        query(
            conditions=[
                cond(
                    "orders.total_amount", ">", {"column_name": "orders.status", "aggregate": "avg"}
                )
            ]
        ),
        "conditions[0]",
        ["avg needs a numeric column; orders.status is text"],
    ),
    "two averages per different columns": (
        query(
            columns=[
                field("orders.total_amount", "sum", average_per="customers.id"),
                field("orders.id", "count"),
            ]
        ),
        "columns",
        ["every aggregate must be averaged per customers.id"],
    ),
}


@pytest.mark.parametrize(("arguments", "where", "texts"), list(CASES.values()), ids=list(CASES))
def test_bad_input_is_a_clear_validation_error(
    arguments: Any, where: str, texts: list[str]
) -> None:
    with pytest.raises(QueryValidationError) as caught:
        Compiler().compile(arguments)
    error = caught.value
    message = str(error)
    assert message.startswith("Invalid query: ")
    assert "\n" not in message, "one line for a person"
    assert f"{where}: " in message, f"the message must name {where}: {message}"
    fields = [p.get("field") for p in error.problems]
    assert where in fields, fields
    for text in texts:
        assert text in message
    assert "Traceback" not in message and "pydantic" not in message.lower()


@pytest.mark.parametrize("name", ["malformed JSON", "unknown status", "integer out of range"])
def test_the_same_errors_come_as_json_text(name: str) -> None:
    arguments, where, texts = CASES[name]
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    with pytest.raises(QueryValidationError) as caught:
        Compiler().compile(text)
    assert f"{where}: " in str(caught.value)
    for expected in texts:
        assert expected in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    spec = query(
        columns=[field("customers.name", "sum"), field("orders.status", grain="week")],
        conditions=[
            cond("orders.status", "=", "lost"),
            cond("orders.total_amount", ">", "lots"),
        ],
        limit=0,
    )
    with pytest.raises(QueryValidationError) as caught:
        Compiler().compile(spec)
    fields = {p["field"] for p in caught.value.problems}
    assert {"columns[0]", "columns[1]", "conditions[0]", "conditions[1]", "limit"} <= fields


def test_schema_errors_list_every_bad_field() -> None:
    spec = query(table="invoices", columns=[field("orders.idd")], limit="x")
    with pytest.raises(QueryValidationError) as caught:
        Compiler().compile(spec)
    fields = {p["field"] for p in caught.value.problems}
    assert {"table_name", "columns[0].column", "limit"} <= fields


def test_validation_error_is_an_nl2sql_error_with_exit_code_2() -> None:
    with pytest.raises(NL2SQLError) as caught:
        Compiler().compile("{")
    assert isinstance(caught.value, QueryValidationError)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "name",
    [
        "sum over text in a HAVING",
        "DynamicValue text against timestamp",
        "integer out of range",
        "unknown status",
        "contains on a number column",
    ],
)
def test_bad_input_never_reaches_the_database(sample_reader: ReadOnlyDatabase, name: str) -> None:
    # These once slipped past the compiler and failed in PostgreSQL: they must stop before it.
    arguments = CASES[name][0]
    with pytest.raises(QueryValidationError):
        sample_reader.run(arguments)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    spec = query(conditions=[cond("orders.total_amount", "<", value)])
    with pytest.raises(QueryValidationError) as caught:
        Compiler().compile(spec)
    assert "orders.total_amount is a number" in str(caught.value)
    text = json.dumps(spec)  # NaN / Infinity, as some JSON writers emit them
    with pytest.raises(QueryValidationError):
        Compiler().compile(text)


def test_an_invented_key_is_quoted_never_a_new_line() -> None:
    from nl2sql.query import TOOL

    with pytest.raises(QueryValidationError) as caught:
        TOOL.parse(
            {
                "table_name": "customers",
                "columns": [{"\n": None}],
                "conditions": [],
                "order_by": [],
                "limit": None,
            }
        )
    assert "\n" not in str(caught.value) and 'columns[0]."\\n": unknown field' in str(caught.value)


# -- bounds: a Query may not ask for everything at once -------------------------------------------


def test_too_many_conditions_or_list_values_are_one_clear_error() -> None:
    from nl2sql.compiler import MAX_LIST_VALUES, QUERY_LIMITS

    many = [cond("orders.id", ">", i) for i in range(QUERY_LIMITS["conditions"] + 1)]
    with pytest.raises(QueryValidationError, match=r"conditions: has 31 items; at most 30"):
        Compiler().compile(query("orders", [field("orders.id")], many))
    values = list(range(MAX_LIST_VALUES + 1))
    with pytest.raises(QueryValidationError, match=r"conditions\[0\].value: lists 501 values"):
        Compiler().compile(query("orders", [field("orders.id")], [cond("orders.id", "in", values)]))
    # A field's filter holds conditions too: the same bounds.
    counted = field("orders.id", "count", filter=many)
    with pytest.raises(QueryValidationError, match=r"columns\[0\].filter: has 31 items"):
        Compiler().compile(query("orders", [counted]))
    counted = field("orders.id", "count", filter=[cond("orders.id", "in", values)])
    with pytest.raises(
        QueryValidationError, match=r"columns\[0\].filter\[0\].value: lists 501 values"
    ):
        Compiler().compile(query("orders", [counted]))
    alternatives = [cond("orders.id", ">", i) for i in range(QUERY_LIMITS["any_of"] + 1)]
    with pytest.raises(QueryValidationError, match=r"any_of: has 31 items"):
        Compiler().compile(query("orders", [field("orders.id")], any_of=alternatives))


def test_oversized_arguments_are_refused_before_parsing() -> None:
    from nl2sql.query import MAX_ARGUMENT_CHARS, builtin_tool

    text = json.dumps(query("orders", [field("orders.id")])) + " " * MAX_ARGUMENT_CHARS
    with pytest.raises(QueryValidationError, match="a Query is at most"):
        builtin_tool().parse(text)
