"""The filters people ask about use an index: EXPLAIN QUERY PLAN on SQLite for the SQL the
compiler writes (plans, not timings: those are benchmarks). PostgreSQL's planner rightly scans
tables as small as the sample, so its plans are not pinned here."""

from __future__ import annotations

from typing import Any

import pytest
from query_builders import cond, field, query
from sqlalchemy import create_engine, text

from nl2sql import database
from nl2sql.compiler import Compiler

COUNT = [field("orders.id", "count")]
FILTERS = [
    ("delivered last month", [cond("orders.delivered_at", "between", ["2026-10-01", "2026-10-31"])],
     None, "ix_orders_delivered_at"),
    ("shipped this week", [cond("orders.shipped_at", ">=", "2026-11-23")], None,
     "ix_orders_shipped_at"),
    ("canceled this year", [cond("orders.canceled_at", ">=", "2026-01-01")], None,
     "ix_orders_canceled_at"),
    ("my orders in 2025", [cond("orders.ordered_at", "between", ["2025-01-01", "2025-12-31"])], 13,
     "ix_orders_customer_id_ordered_at"),
]  # fmt: skip


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('indexes') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


def literal_sql(conditions: list[dict[str, Any]], customer: int | None, dialect: Any) -> str:
    compiled = Compiler(customer_id=customer).compile(query("orders", COUNT, conditions))
    statement = compiled.statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return str(statement)


@pytest.mark.parametrize(("question", "conditions", "customer", "index"), FILTERS)
def test_sqlite_uses_the_index_for(
    sqlite_url: str, question: str, conditions: Any, customer: int | None, index: str
) -> None:
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        sql = literal_sql(conditions, customer, engine.dialect)
        steps = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        plan = " ".join(str(row[-1]) for row in steps)
    engine.dispose()
    assert f"INDEX {index}" in plan, plan
