"""Pieces of a Query dict: fields, conditions, sorts, and the columns a row list shows."""

from __future__ import annotations

from typing import Any

from nl2sql.models.offline.dates import DateRange

LIST_COLUMNS: dict[str, list[str]] = {
    "orders": ["orders.id", "orders.ordered_at", "orders.status", "orders.total_amount"],
    "customers": ["customers.id", "customers.name", "customers.country", "customers.city"],
    "products": ["products.id", "products.name", "products.category", "products.price"],
}
ENTITY_GROUP: dict[str, list[str]] = {
    "customers": ["customers.id", "customers.name"],
    "products": ["products.id", "products.name"],
}
DATE_COLUMNS = (
    "orders.ordered_at",
    "orders.shipped_at",
    "orders.delivered_at",
    "orders.canceled_at",
    "customers.created_at",
)


def field_(column: str, aggregate: str | None = None, grain: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "time_grain": grain}


def cond(column: str, operator: str, value: Any, aggregate: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "operator": operator, "value": value}


def sort(column: str, direction: str, aggregate: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "direction": direction}


def date_conditions(column: str, span: DateRange) -> list[dict[str, Any]]:
    if span.start and span.end and span.start == span.end:
        return [cond(column, "=", span.start.isoformat())]
    out = []
    if span.start:
        out.append(cond(column, ">=", span.start.isoformat()))
    if span.end:
        out.append(cond(column, "<=", span.end.isoformat()))
    return out


def one_or_many(column: str, values: list[Any], negated: bool) -> dict[str, Any]:
    """`column = v` for one value, `column in (...)` for several; negated: != / not in."""
    unique = list(dict.fromkeys(values))
    if len(unique) == 1:
        return cond(column, "!=" if negated else "=", unique[0])
    return cond(column, "not in" if negated else "in", unique)


def empty_query(table: str, conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "table_name": table,
        "columns": [],
        "conditions": conditions,
        "order_by": [],
        "limit": None,
    }


LATE = cond("orders.delivered_at", ">", {"column_name": "orders.expected_delivery_date"})
ON_TIME = cond("orders.delivered_at", "<=", {"column_name": "orders.expected_delivery_date"})


def with_asked_column(query: dict[str, Any], asked: str | None) -> dict[str, Any]:
    """A row query shows the attribute the question asks for ("when will it arrive?")."""
    columns = query["columns"]
    if asked and not any(c["aggregate"] for c in columns):
        if not any(c["column"] == asked for c in columns):
            columns.append(field_(asked))
    return query


def previous_date_column(query: dict[str, Any]) -> str | None:
    """The date column a query is about: the one its period bounds, else the one it compares
    ("delivered late" is about delivery dates, so "and this year?" means delivered this year)."""
    dated = [c for c in query.get("conditions", []) if c["column"] in DATE_COLUMNS]
    bounded = [c for c in dated if not isinstance(c["value"], dict)]
    compared = [c for c in dated if isinstance(c["value"], dict)]
    for condition in bounded or compared:
        return str(condition["column"])
    return None
