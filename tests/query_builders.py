"""Builders for Query tool arguments and helpers for hand-written reference SQL, shared by the
compiler, executor and CLI suites (imported as ``from query_builders import ...``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, text

from nl2sql import database, schema

INJECTION = "x'; DROP TABLE orders; --"


def field(
    column: str, aggregate: str | None = None, grain: str | None = None, **newer: Any
) -> dict[str, Any]:
    """A Field; `newer`: the parts added since the first tool (days_from, filter, share, ...)."""
    return {"column": column, "aggregate": aggregate, "time_grain": grain, **newer}


def cond(
    column: str, operator: str, value: Any, aggregate: str | None = None, **newer: Any
) -> dict[str, Any]:
    """A Condition; `newer`: days_from."""
    return {
        "column": column, "aggregate": aggregate, "operator": operator, "value": value, **newer
    }  # fmt: skip


def sort(column: str, direction: str = "asc", aggregate: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "direction": direction}


def query(
    table: str = "orders",
    columns: Any = None,
    conditions: list[Any] | None = None,
    order_by: list[Any] | None = None,
    limit: Any = None,
    **newer: Any,
) -> dict[str, Any]:
    """Query tool arguments; ``columns`` defaults to ``orders.id``. Values are not checked, so
    the invalid-input tests can pass anything. `newer`: any_of, per_group_limit."""
    return {
        "table_name": table,
        "columns": columns if columns is not None else [field("orders.id")],
        "conditions": conditions or [],
        "order_by": order_by or [],
        "limit": limit,
        **newer,
    }


def fetch(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of hand-written SQL, as tuples."""
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    return fetch(engine, sql, **params)[0][0]


def table_counts(engine: Engine) -> dict[str, int]:
    """The number of rows in every table of the schema (to check that nothing was written)."""
    return {name: scalar(engine, f"SELECT count(*) FROM {name}") for name in schema.TABLES}


def first_column(rows: Any) -> set[Any]:
    """The distinct values of the first column of some rows (fetched or returned)."""
    return {row[0] for row in rows}


def reference_engine(url: str) -> Engine:
    """A plain engine for hand-written SQL. DuckDB opens a file in one mode at a time per
    process, so there it is read-only, like nl2sql's own engine."""
    url = database.resolve_url(url)
    if url.startswith("duckdb"):
        return create_engine(url, connect_args={"read_only": True})
    return create_engine(url)


# The Query most tests need when what they test is not the query: count every order.
COUNT_ORDERS = json.dumps(query("orders", [field("orders.id", "count")]))


def as_datetime(value: Any) -> datetime | None:
    """A timestamp as the backends return it (SQLite: ISO text), as a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def as_date(value: Any) -> date | None:
    """A date, a timestamp or ISO text, as a date."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def one(reader: Any, spec: dict[str, Any], **options: Any) -> Any:
    """The one value a query returns (it must return exactly one row of one column)."""
    result = reader.run(spec, **options)
    assert result.row_count == 1 and len(result.rows[0]) == 1, result.rows
    return result.rows[0][0]


def order_facts(engine: Engine) -> list[dict[str, Any]]:
    """Every order's timestamps, status, total and customer, as Python values, read with
    hand-written SQL (what result tests compute expected values from)."""
    found = fetch(
        engine,
        "SELECT o.id, o.ordered_at, o.shipped_at, o.delivered_at, o.expected_delivery_date, "
        "o.status, o.total_amount, c.country, o.customer_id "
        "FROM orders o JOIN customers c ON c.id = o.customer_id",
    )
    return [
        {
            "id": row[0],
            "ordered_at": as_datetime(row[1]),
            "shipped_at": as_datetime(row[2]),
            "delivered_at": as_datetime(row[3]),
            "expected_delivery_date": as_date(row[4]),
            "status": row[5],
            "total": float(row[6]),
            "country": row[7],
            "customer_id": row[8],
        }
        for row in found
    ]
