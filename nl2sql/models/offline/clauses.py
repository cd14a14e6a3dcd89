"""Pieces of a Query dict: fields, conditions, sorts, and the columns a row list shows."""

from __future__ import annotations

from typing import Any

from nl2sql.models.offline.dates import DateRange
from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__CITY,
    CUSTOMERS__COUNTRY,
    CUSTOMERS__CREATED_AT,
    CUSTOMERS__ID,
    CUSTOMERS__NAME,
    ORDERS__CANCELED_AT,
    ORDERS__DELIVERED_AT,
    ORDERS__EXPECTED_DELIVERY_DATE,
    ORDERS__ID,
    ORDERS__ORDERED_AT,
    ORDERS__SHIPPED_AT,
    ORDERS__STATUS,
    ORDERS__TOTAL_AMOUNT,
    PRODUCTS__CATEGORY,
    PRODUCTS__ID,
    PRODUCTS__NAME,
    PRODUCTS__PRICE,
)

LIST_COLUMNS: dict[str, list[str]] = {
    "orders": [ORDERS__ID, ORDERS__ORDERED_AT, ORDERS__STATUS, ORDERS__TOTAL_AMOUNT],
    "customers": [CUSTOMERS__ID, CUSTOMERS__NAME, CUSTOMERS__COUNTRY, CUSTOMERS__CITY],
    "products": [PRODUCTS__ID, PRODUCTS__NAME, PRODUCTS__CATEGORY, PRODUCTS__PRICE],
}
ENTITY_GROUP: dict[str, list[str]] = {
    "customers": [CUSTOMERS__ID, CUSTOMERS__NAME],
    "products": [PRODUCTS__ID, PRODUCTS__NAME],
}
DATE_COLUMNS = (
    ORDERS__ORDERED_AT,
    ORDERS__SHIPPED_AT,
    ORDERS__DELIVERED_AT,
    ORDERS__CANCELED_AT,
    CUSTOMERS__CREATED_AT,
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


LATE = cond(ORDERS__DELIVERED_AT, ">", {"column_name": ORDERS__EXPECTED_DELIVERY_DATE})
ON_TIME = cond(ORDERS__DELIVERED_AT, "<=", {"column_name": ORDERS__EXPECTED_DELIVERY_DATE})


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
