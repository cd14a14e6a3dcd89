"""The SQL-shape rules (nl2sql/compiler/shape/): where each applies, the faster form; where
it does not, the old one; and on every backend the same rows as hand-written SQL."""

from __future__ import annotations

from typing import Any

import pytest
from query_builders import cond, fetch, field, query, sort
from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite

from nl2sql.compiler import Compiler
from nl2sql.execute import ReadOnlyDatabase


def sql_of(spec: dict[str, Any]) -> str:
    return str(Compiler().compile(spec).statement.compile(dialect=sqlite.dialect()))


# -- count_rows -----------------------------------------------------------------------------

ORDERS_PER_STATUS = query(
    "orders", [field("orders.status"), field("orders.id", "count")], [], [sort("orders.status")]
)
ORDERS_PER_CUSTOMER = query(  # customers with no order must count 0, not 1
    "customers",
    [field("customers.id"), field("orders.id", "count")],
    [],
    [sort("customers.id")],
    limit=1000,
)
ORDERS_WITH_BOOKS = query(  # a join to the lines repeats each order
    "orders",
    [field("products.category"), field("orders.id", "count")],
    [],
    [sort("products.category")],
)


@pytest.mark.parametrize(
    ("spec", "counted"),
    [
        (ORDERS_PER_STATUS, "count(*)"),
        (query("orders", [field("orders.id", "count")], [cond("orders.status", "=", "shipped")]),
         "count(*)"),
        (ORDERS_PER_CUSTOMER, "count(orders.id)"),
        (ORDERS_WITH_BOOKS, "count(DISTINCT orders.id)"),
        (query("orders", [field("orders.customer_id", "count")]), "count(orders.customer_id)"),
    ],
)  # fmt: skip
def test_count_rows_applies_only_to_the_base_tables_key(spec: dict[str, Any], counted: str) -> None:
    assert counted + " AS" in sql_of(spec)


@pytest.mark.parametrize(
    ("spec", "reference"),
    [
        (ORDERS_PER_STATUS,
         "SELECT status, count(id) FROM orders GROUP BY status ORDER BY status"),
        (ORDERS_PER_CUSTOMER,
         "SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id "
         "GROUP BY c.id ORDER BY c.id LIMIT 1000"),
        (ORDERS_WITH_BOOKS,
         "SELECT p.category, count(DISTINCT o.id) FROM orders o "
         "JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id "
         "GROUP BY p.category ORDER BY p.category"),
    ],
)  # fmt: skip
def test_counts_are_the_same_as_hand_written_sql(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, spec: dict[str, Any], reference: str
) -> None:
    got = [tuple(row) for row in sample_reader.run(spec).rows]
    expected = fetch(sample_engine, reference)
    assert got == expected and any(row[-1] == 0 for row in got) == (spec is ORDERS_PER_CUSTOMER)
