"""Tenant scope: a compiler bound to a customer only ever sees that customer's rows.

Expected rows come from hand-written SQL. A hypothesis property runs random valid queries under a
scope and checks that no order or customer of anyone else comes back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from query_builders import cond, fetch, field, first_column
from query_builders import query as build_query
from sqlalchemy import Engine
from test_compiler_properties import SETTINGS, valid_queries

from nl2sql.errors import QueryValidationError
from nl2sql.execute import ReadOnlyDatabase


def query(
    table: str, columns: list[dict[str, Any]], conditions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Query arguments with room for every row of one customer (the default page is 100)."""
    return build_query(table, columns, conditions, limit=1000)


def rows_of(reader: ReadOnlyDatabase, spec: dict[str, Any], customer: int) -> list[tuple[Any, ...]]:
    result = reader.run(spec, customer_id=customer)
    assert not result.truncated
    return [tuple(row) for row in result.rows]


class Tenants:
    """The scoped customer (the one with most orders) and another customer, with their data."""

    def __init__(self, engine: Engine) -> None:
        counts = fetch(
            engine,
            "SELECT customer_id, count(*) FROM orders GROUP BY customer_id "
            "ORDER BY count(*) DESC, customer_id",
        )
        self.me, self.my_order_count = counts[0]
        self.other = counts[1][0]
        self.my_orders = first_column(
            fetch(engine, "SELECT id FROM orders WHERE customer_id = :c", c=self.me)
        )
        self.all_orders = first_column(fetch(engine, "SELECT id FROM orders"))
        self.my_items = first_column(
            fetch(
                engine,
                "SELECT oi.id FROM order_items oi JOIN orders o ON o.id = oi.order_id "
                "WHERE o.customer_id = :c",
                c=self.me,
            )
        )
        (self.my_email,) = fetch(engine, "SELECT email FROM customers WHERE id = :c", c=self.me)[0]
        assert self.my_order_count > 1 and self.my_orders < self.all_orders


@pytest.fixture(scope="module")
def tenants(sample_engine: Engine) -> Tenants:
    return Tenants(sample_engine)


# -- every base table and join ---------------------------------------------------------------------


def test_base_orders(sample_reader: ReadOnlyDatabase, tenants: Tenants) -> None:
    rows = rows_of(sample_reader, query("orders", [field("orders.id")]), tenants.me)
    assert first_column(rows) == tenants.my_orders


def test_base_customers(sample_reader: ReadOnlyDatabase, tenants: Tenants) -> None:
    rows = rows_of(
        sample_reader,
        query("customers", [field("customers.id"), field("customers.email")]),
        tenants.me,
    )
    assert rows == [(tenants.me, tenants.my_email)]


def test_base_order_items(sample_reader: ReadOnlyDatabase, tenants: Tenants) -> None:
    rows = rows_of(sample_reader, query("order_items", [field("order_items.id")]), tenants.me)
    assert first_column(rows) == tenants.my_items


def test_whole_table_listing_is_scoped(sample_reader: ReadOnlyDatabase, tenants: Tenants) -> None:
    result = sample_reader.run(query("orders", []), customer_id=tenants.me)
    customer_column = result.columns.index("orders.customer_id")
    assert {row[customer_column] for row in result.rows} == {tenants.me}


# name: (hand-written SQL for customer :c, the same question as a Query, how rows compare)
SCOPED_JOINS: dict[str, tuple[str, dict[str, Any], Callable[[list[tuple[Any, ...]]], Any]]] = {
    "customers joined to orders": (
        "SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = :c",
        query("customers", [field("customers.id"), field("orders.id")]),
        set,
    ),
    "order items joined to customers and products": (
        "SELECT oi.id, c.email, p.category FROM order_items oi "
        "JOIN orders o ON o.id = oi.order_id JOIN customers c ON c.id = o.customer_id "
        "JOIN products p ON p.id = oi.product_id WHERE o.customer_id = :c",
        query(
            "order_items",
            [field("order_items.id"), field("customers.email"), field("products.category")],
        ),
        set,
    ),
    "orders joined to products": (
        "SELECT p.category, count(DISTINCT o.id) FROM orders o "
        "JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id "
        "WHERE o.customer_id = :c GROUP BY p.category",
        query("orders", [field("products.category"), field("orders.id", "count")]),
        dict,
    ),
    "product sales sum only my lines": (
        "SELECT p.name, sum(oi.quantity) FROM products p JOIN order_items oi "
        "ON oi.product_id = p.id JOIN orders o ON o.id = oi.order_id "
        "WHERE o.customer_id = :c GROUP BY p.name",
        query(
            "products",
            [field("products.name"), field("order_items.quantity", "sum")],
            [cond("order_items.quantity", "is not null", None)],
        ),
        dict,
    ),
}


@pytest.mark.parametrize(
    ("sql", "spec", "shape"), list(SCOPED_JOINS.values()), ids=list(SCOPED_JOINS)
)
def test_scoped_joins_match_hand_written_sql(
    sample_reader: ReadOnlyDatabase,
    sample_engine: Engine,
    tenants: Tenants,
    sql: str,
    spec: dict[str, Any],
    shape: Callable[[list[tuple[Any, ...]]], Any],
) -> None:
    expected = shape(fetch(sample_engine, sql, c=tenants.me))
    assert shape(rows_of(sample_reader, spec, tenants.me)) == expected


def test_aggregates_are_scoped(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, tenants: Tenants
) -> None:
    (total,) = fetch(
        sample_engine, "SELECT sum(total_amount) FROM orders WHERE customer_id = :c", c=tenants.me
    )[0]
    spec = query(
        "orders",
        [
            field("orders.id", "count"),
            field("orders.total_amount", "sum"),
            field("customers.id", "count_distinct"),
        ],
    )
    ((count, amount, customers),) = rows_of(sample_reader, spec, tenants.me)
    assert count == tenants.my_order_count
    assert amount == pytest.approx(float(total), abs=0.01)
    assert customers == 1


def test_customer_count_is_one(sample_reader: ReadOnlyDatabase, tenants: Tenants) -> None:
    spec = query("customers", [field("customers.country"), field("customers.id", "count")])
    rows = rows_of(sample_reader, spec, tenants.me)
    assert len(rows) == 1 and rows[0][1] == 1


def test_semi_join_under_scope(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, tenants: Tenants
) -> None:
    (category,) = fetch(
        sample_engine,
        "SELECT p.category FROM order_items oi JOIN orders o ON o.id = oi.order_id "
        "JOIN products p ON p.id = oi.product_id WHERE o.customer_id = :c "
        "GROUP BY p.category ORDER BY count(*) DESC, p.category",
        c=tenants.me,
    )[0]
    expected = first_column(
        fetch(
            sample_engine,
            "SELECT DISTINCT o.id FROM orders o JOIN order_items oi ON oi.order_id = o.id "
            "JOIN products p ON p.id = oi.product_id WHERE o.customer_id = :c AND p.category = :k",
            c=tenants.me,
            k=category,
        )
    )
    spec = query("orders", [field("orders.id")], [cond("products.category", "=", category)])
    assert first_column(rows_of(sample_reader, spec, tenants.me)) == expected


# -- asking for someone else -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column", "condition_column"),
    [
        ("customers", "customers.id", "customers.id"),
        ("orders", "orders.id", "orders.customer_id"),
        ("orders", "orders.id", "customers.id"),
        ("order_items", "order_items.id", "orders.customer_id"),
        ("order_items", "order_items.id", "customers.id"),
        ("customers", "customers.name", "orders.customer_id"),
    ],
)
def test_asking_for_another_customer_returns_nothing(
    sample_reader: ReadOnlyDatabase,
    tenants: Tenants,
    table: str,
    column: str,
    condition_column: str,
) -> None:
    spec = query(table, [field(column)], [cond(condition_column, "=", tenants.other)])
    assert rows_of(sample_reader, spec, tenants.me) == []
    # Without the scope the same query does find the other customer's rows.
    assert sample_reader.run(spec).rows != []


def test_asking_for_another_customer_in_a_list(
    sample_reader: ReadOnlyDatabase, tenants: Tenants
) -> None:
    spec = query(
        "orders", [field("orders.customer_id")], [cond("orders.customer_id", "in", [tenants.other])]
    )
    assert rows_of(sample_reader, spec, tenants.me) == []
    count = query("orders", [field("orders.id", "count")], [cond("customers.id", "!=", tenants.me)])
    assert rows_of(sample_reader, count, tenants.me) == [(0,)]


def test_another_customers_order_id_is_invisible(
    sample_reader: ReadOnlyDatabase, tenants: Tenants
) -> None:
    foreign = min(tenants.all_orders - tenants.my_orders)
    spec = query("order_items", [field("order_items.id")], [cond("orders.id", "=", foreign)])
    assert rows_of(sample_reader, spec, tenants.me) == []
    spec = query("orders", [field("orders.id")], [cond("orders.id", "=", foreign)])
    assert rows_of(sample_reader, spec, tenants.me) == []


# -- products are shared; their sales are not ------------------------------------------------------


def products_sold(engine: Engine, where: str, **params: Any) -> set[int]:
    """Ids of the products on order lines whose order matches `where` (hand-written SQL)."""
    return first_column(
        fetch(
            engine,
            "SELECT DISTINCT oi.product_id FROM order_items oi JOIN orders o ON o.id = oi.order_id "
            f"WHERE {where}",
            **params,
        )
    )


def test_products_alone_are_not_scoped(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, tenants: Tenants
) -> None:
    expected = first_column(fetch(sample_engine, "SELECT id FROM products"))
    spec = query("products", [field("products.id")])
    assert first_column(rows_of(sample_reader, spec, tenants.me)) == expected


def test_products_filtered_by_order_status_see_only_my_sales(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, tenants: Tenants
) -> None:
    delivered = "o.status = 'delivered'"
    expected = products_sold(sample_engine, f"o.customer_id = :c AND {delivered}", c=tenants.me)
    assert expected < products_sold(sample_engine, delivered)
    spec = query("products", [field("products.id")], [cond("orders.status", "=", "delivered")])
    assert first_column(rows_of(sample_reader, spec, tenants.me)) == expected


def test_products_filtered_by_customer_see_only_my_sales(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, tenants: Tenants
) -> None:
    (country,) = fetch(sample_engine, "SELECT country FROM customers WHERE id = :c", c=tenants.me)[
        0
    ]
    expected = products_sold(sample_engine, "o.customer_id = :c", c=tenants.me)
    spec = query("products", [field("products.id")], [cond("customers.country", "=", country)])
    assert first_column(rows_of(sample_reader, spec, tenants.me)) == expected


# -- property: nothing of anyone else ever comes back ----------------------------------------------

ORDER_ID_LABELS = {
    "orders.id",
    "order_items.order_id",
    "min(orders.id)",
    "max(orders.id)",
    "min(order_items.order_id)",
    "max(order_items.order_id)",
}
CUSTOMER_ID_LABELS = {
    "customers.id",
    "orders.customer_id",
    "min(customers.id)",
    "max(customers.id)",
    "min(orders.customer_id)",
    "max(orders.customer_id)",
}
ITEM_ID_LABELS = {"order_items.id", "min(order_items.id)", "max(order_items.id)"}
COUNT_LABELS = {
    "count(orders.id)",
    "count_distinct(orders.id)",
    "count_distinct(customers.id)",
    "count(customers.id)",
}


def test_random_scoped_queries_never_leak(
    sample_reader: ReadOnlyDatabase, tenants: Tenants
) -> None:
    checked: Counter[str] = Counter()

    @SETTINGS
    @given(spec=valid_queries())
    def run(spec: dict[str, Any]) -> None:
        try:
            result = sample_reader.run(spec, customer_id=tenants.me)
        except QueryValidationError:
            return
        for index, label in enumerate(result.columns):
            values = {row[index] for row in result.rows} - {None}
            if label in ORDER_ID_LABELS:
                assert values <= tenants.my_orders, label
            elif label in CUSTOMER_ID_LABELS:
                assert values <= {tenants.me}, label
            elif label in ITEM_ID_LABELS:
                assert values <= tenants.my_items, label
            elif label == "customers.email":
                assert values <= {tenants.my_email}, label
            elif label in COUNT_LABELS:
                assert all(v <= tenants.my_order_count for v in values), label
            else:
                continue
            checked[label] += len(values)

    run()
    assert sum(checked.values()) > 0, "no generated query returned a checkable column"


@SETTINGS
@given(spec=valid_queries())
def test_random_queries_compile_with_a_scope(spec: dict[str, Any]) -> None:
    from nl2sql.compiler import Compiler

    try:
        scoped = Compiler(customer_id=7).compile(spec)
    except QueryValidationError:
        with pytest.raises(QueryValidationError):
            Compiler().compile(spec)  # the scope never makes a query invalid by itself
        return
    unscoped = Compiler().compile(spec)
    assert scoped.labels == unscoped.labels and scoped.kinds == unscoped.kinds
    scope_params = list(scoped.statement.compile().params.values()).count(7)
    plain_params = list(unscoped.statement.compile().params.values()).count(7)
    other_tables = scoped.tables - {"products"}
    semi_joined = any(not c["column"].startswith("products.") for c in spec["conditions"])
    if other_tables or semi_joined:  # every table but products is filtered by the customer
        assert scope_params > plain_params
    else:
        assert scope_params == plain_params
