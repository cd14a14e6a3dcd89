"""The Query tool: strict, typed Pydantic models the model fills instead of writing SQL.

The enums are built from the schema (``nl2sql.schema``), minus any hidden columns, so the model
can only name tables and columns that exist. ``build_tool(catalog)`` makes the set of models for
one database; the module-level names (``Query``, ``Column``, ...) are nl2sql's own schema's tool,
built on first use.

Example:
    >>> import openai
    >>> tool = builtin_tool()
    >>> tool = openai.pydantic_function_tool(tool.Query, name="Query", description=tool.description)
    >>> tool["function"]["strict"]
    True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic import Field as PydanticField

from nl2sql.catalog import Catalog, builtin_catalog
from nl2sql.errors import ConfigError, QueryValidationError


class Operator(StrEnum):
    eq = "="
    ne = "!="
    gt = ">"
    ge = ">="
    lt = "<"
    le = "<="
    in_ = "in"
    not_in = "not in"
    contains = "contains"
    is_null = "is null"
    is_not_null = "is not null"
    between = "between"


class OrderBy(StrEnum):
    asc = "asc"
    desc = "desc"


class Aggregate(StrEnum):
    count = "count"  # type: ignore[assignment]  # shadows str.count; the tool's name for it
    count_distinct = "count_distinct"
    sum = "sum"
    avg = "avg"
    min = "min"
    max = "max"
    median = "median"
    p25 = "p25"
    p75 = "p75"
    p90 = "p90"
    p95 = "p95"
    p99 = "p99"


class TimeGrain(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


class ShareOf(StrEnum):
    group = "group"  # the filtered aggregate over the same aggregate unfiltered: a rate
    total = "total"  # the group's value over all groups' together: a share of the total


class Change(StrEnum):
    difference = "difference"  # this period's value minus the previous period's
    percent = "percent"  # the same, as a fraction of the previous period's


LIST_OPERATORS = frozenset({Operator.in_, Operator.not_in})
MAX_ARGUMENT_CHARS = 64_000  # a real Query is a few hundred characters
NULL_OPERATORS = frozenset({Operator.is_null, Operator.is_not_null})


@dataclass(frozen=True)
class ColumnInfo:
    """What the tool knows about one exposed column."""

    qualified: str  # "orders.status"
    table: str
    name: str
    kind: str  # "integer", "number", "text", "date", "datetime"
    description: str
    computed: bool = False
    allowed_values: tuple[str, ...] = ()
    phrase: str = ""  # what people call it: "customer country"
    verb: str | None = None  # for a date: what happened then, "placed"
    money: bool = False
    key: bool = False  # the primary key: counting it counts the table's rows
    counts_rows: bool = False  # a key column that is never null: count() of it counts rows
    words: tuple[str, ...] = ()  # other names people use for it (the offline model reads them)
    hint: str = ""  # a note for the model, after the description

    @classmethod
    def of(
        cls,
        table: str,
        name: str,
        type_: Any,
        description: str,
        info: Any,
        *,
        computed: bool = False,
        key: bool = False,
        counts_rows: bool = False,
    ) -> ColumnInfo:
        """A column described from its schema entry (type, comment and ``info``)."""
        return cls(
            f"{table}.{name}",
            table,
            name,
            column_kind(type_),
            description,
            computed=computed,
            allowed_values=tuple(info.get("values", ())),
            phrase=info.get("phrase") or name.replace("_", " "),
            verb=info.get("verb"),
            money=info.get("unit") == "money",
            key=key,
            counts_rows=counts_rows or key,
            words=tuple(info.get("words", ())),
            hint=info.get("hint", ""),
        )


def column_kind(type_: Any) -> str:
    python_type = type_.python_type
    return {
        int: "integer",
        float: "number",
        str: "text",
    }.get(python_type) or {
        "Decimal": "number",
        "datetime": "datetime",
        "date": "date",
    }[python_type.__name__]


def describe_columns(catalog: Catalog) -> dict[str, ColumnInfo]:
    """Every exposed column of the catalog, stored and computed, keyed by its qualified name."""
    infos: dict[str, ColumnInfo] = {}
    for name in catalog.exposed:
        table = catalog.tables[name]
        single_key = len(table.primary_key.columns) == 1
        for column in table.columns:
            info = ColumnInfo.of(
                name,
                column.name,
                column.type,
                column.comment or "",
                column.info,
                key=column.primary_key and single_key,
                counts_rows=column.primary_key,
            )
            infos[info.qualified] = info
    for computed in catalog.computed:
        info = ColumnInfo.of(
            computed.table,
            computed.name,
            computed.type,
            computed.description,
            computed.info,
            computed=True,
        )
        infos[info.qualified] = info
    return {name: info for name, info in infos.items() if name not in catalog.hidden_columns}


@dataclass(frozen=True)
class QueryTool:
    """One configuration of the tool: its enums, its models and what the model is told."""

    columns: dict[str, ColumnInfo]
    Table: type[Enum]
    Column: type[Enum]
    Field: type[BaseModel]
    DynamicValue: type[BaseModel]
    Condition: type[BaseModel]
    Sort: type[BaseModel]
    PerGroupLimit: type[BaseModel]
    Query: type[BaseModel]
    description: str
    catalog: Catalog
    nouns: dict[str, tuple[str, str]] = dc_field(default_factory=dict)  # table -> row, rows

    def row_nouns(self, table: str) -> tuple[str, str]:
        """What one row and several rows of a table are called: ("order", "orders")."""
        return self.nouns.get(table, (table, table))

    def parse(self, arguments: str | dict[str, Any]) -> BaseModel:
        """Validate tool-call arguments (JSON text or a dict) into a Query.

        Raises QueryValidationError naming every bad field, with allowed values and a
        "did you mean" for near-miss names.
        """
        size = len(arguments) if isinstance(arguments, str) else None
        if size is not None and size > MAX_ARGUMENT_CHARS:
            raise QueryValidationError(
                f"Invalid query: the arguments are {size:,} characters; a Query is at most "
                f"{MAX_ARGUMENT_CHARS:,}. Ask for less at once."
            )
        try:
            if isinstance(arguments, str):
                return self.Query.model_validate_json(arguments)
            return self.Query.model_validate(arguments)
        except ValidationError as error:
            raise explain_validation_error(error, self) from None


def _closed(name: str, doc: str, **fields: Any) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        name,
        __config__=ConfigDict(extra="forbid", use_enum_values=False),
        __doc__=doc,
        **fields,
    )


def build_tool(catalog: Catalog | None = None, hidden: Iterable[str] = ()) -> QueryTool:
    """Build the Query tool for a catalog (nl2sql's own schema by default), leaving out the
    hidden qualified columns."""
    if catalog is None:
        catalog = builtin_catalog(hidden)
    elif hidden:
        catalog = catalog.without(hidden)
    columns = describe_columns(catalog)
    table_names = sorted({info.table for info in columns.values()})
    table_enum = StrEnum("Table", {name: name for name in table_names})  # type: ignore[misc]
    column_enum = StrEnum(  # type: ignore[misc]
        "Column", {name.replace(".", "__"): name for name in columns}
    )
    dynamic_model = _dynamic_model(column_enum)
    condition_model = _condition_model(column_enum, dynamic_model)
    field_model = _field_model(column_enum, condition_model)
    sort_model = _sort_model(column_enum)
    per_group_model = _per_group_model(column_enum)
    return QueryTool(
        columns=columns,
        Table=table_enum,
        Column=column_enum,
        Field=field_model,
        DynamicValue=dynamic_model,
        Condition=condition_model,
        Sort=sort_model,
        PerGroupLimit=per_group_model,
        Query=_query_model(
            table_enum, column_enum, field_model, condition_model, sort_model, per_group_model
        ),
        description=tool_description(columns, catalog),
        catalog=catalog,
        nouns=row_nouns(catalog),
    )


def row_nouns(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """Each table's name for its rows, from its ``info`` (the table name when it has none)."""
    return {
        name: (table.info.get("row", name), table.info.get("rows", name))
        for name, table in catalog.tables.items()
    }


def _described(type_: Any, description: str) -> tuple[Any, Any]:
    """A model field: its type and the description the model reads."""
    return (type_, PydanticField(description=description))


def _optional(type_: Any, description: str, empty: Any = None) -> tuple[Any, Any]:
    """A field newer than the first tool: required in the strict schema like every field, but
    a call written before it existed still validates (it means "not used")."""
    if isinstance(empty, list):
        return (type_, PydanticField(default_factory=list, description=description))
    return (type_ | None, PydanticField(default=None, description=description))


def _field_model(column_enum: type[Enum], condition_model: type[BaseModel]) -> type[BaseModel]:
    return _closed(
        "Field",
        "A column to return (table.column); with an aggregate it is computed over the groups.",
        column=(column_enum, ...),  # no description of its own: the enum stays one $ref
        aggregate=_described(Aggregate | None, "Aggregate to apply, or null."),
        time_grain=_described(
            TimeGrain | None,
            "For date/datetime columns: bucket to the first day of the day/week (Monday)/"
            "month/quarter/year, or null.",
        ),
        days_from=_optional(
            column_enum,
            "Use the days from this date to `column` (days_from shipped_at, column "
            "delivered_at: days in transit), or null.",
        ),
        filter=_optional(
            list[condition_model],  # type: ignore[valid-type]
            "Conditions only this aggregate counts (status = returned), [] for all rows.",
            empty=[],
        ),
        share=_optional(
            ShareOf,
            "group: filtered / unfiltered aggregate (return rate); total: value / all groups' "
            "total (category's share of revenue); a fraction; or null.",
        ),
        change=_optional(
            Change,
            "With a time_grain column: minus the previous period's value (difference) or "
            "relative to it (percent), or null.",
        ),
        average_per=_optional(
            column_enum,
            "Aggregate per value of this key, then average (sum total_amount per customers.id: "
            "average spend per customer), or null.",
        ),
    )


def _dynamic_model(column_enum: type[Enum]) -> type[BaseModel]:
    return _closed(
        "DynamicValue",
        "Compare with another column instead of a literal value.",
        column_name=(column_enum, ...),  # the other column, e.g. orders.expected_delivery_date
        aggregate=_optional(
            Aggregate,
            "Compare with this aggregate of it over the rows asked about (avg: above "
            "average), or null.",
        ),
        within=_optional(
            column_enum,
            "With aggregate: only rows sharing this column's value (their category's "
            "average), or null.",
        ),
    )


def _condition_model(column_enum: type[Enum], dynamic_model: type[BaseModel]) -> type[BaseModel]:
    value_type = str | int | float | bool | None | dynamic_model | list[str | int | float]
    return _closed(
        "Condition",
        "A filter: column operator value. Conditions are ANDed; one with an aggregate "
        "filters groups (HAVING).",
        column=(column_enum, ...),  # enums keep no description: each stays one $ref
        aggregate=_described(Aggregate | None, "Aggregate to filter groups on, or null."),
        operator=(Operator, ...),
        value=_described(
            value_type,
            "A string, number or boolean; a list for 'in'/'not in'; [low, high] for 'between' "
            "(inclusive); null for 'is null'/'is not null'; dates as YYYY-MM-DD (a bare date "
            "on a datetime column means that whole day); or a DynamicValue.",
        ),
        days_from=_optional(
            column_enum,
            "Test the days from this date to `column` (days_from ordered_at, column "
            "shipped_at, > 7: over a week to ship), or null.",
        ),
    )


def _sort_model(column_enum: type[Enum]) -> type[BaseModel]:
    return _closed(
        "Sort",
        "Order the rows by a column, optionally aggregated, asc or desc.",
        column=(column_enum, ...),  # enums keep no description: each stays one $ref
        aggregate=_described(Aggregate | None, "Aggregate to sort by, or null."),
        direction=(OrderBy, ...),
    )


def _per_group_model(column_enum: type[Enum]) -> type[BaseModel]:
    return _closed(
        "PerGroupLimit",
        "column: whose values form the groups; limit: rows kept per group.",
        column=(column_enum, ...),  # no description of its own: the enum stays a $ref
        limit=(int, ...),
    )


def _query_model(
    table_enum: type[Enum],
    column_enum: type[Enum],
    field_model: type[BaseModel],
    condition_model: type[BaseModel],
    sort_model: type[BaseModel],
    per_group_model: type[BaseModel],
) -> type[BaseModel]:
    return _closed(
        "Query",
        "A read-only query over the orders database.",
        table_name=_described(
            table_enum, "Base table; other tables are joined along foreign keys automatically."
        ),
        columns=_described(
            list[field_model],  # type: ignore[valid-type]
            "Columns to return; when any has an aggregate, the others are grouped by.",
        ),
        conditions=_described(list[condition_model], "Filters, ANDed."),  # type: ignore[valid-type]
        order_by=_described(list[sort_model], "Sort order."),  # type: ignore[valid-type]
        limit=_described(int | None, "Maximum rows to return, or null for the default."),
        via=_optional(
            list[column_enum],  # type: ignore[valid-type]
            "Foreign-key columns the joins must pass through, when a table is reached more than "
            "one way and the shortest way is not the one meant; [] for the shortest joins.",
            empty=[],
        ),
        any_of=_optional(
            list[condition_model],  # type: ignore[valid-type]
            "Filters ORed together (returned or late), ANDed with conditions; [] for none.",
            empty=[],
        ),
        per_group_limit=_optional(
            per_group_model,
            "The first rows of each group in order_by's order (2 cheapest per category), or null.",
        ),
    )


GENERAL_NOTES = (
    "Rows with no related rows: a condition '<related table key> is null'; other conditions "
    "on that table then say which related rows must not exist.",
)


def tool_description(columns: dict[str, ColumnInfo], catalog: Catalog) -> str:
    """What the model reads about the database: tables, columns, types and allowed values,
    then the catalog's notes (or general ones)."""
    lines = [
        f"Query {catalog.description} (read-only). Fill the fields; never write SQL.",
        "Columns (table.column: type, meaning):",
    ]
    for info in columns.values():
        extra = f" One of: {', '.join(info.allowed_values)}." if info.allowed_values else ""
        hint = f" {info.hint}" if info.hint else ""
        lines.append(f"- {info.qualified}: {info.kind}. {info.description}{extra}{hint}")
    lines.append(" ".join(catalog.notes or GENERAL_NOTES))
    return "\n".join(lines)


def explain_validation_error(error: ValidationError, tool: QueryTool) -> QueryValidationError:
    """Turn Pydantic's report into short problems that name the field and the fix."""
    problems = []
    for item in error.errors(include_url=False):
        where = _location(item["loc"])
        problems.append({"field": where or "arguments", "message": _problem_text(dict(item), tool)})
    # Union members repeat one mistake several times; from_problems keeps each message once.
    return QueryValidationError.from_problems(problems)


def _location(loc: tuple[Any, ...]) -> str:
    where = ""
    for part in loc:
        if isinstance(part, int):
            where += f"[{part}]"
        elif part in ("str", "int", "float", "bool", "list[union[str,int,float]]", "DynamicValue"):
            break  # the union branch pydantic tried: not a place the caller wrote
        else:
            # A key the caller invented is data: quoted and escaped unless it is a plain name.
            name = str(part) if str(part).isidentifier() else json.dumps(str(part))
            where += f".{name}" if where else name
    return where


# Every field is required (strict tools); say what "nothing" looks like for each.
MISSING_HINTS = {
    "columns": "use [] for every column of the base table",
    "conditions": "use [] for no filter",
    "order_by": "use [] for no sorting",
    "limit": "use null for the default page size",
    "via": "use [] for the shortest joins",
    "aggregate": "use null for no aggregate",
    "time_grain": "use null for no time bucket",
    "value": "use null with 'is null' / 'is not null'",
    "days_from": "use null for the column itself",
    "filter": "use [] for every row",
    "share": "use null for the value itself",
    "change": "use null for the value itself",
    "average_per": "use null for one aggregate over all rows",
    "within": "use null for the aggregate over all rows",
    "any_of": "use [] for no alternatives",
    "per_group_limit": "use null for no per-group limit",
}


def _problem_text(item: dict[str, Any], tool: QueryTool) -> str:
    kind, given = item["type"], item.get("input")
    if kind == "json_invalid":
        return f"arguments are not valid JSON ({item['msg']})."
    if kind == "extra_forbidden":
        return "unknown field; remove it."
    if kind == "missing":
        field_name = item["loc"][-1]
        hint = MISSING_HINTS.get(field_name, "give a value")
        if field_name == "table_name":
            hint = "name the base table: " + _one_of([m.value for m in tool.Table])
        return f"required field is missing; {hint}."
    if kind == "enum" and isinstance(given, str):
        return _unknown_name(given, item, tool)
    return f"{item['msg']} (got {given!r})." if given is not None else f"{item['msg']}."


def _one_of(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _unknown_name(given: str, item: dict[str, Any], tool: QueryTool) -> str:
    expected = item.get("ctx", {}).get("expected", "")
    if "." in given or given in tool.columns or any(given in c for c in tool.columns):
        table = given.split(".")[0]
        same_table = [c.split(".", 1)[1] for c in tool.columns if c.startswith(table + ".")]
        message = f"unknown column '{given}'."
        if same_table:
            message += f" Columns of {table}: {', '.join(same_table)}."
        return message + _did_you_mean(given, list(tool.columns))
    allowed = re.findall(r"'([^']*)'", expected)  # pydantic lists them quoted: "'a', 'b' or 'c'"
    return f"'{given}' is not allowed here. Expected {expected}.{_did_you_mean(given, allowed)}"


def _did_you_mean(given: str, names: list[str]) -> str:
    from rapidfuzz import fuzz, process  # only a misspelt name needs it

    guess = process.extractOne(given, names, scorer=fuzz.ratio, score_cutoff=75)
    return f" Did you mean '{guess[0]}'?" if guess else ""


TOOL_NAME = "Query"
HIDDEN_COLUMNS_ENV = "NL2SQL_HIDDEN_COLUMNS"


@lru_cache(maxsize=1)
def builtin_tool() -> QueryTool:
    """The tool for nl2sql's own schema with nothing hidden (built on first use)."""
    return build_tool()


def hidden_columns_from_env() -> tuple[str, ...]:
    """The columns named in NL2SQL_HIDDEN_COLUMNS, sorted."""
    names = [n.strip() for n in os.environ.get(HIDDEN_COLUMNS_ENV, "").split(",") if n.strip()]
    return tuple(sorted(names))


def configured_tool() -> QueryTool:
    """The tool for nl2sql's own schema, minus the columns named in NL2SQL_HIDDEN_COLUMNS.

    Hidden columns vanish from the enums and the description, so the model cannot name them.
    """
    names = hidden_columns_from_env()
    if not names:
        return builtin_tool()
    return _tool_without(names)


@lru_cache(maxsize=8)
def _tool_without(hidden: tuple[str, ...]) -> QueryTool:
    try:
        return build_tool(hidden=hidden)
    except ValueError as error:
        raise ConfigError(
            f"{HIDDEN_COLUMNS_ENV}: {error}. Name columns as table.column, e.g. customers.email."
        ) from None


# The default tool's names (`from nl2sql.query import Query`), built on first use, not at import.
_DEFAULT_NAMES = (
    "Table", "Column", "Field", "DynamicValue", "Condition", "Sort", "PerGroupLimit", "Query"
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "TOOL":
        return builtin_tool()
    if name in _DEFAULT_NAMES:
        return getattr(builtin_tool(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
