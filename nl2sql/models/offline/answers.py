"""Answer sentences built from a Query (what was understood) and its tool result (the rows)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

ENTITY_NAMES = {
    "orders": ("order", "orders"),
    "customers": ("customer", "customers"),
    "products": ("product", "products"),
    "order_items": ("order line", "order lines"),
}
DATE_VERBS = {
    "orders.ordered_at": "placed",
    "orders.shipped_at": "shipped",
    "orders.delivered_at": "delivered",
    "orders.canceled_at": "canceled",
    "customers.created_at": "signed up",
}
COLUMN_NAMES = {
    "customers.country": "customer country",
    "customers.city": "customer city",
    "customers.name": "customer",
    "products.category": "category",
    "products.name": "product",
    "orders.status": "status",
    "orders.total_amount": "order total",
    "products.price": "price",
    "order_items.quantity": "units",
    "order_items.line_total": "revenue",
    "order_items.unit_price": "unit price",
    "orders.id": "orders",
    "customers.id": "customers",
    "products.id": "products",
}
AGGREGATE_NAMES = {
    "count": "number of",
    "count_distinct": "number of distinct",
    "sum": "total",
    "avg": "average",
    "min": "lowest",
    "max": "highest",
}
OPERATOR_WORDS = {
    "=": "is",
    "!=": "is not",
    ">": "over",
    ">=": "at least",
    "<": "under",
    "<=": "at most",
    "in": "is one of",
    "not in": "is not one of",
}
MONEY = {
    "orders.total_amount",
    "order_items.line_total",
    "products.price",
    "order_items.unit_price",
}
SHOWN_ROWS = 10
# What an aggregate is called in a sentence.
MEASURE_NAMES = {
    ("sum", "orders.total_amount"): "total order value",
    ("sum", "order_items.line_total"): "revenue",
    ("sum", "order_items.quantity"): "units sold",
    ("avg", "orders.total_amount"): "average order value",
    ("avg", "order_items.unit_price"): "average unit price paid",
    ("avg", "products.price"): "average price",
    ("max", "orders.total_amount"): "highest order total",
    ("min", "orders.total_amount"): "lowest order total",
    ("max", "products.price"): "highest price",
    ("min", "products.price"): "lowest price",
}
GRAIN_NAMES = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}

EXAMPLES = [
    "How many orders were delivered late last month?",
    "Top 5 customers by revenue in 2025",
    "Revenue per category this year",
]


def not_understood(question: str) -> str:
    return (
        f'Sorry, I did not understand "{question.strip()}" well enough to query the '
        "database, and I would rather not guess. I can answer questions like: "
        + "; ".join(f'"{e}"' for e in EXAMPLES)
        + "."
    )


def describe_conditions(query: dict[str, Any]) -> str:
    """What was understood, e.g. 'placed 2025-11-01 to 2025-11-30, delivered after the expected
    date, status is one of shipped, delivered'."""
    parts: list[str] = []
    dates: dict[str, dict[str, str]] = {}
    for condition in query.get("conditions", []):
        column, op, value = condition["column"], condition["operator"], condition["value"]
        if condition.get("aggregate"):
            what = f"{AGGREGATE_NAMES[condition['aggregate']]} {_column_name(column)}"
            if condition["aggregate"] == "count" and op == "=" and value == 0:
                table = column.split(".")[0]
                parts.append(f"with no {ENTITY_NAMES.get(table, (table, table))[1]}")
            else:
                parts.append(f"with {what} {OPERATOR_WORDS.get(op, op)} {_value(column, value)}")
            continue
        if isinstance(value, dict):
            if op == ">":
                parts.append("delivered after the expected date")
            else:
                parts.append("delivered on or before the expected date")
            continue
        if column in DATE_VERBS and op in ("=", ">=", "<=", "<", ">"):
            dates.setdefault(column, {})[op] = str(value)
            continue
        if op == "is not null" and column.endswith(".id"):
            parts.append(f"with at least one {ENTITY_NAMES[column.split('.')[0]][0]}")
            continue
        if op in ("is null", "is not null"):
            name = DATE_VERBS.get(column, _column_name(column))
            parts.append(f"{'not ' if op == 'is null' else ''}{name}")
            continue
        if column == "orders.expected_delivery_date":
            word = {"<": "before", "<=": "on or before", ">": "after", ">=": "on or after"}
            parts.append(f"promised delivery date {word.get(op, op)} {value}")
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else _value(column, value)
        parts.append(f"{_column_name(column)} {OPERATOR_WORDS.get(op, op)} {shown}")
    date_parts = []
    for column, ops in dates.items():
        verb = DATE_VERBS[column]
        if "=" in ops:
            date_parts.append(f"{verb} on {ops['=']}")
        elif ">=" in ops and "<=" in ops:
            date_parts.append(f"{verb} {ops['>=']} to {ops['<=']}")
        elif ">=" in ops:
            date_parts.append(f"{verb} since {ops['>=']}")
        elif "<=" in ops:
            day = date.fromisoformat(ops["<="][:10]) + timedelta(days=1)
            date_parts.append(f"{verb} before {day.isoformat()}")
        elif "<" in ops:
            date_parts.append(f"{verb} before {ops['<']}")
        else:
            date_parts.append(f"{verb} after {ops['>']}")
    return ", ".join(date_parts + parts)


def _column_name(column: str) -> str:
    return COLUMN_NAMES.get(column, column.split(".")[-1].replace("_", " "))


def _value(column: str, value: Any) -> str:
    if column in MONEY and isinstance(value, int | float):
        return f"${value:,.2f}"
    return str(value)


def fmt(column: str, value: Any) -> str:
    if value is None:
        return "none"
    if column in MONEY and isinstance(value, int | float):
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
        if outer in AGGREGATE_NAMES:
            aggregate = outer
            if "(" in inner:
                grain, inner = inner.split("(", 1)
                inner = inner[:-1]
        else:
            grain = outer
        label = inner
    return aggregate, grain, label


def answer(query: dict[str, Any], result: dict[str, Any]) -> str:
    """A short sentence (or a few lines) from the rows, stating what was understood."""
    columns: list[str] = result.get("columns", [])
    rows: list[list[Any]] = result.get("rows", [])
    count = result.get("row_count", len(rows))
    truncated = bool(result.get("truncated"))
    base = query.get("table_name", "orders")
    one, many = ENTITY_NAMES.get(base, (base, base))
    understood = describe_conditions(query)
    scope = f" ({understood})" if understood else ""
    parsed = [_label_column(c) for c in columns]
    measures = [i for i, (a, _, _) in enumerate(parsed) if a]
    keys = [i for i, (a, _, _) in enumerate(parsed) if not a]
    order = query.get("order_by") or []

    if measures and not keys:  # one number
        aggregate, _, column = parsed[measures[0]]
        value = rows[0][measures[0]] if rows else None
        if aggregate == "count":
            noun = ENTITY_NAMES.get(column.split(".")[0], (one, many))
            n = int(value or 0)
            return f"There {'is' if n == 1 else 'are'} {n} {noun[0] if n == 1 else noun[1]}{scope}."
        what = MEASURE_NAMES.get(
            (aggregate or "", column),
            f"{AGGREGATE_NAMES[aggregate or 'sum']} {_column_name(column)}",
        )
        if aggregate == "count_distinct":
            what = f"number of distinct {_column_name(column)} values"
        return f"The {what} is {fmt(column, value)}{scope}."

    if not rows:
        return f"No {many} matched{scope}."

    if measures:  # grouped
        aggregate, _, column = parsed[measures[0]]
        what = MEASURE_NAMES.get(
            (aggregate or "", column),
            f"{AGGREGATE_NAMES[aggregate or 'count']} {_column_name(column)}",
        )
        if aggregate == "count":
            what = f"number of {ENTITY_NAMES.get(column.split('.')[0], (one, many))[1]}"
        group_names = [
            f"{GRAIN_NAMES[g]} ({DATE_VERBS.get(c, c)})" if g else _column_name(c)
            for i, (_, g, c) in enumerate(parsed)
            if i in keys
        ]
        groups = ", ".join(
            dict.fromkeys(n for n in group_names if n not in ("customers", "products"))
        )
        lines = []
        for row in rows[:SHOWN_ROWS]:
            key = " ".join(
                fmt(columns[i], row[i])
                for i in keys
                if parsed[i][2] not in ("customers.id", "products.id")
            )
            lines.append(f"{key}: {fmt(parsed[measures[0]][2], row[measures[0]])}")
        ranked = bool(order) and query.get("limit") is not None
        if ranked and len(rows) == 1:
            best = "lowest" if order[0]["direction"] == "asc" else "highest"
            return (
                f"{lines[0].split(':')[0]} has the {best} {what}{scope}: "
                f"{lines[0].split(': ', 1)[1]}."
            )
        best = "lowest" if ranked and order[0]["direction"] == "asc" else "highest"
        plural = {
            "customer": "customers",
            "product": "products",
            "category": "categories",
            "customer country": "countries",
            "customer city": "cities",
            "status": "statuses",
        }.get(groups, groups)
        head = (
            f"The {len(rows)} {plural} with the {best} {what}"
            if ranked
            else f"The {what} by {groups}"
        )
        more = (
            f" (and {count - SHOWN_ROWS} more{'+' if truncated else ''})"
            if count > SHOWN_ROWS
            else ""
        )
        return f"{head}{scope}:\n" + "\n".join(f"- {line}" for line in lines) + more

    # plain rows
    names = [_row_name(base, columns, row) for row in rows[:SHOWN_ROWS]]
    more = count - len(names)
    tail = f", and {more}{'+' if truncated else ''} more" if more > 0 else ""
    if order and query.get("limit"):
        column = order[0]["column"]
        how = {
            "orders.total_amount": ("smallest", "biggest"),
            "products.price": ("cheapest", "most expensive"),
        }.get(column, ("earliest", "latest"))[order[0]["direction"] == "desc"]
        noun = one if len(rows) == 1 else many
        number = "" if len(rows) == 1 else f"{len(rows)} "
        return f"The {number}{how} {noun}{scope}: " + "; ".join(names) + "."
    noun = one if count == 1 else many
    return (
        f"I found {count}{'+' if truncated else ''} {noun}{scope}: " + "; ".join(names) + tail + "."
    )


def _row_name(base: str, columns: list[str], row: list[Any]) -> str:
    values = dict(zip(columns, row, strict=False))
    if base == "orders" and "orders.id" in values:
        extra = [fmt(c, v) for c, v in values.items() if c != "orders.id"]
        number = f"#{values['orders.id']}"
        return f"{number} ({', '.join(extra)})" if extra else number
    name_column = f"{base}.name"
    if name_column in values:
        extra = [fmt(c, v) for c, v in values.items() if c not in (name_column, f"{base}.id")]
        return f"{values[name_column]} ({', '.join(extra)})" if extra else str(values[name_column])
    return ", ".join(fmt(c, v) for c, v in values.items())
