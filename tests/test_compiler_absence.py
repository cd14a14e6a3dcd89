"""`<many table>.id is null` means "with no such related row": a NOT EXISTS, on both backends."""

from __future__ import annotations

import pytest
from query_builders import cond, field, query, reference_engine
from sqlalchemy import text

from nl2sql.execute import ReadOnlyDatabase

CASES = {
    "customers who never ordered": (
        query("customers", [field("customers.id", "count")], [cond("orders.id", "is null", None)]),
        "SELECT count(*) FROM customers c WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customer_id = c.id)",
    ),
    "customers with no order in 2025": (
        query(
            "customers",
            [field("customers.id", "count")],
            [
                cond("orders.id", "is null", None),
                cond("orders.ordered_at", ">=", "2025-01-01"),
                cond("orders.ordered_at", "<", "2026-01-01"),
            ],
        ),
        "SELECT count(*) FROM customers c WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE "
        "o.customer_id = c.id AND o.ordered_at >= '2025-01-01' AND o.ordered_at < '2026-01-01')",
    ),
    "customers with no canceled order": (
        query(
            "customers",
            [field("customers.id", "count")],
            [cond("orders.id", "is null", None), cond("orders.status", "=", "canceled")],
        ),
        "SELECT count(*) FROM customers c WHERE NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'canceled')",
    ),
    "products not sold to Brazil in 2026": (
        query(
            "products",
            [field("products.id", "count")],
            [
                cond("order_items.id", "is null", None),
                cond("customers.country", "=", "Brazil"),
                cond("orders.ordered_at", ">=", "2026-01-01"),
            ],
        ),
        "SELECT count(*) FROM products p WHERE NOT EXISTS (SELECT 1 FROM order_items i "
        "JOIN orders o ON o.id = i.order_id JOIN customers c ON c.id = o.customer_id "
        "WHERE i.product_id = p.id AND c.country = 'Brazil' AND o.ordered_at >= '2026-01-01')",
    ),
}


def expected(url: str, sql: str) -> int:
    engine = reference_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return int(value)


@pytest.mark.parametrize("name", list(CASES))
def test_absence_means_not_exists(sample_url: str, name: str) -> None:
    spec, sql = CASES[name]
    with ReadOnlyDatabase(sample_url) as db:
        result = db.run(spec)
    assert result.rows == [[expected(sample_url, sql)]]
    assert "NOT (EXISTS" in result.sql


def test_the_sample_tells_absence_from_presence(sample_url: str) -> None:
    """Guard: the cases above would pass vacuously if every count were zero or everything."""
    with_none = expected(sample_url, CASES["customers with no order in 2025"][1])
    everyone = expected(sample_url, "SELECT count(*) FROM customers")
    assert 0 < with_none < everyone


def test_absence_under_tenant_scope(sample_url: str) -> None:
    spec = query(
        "customers", [field("customers.id", "count")], [cond("orders.id", "is null", None)]
    )
    with ReadOnlyDatabase(sample_url) as db:
        assert db.run(spec, customer_id=3).rows == [[0]]  # customer 3 has orders: not counted
