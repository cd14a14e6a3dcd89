"""Answer sentences built from a Query (what was understood) and its tool result (the rows)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__ID,
    ORDER_ITEMS__LINE_TOTAL,
    ORDER_ITEMS__QUANTITY,
    ORDER_ITEMS__UNIT_PRICE,
    ORDERS__ID,
    ORDERS__TOTAL_AMOUNT,
    PRODUCTS__ID,
    PRODUCTS__PRICE,
)
from nl2sql.operators import AGGREGATES, PERCENTILES
from nl2sql.query import Aggregate, ColumnInfo, QueryTool
from nl2sql.understood import describe, describe_filters

SHOWN_ROWS = 10
# What an aggregate is called in a sentence.
MEASURE_NAMES = {
    ("sum", ORDERS__TOTAL_AMOUNT): "total order value",
    ("sum", ORDER_ITEMS__LINE_TOTAL): "revenue",
    ("sum", ORDER_ITEMS__QUANTITY): "units sold",
    ("avg", ORDERS__TOTAL_AMOUNT): "average order value",
    ("avg", ORDER_ITEMS__UNIT_PRICE): "average unit price paid",
    ("avg", PRODUCTS__PRICE): "average price",
    ("max", ORDERS__TOTAL_AMOUNT): "highest order total",
    ("min", ORDERS__TOTAL_AMOUNT): "lowest order total",
    ("max", PRODUCTS__PRICE): "highest price",
    ("min", PRODUCTS__PRICE): "lowest price",
}

EXAMPLES = [
    "How many orders were delivered late last month?",
    "Top 5 customers by revenue in 2025",
    "Revenue per category this year",
]


def not_understood(question: str, reason: str = "") -> str:
    """One line: what was not understood (and why, when known), and questions that work."""
    why = f" ({reason})" if reason else ""
    return (
        f'Sorry, I did not understand "{question.strip()}" well enough to query the '
        f"database{why}, and I would rather not guess. I can answer questions like: "
        + "; ".join(f'"{e}"' for e in EXAMPLES)
        + "."
    )


def fmt(info: ColumnInfo | None, value: Any) -> str:
    """A value in a sentence: money in dollars, a timestamp as its day."""
    if value is None:
        return "none"
    if info is not None and info.money and isinstance(value, int | float):
        return f"${value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return value[:10]  # a timestamp: the day is enough in a sentence
    return str(value)


def _label_column(label: str) -> tuple[str | None, str | None, str]:
    """'sum(orders.total_amount)' -> ('sum', None, 'orders.total_amount'); 'month(x)' -> grain."""
    aggregate = grain = None
    if "(" in label:
        outer, inner = label.split("(", 1)
        inner = inner[:-1]
        if outer in AGGREGATES:
            aggregate = outer
            if "(" in inner:
                grain, inner = inner.split("(", 1)
                inner = inner[:-1]
        else:
            grain = outer
        label = inner
    return aggregate, grain, label


@dataclass
class _Result:
    """A tool result read against its query: which columns are measures, which are keys."""

    query: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]
    count: int
    truncated: bool
    labels: list[tuple[str | None, str | None, str]]  # (aggregate, grain, column) per column
    scope: str  # " (the filters, as nl2sql renders them)", or ""
    tool: QueryTool

    @classmethod
    def read(cls, query: dict[str, Any], result: dict[str, Any], tool: QueryTool) -> _Result:
        columns: list[str] = result.get("columns", [])
        rows: list[list[Any]] = result.get("rows", [])
        understood = describe_filters(query, tool)
        return cls(
            tool=tool,
            query=query,
            columns=columns,
            rows=rows,
            count=result.get("row_count", len(rows)),
            truncated=bool(result.get("truncated")),
            labels=[_label_column(c) for c in columns],
            scope=f" ({understood})" if understood else "",
        )

    @property
    def names(self) -> tuple[str, str]:
        return self.tool.row_nouns(self.query.get("table_name", ""))

    def nouns_of(self, column: str) -> tuple[str, str]:
        """What the rows of a column's table are called."""
        info = self.tool.columns.get(column)
        return self.tool.row_nouns(info.table) if info else self.names

    def name(self, column: str) -> str:
        info = self.tool.columns.get(column)
        return info.phrase if info else column

    def is_key(self, column: str) -> bool:
        info = self.tool.columns.get(column)
        return info is not None and info.key

    def fmt(self, column: str, value: Any) -> str:
        return fmt(self.tool.columns.get(column), value)

    @property
    def measures(self) -> list[int]:
        return [i for i, (a, _, _) in enumerate(self.labels) if a]

    @property
    def keys(self) -> list[int]:
        return [i for i, (a, _, _) in enumerate(self.labels) if not a]

    @property
    def order(self) -> list[dict[str, Any]]:
        return self.query.get("order_by") or []

    @property
    def more(self) -> str:
        return "+" if self.truncated else ""


# "did any of my orders ...", "are there any ...", "is there an order ...", "has anyone ...",
# "has Ava ever ordered?": whether something exists, answered yes or no before the rows or the
# count that say so.
YES_NO_RE = re.compile(
    r"^\W*(?:and |so |but |then |ok |okay )?(?:did|do|does|is|are|was|were|has|have|had)\b"
    r".*\b(?:any|anything|anyone|anybody|someone|somebody|something|there|ever)\b",
    re.IGNORECASE,
)


def answer(
    query: dict[str, Any], result: dict[str, Any], tool: QueryTool, question: str = ""
) -> str:
    """A short sentence (or a few lines) from the rows, stating what was understood; a yes/no
    question ("did any ...?", "is there an order ...?") is answered yes or no first."""
    if uses_analyst_parts(query):
        return _analyst_answer(query, result, tool)
    read = _Result.read(query, result, tool)
    sentence = _sentence(read)
    if not (YES_NO_RE.search(question) or _compares_total(query, question)):
        return sentence
    found = _found(read)
    if found is None:
        return sentence
    return f"{'Yes' if found else 'No'}. {sentence}"


# Parts of a Query the sentence templates below do not know: shares, days between dates,
# changes, averages of per-entity totals, ORs, per-group limits, aggregates to compare with.
FIELD_PARTS = ("filter", "share", "change", "average_per", "days_from")


def uses_analyst_parts(query: dict[str, Any]) -> bool:
    fields = query.get("columns") or []
    conditions = query.get("conditions") or []
    return bool(
        any(f.get(part) for f in fields for part in FIELD_PARTS)
        or any(f.get("aggregate") in PERCENTILES for f in fields)
        or any(c.get("days_from") or c.get("operator") == "between" for c in conditions)
        or any(isinstance(c.get("value"), dict) and c["value"].get("aggregate") for c in conditions)
        or query.get("any_of")
        or query.get("per_group_limit")
    )


def _analyst_answer(query: dict[str, Any], result: dict[str, Any], tool: QueryTool) -> str:
    """What was computed, as nl2sql renders it, then the value or the rows."""
    columns: list[str] = result.get("columns", [])
    rows: list[list[Any]] = result.get("rows", [])
    understood = describe(query, tool)
    # The fields in the order of the columns; none asked: every column of the base table.
    fields = query.get("columns") or [{"column": c} for c in columns]
    shown = [[_cell(tool, f, v) for f, v in zip(fields, row, strict=False)] for row in rows]
    if len(rows) == 1 and len(columns) == 1:
        return f"{understood[:1].upper()}{understood[1:]}: {shown[0][0]}."
    if not rows:
        return f"Nothing matched ({understood})."
    lines = [", ".join(row) for row in shown[:SHOWN_ROWS]]
    count = result.get("row_count", len(rows))
    more = f"\n(and {count - SHOWN_ROWS} more)" if count > SHOWN_ROWS else ""
    return (
        f"{understood[:1].upper()}{understood[1:]}:\n"
        + "\n".join(f"- {line}" for line in lines)
        + more
    )


def _cell(tool: QueryTool, field: dict[str, Any], value: Any) -> str:
    """One value of an answer row, read against the field that computed it: shares as %,
    amounts of money in dollars (not counts of them, nor days between dates)."""
    if value is None:
        return fmt(None, value)
    if field.get("share") or field.get("change") == "percent":
        return f"{float(value):.1%}"
    counted = field.get("aggregate") in ("count", "count_distinct") or field.get("days_from")
    return fmt(None if counted else tool.columns.get(field["column"]), value)


# "did we make over $1k?", "was revenue above 5000?": a total compared, answered yes or no.
AUXILIARY_START = re.compile(
    r"^\W*(?:and |so |but |then )?(?:did|do|does|is|was|were|are|has|have|had)\b", re.IGNORECASE
)


def _compares_total(query: dict[str, Any], question: str) -> bool:
    compared = any(c.get("aggregate") for c in query.get("conditions", []))
    plain = [c for c in query.get("columns", []) if not c.get("aggregate")]
    return compared and not plain and bool(AUXILIARY_START.search(question))


def _found(read: _Result) -> bool | None:
    """Whether anything matched: rows of a list, a count above zero; None for other measures."""
    if not read.measures or read.keys:
        return bool(read.rows)
    aggregate = read.labels[read.measures[0]][0]
    if any(c.get("aggregate") for c in read.query.get("conditions", [])):
        # "did we make over $1k?": the total comes back only when it passes the comparison
        return bool(read.rows and read.rows[0][read.measures[0]] is not None)
    if aggregate not in ("count", "count_distinct"):
        return None
    return bool(read.rows and read.rows[0][read.measures[0]])


def _sentence(read: _Result) -> str:
    if read.measures and not read.keys:
        return _one_number(read)
    if not read.rows:
        return f"No {read.names[1]} matched{read.scope}."
    if read.measures:
        return _grouped(read)
    return _plain_rows(read)


def _one_number(read: _Result) -> str:
    aggregate, _, column = read.labels[read.measures[0]]
    value = read.rows[0][read.measures[0]] if read.rows else None
    if aggregate == "count":
        noun = read.nouns_of(column)
        n = int(value or 0)
        return (
            f"There {'is' if n == 1 else 'are'} {n} {noun[0] if n == 1 else noun[1]}{read.scope}."
        )
    what = _measure_name(read, aggregate, column, "sum")
    if aggregate == "count_distinct":
        what = f"number of distinct {read.name(column)} values"
    if value is None and any(c.get("aggregate") for c in read.query.get("conditions", [])):
        return f"The {what} does not meet that condition{read.scope}."
    return f"The {what} is {read.fmt(column, value)}{read.scope}."


def _measure_name(read: _Result, aggregate: str | None, column: str, default: str) -> str:
    return MEASURE_NAMES.get(
        (aggregate or "", column),
        f"{AGGREGATES[Aggregate(aggregate or default)].words} {read.name(column)}",
    )


# What a group is called in "The 3 <groups> with the highest ...".
GROUP_PLURALS = {
    "customer": "customers",
    "product": "products",
    "category": "categories",
    "customer country": "countries",
    "customer city": "cities",
    "status": "statuses",
}
HIDDEN_KEYS = (CUSTOMERS__ID, PRODUCTS__ID)  # the name beside them says it


def _grouped(read: _Result) -> str:
    measure = read.measures[0]
    aggregate, _, column = read.labels[measure]
    what = _measure_name(read, aggregate, column, "count")
    if aggregate == "count":
        what = f"number of {read.nouns_of(column)[1]}"
    lines = [
        f"{_group_key(read, row)}: {read.fmt(read.labels[measure][2], row[measure])}"
        for row in read.rows[:SHOWN_ROWS]
    ]
    order = read.order
    ranked = bool(order) and read.query.get("limit") is not None
    if ranked and len(read.rows) == 1:
        best = "lowest" if order[0]["direction"] == "asc" else "highest"
        key, shown = lines[0].split(":")[0], lines[0].split(": ", 1)[1]
        return f"{key} has the {best} {what}{read.scope}: {shown}."
    best = "lowest" if ranked and order[0]["direction"] == "asc" else "highest"
    groups = _group_names(read)
    head = (
        f"The {len(read.rows)} {GROUP_PLURALS.get(groups, groups)} with the {best} {what}"
        if ranked
        else f"The {what} by {groups}"
    )
    more = f" (and {read.count - SHOWN_ROWS} more{read.more})" if read.count > SHOWN_ROWS else ""
    return f"{head}{read.scope}:\n" + "\n".join(f"- {line}" for line in lines) + more


def _group_names(read: _Result) -> str:
    names = [
        f"{g} ({_verb(read, c)})" if g else read.name(c)
        for i, (_, g, c) in enumerate(read.labels)
        if i in read.keys and not read.is_key(c)  # the name beside an id says it
    ]
    return ", ".join(dict.fromkeys(names))


def _verb(read: _Result, column: str) -> str:
    info = read.tool.columns.get(column)
    return (info.verb or info.phrase) if info else column


def _group_key(read: _Result, row: list[Any]) -> str:
    return " ".join(
        read.fmt(read.columns[i], row[i]) for i in read.keys if read.labels[i][2] not in HIDDEN_KEYS
    )


# How a ranked row list is described, by the column it is sorted on: (ascending, descending).
RANK_WORDS = {
    ORDERS__TOTAL_AMOUNT: ("smallest", "biggest"),
    PRODUCTS__PRICE: ("cheapest", "most expensive"),
}


def _ranked(read: _Result, sort: dict[str, Any], noun: str) -> str:
    """'biggest orders', 'latest orders', 'parts with the highest retail price'."""
    descending = sort["direction"] == "desc"
    if sort["column"] in RANK_WORDS:
        return f"{RANK_WORDS[sort['column']][descending]} {noun}"
    info = read.tool.columns.get(sort["column"])
    if info is None or info.kind in ("date", "datetime"):
        return f"{('earliest', 'latest')[descending]} {noun}"
    return f"{noun} with the {('lowest', 'highest')[descending]} {info.phrase}"


def _plain_rows(read: _Result) -> str:
    base = read.query.get("table_name", "orders")
    one, many = read.names
    names = [_row_name(read, base, row) for row in read.rows[:SHOWN_ROWS]]
    order = read.order
    if order and read.query.get("limit"):
        noun = one if len(read.rows) == 1 else many
        number = "" if len(read.rows) == 1 else f"{len(read.rows)} "
        return f"The {number}{_ranked(read, order[0], noun)}{read.scope}: " + "; ".join(names) + "."
    more = read.count - len(names)
    tail = f", and {more}{read.more} more" if more > 0 else ""
    noun = one if read.count == 1 else many
    return f"I found {read.count}{read.more} {noun}{read.scope}: " + "; ".join(names) + tail + "."


def _row_name(read: _Result, base: str, row: list[Any]) -> str:
    fmt = read.fmt
    values = dict(zip(read.columns, row, strict=False))
    if base == "orders" and ORDERS__ID in values:
        extra = [fmt(c, v) for c, v in values.items() if c != ORDERS__ID]
        number = f"#{values['orders.id']}"
        return f"{number} ({', '.join(extra)})" if extra else number
    tables = read.tool.catalog.tables
    label = tables[base].info.get("label") if base in tables else None
    if label in values and not read.query.get("columns"):  # whole rows: named by their label
        return fmt(label, values[label])
    name_column = f"{base}.name"
    if name_column in values:
        extra = [fmt(c, v) for c, v in values.items() if c not in (name_column, f"{base}.id")]
        return f"{values[name_column]} ({', '.join(extra)})" if extra else str(values[name_column])
    return ", ".join(fmt(c, v) for c, v in values.items())
