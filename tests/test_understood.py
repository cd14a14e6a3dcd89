"""`understood`: the English nl2sql renders from the Query that ran, from the operator table.

Golden sentences per construct, and a property: every operator, aggregate and grain has its
English in the same table the compiler builds SQL from, so none can be compiled yet unnamed.
"""

from __future__ import annotations

from typing import Any

import pytest
from query_builders import cond, field, query, sort

from nl2sql.operators import AGGREGATES, CHANGES, GRAINS, OPERATORS, SHARES
from nl2sql.query import TOOL, Aggregate, Change, Operator, ShareOf, TimeGrain
from nl2sql.understood import describe

LATE = {
    "column": "orders.delivered_at",
    "aggregate": None,
    "operator": ">",
    "value": {"column_name": "orders.expected_delivery_date"},
}

RETURNED = cond("orders.status", "=", "returned")
ABOVE_AVERAGE = {"column_name": "orders.total_amount", "aggregate": "avg"}
ABOVE_CATEGORY_AVERAGE = {
    "column_name": "products.price",
    "aggregate": "avg",
    "within": "products.category",
}

GOLDEN: list[tuple[str, dict[str, Any], str]] = [
    (
        "count in a month, statuses, per country",
        query(
            "orders",
            [field("customers.country"), field("orders.id", "count")],
            [
                cond("orders.ordered_at", ">=", "2025-11-01"),
                cond("orders.ordered_at", "<=", "2025-11-30"),
                cond("orders.status", "in", ["shipped", "delivered"]),
            ],
        ),
        "count of orders, placed 2025-11-01 to 2025-11-30, status is one of shipped, delivered, "
        "grouped by customer country",
    ),
    (
        "late deliveries: a column compared with another",
        query("orders", [field("orders.id", "count")], [LATE]),
        "count of orders, delivered after the promised delivery date",
    ),
    (
        "money, top N",
        query(
            "order_items",
            [field("products.category"), field("order_items.line_total", "sum")],
            [cond("orders.total_amount", ">", 100)],
            [sort("order_items.line_total", "desc", "sum")],
            limit=3,
        ),
        "total revenue, order value over $100.00, grouped by category, "
        "sorted by total revenue highest first, top 3",
    ),
    (
        "a list, newest first",
        query(
            "orders",
            [field("orders.id"), field("orders.status")],
            [cond("orders.shipped_at", "is null", None)],
            [sort("orders.ordered_at", "desc")],
            limit=5,
        ),
        "orders (order id, status), not shipped, sorted by order date newest first, top 5",
    ),
    (
        "absence of related rows",
        query("customers", [field("customers.name")], [cond("orders.id", "is null", None)]),
        "customers (customer), with no orders",
    ),
    (
        "a time grain and a HAVING",
        query(
            "orders",
            [field("orders.ordered_at", grain="month"), field("orders.id", "count")],
            [cond("orders.id", ">", 50, aggregate="count")],
        ),
        "count of orders, with count of orders over 50, grouped by month of order date",
    ),
    (
        "a bare day, an open range, contains",
        query(
            "orders",
            [field("orders.id", "count")],
            [
                cond("orders.delivered_at", "=", "2026-11-27"),
                cond("customers.created_at", ">=", "2026-01-01"),
                cond("customers.name", "contains", "smith"),
            ],
        ),
        "count of orders, delivered on 2026-11-27, signed up since 2026-01-01, "
        "customer contains smith",
    ),
    (
        "strict bounds read as the days they include",
        query(
            "orders",
            [field("orders.id", "count")],
            [
                cond("orders.ordered_at", ">", "2025-10-31"),
                cond("orders.ordered_at", "<", "2025-12-01"),
                cond("orders.shipped_at", "<=", "2025-11-30"),
                cond("orders.ordered_at", "<", "2026-06-01"),  # looser: the first one holds
                cond("orders.ordered_at", "<=", "2026-01-31"),  # looser than "< 2025-12-01" too
            ],
        ),
        "count of orders, placed 2025-11-01 to 2025-11-30, shipped before 2025-12-01",
    ),
    (
        "date extremes",
        query("orders", [field("orders.ordered_at", "max")]),
        "latest order date",
    ),
    # -- what analysts ask every day --
    (
        "a rate",
        query(
            "orders",
            [field("orders.id", "count", filter=[RETURNED], share="group")],
            [cond("customers.country", "=", "Brazil")],
        ),
        "count of orders where status is returned, as a share of count of orders, "
        "customer country is Brazil",
    ),
    (
        "a share of the total",
        query(
            "order_items",
            [field("products.category"), field("order_items.quantity", "sum", share="total")],
        ),
        "total units, as a share of all groups' total, grouped by category",
    ),
    (
        "days between two dates, measured and tested",
        query(
            "orders",
            [field("orders.delivered_at", "avg", days_from="orders.shipped_at")],
            [cond("orders.shipped_at", ">", 7, days_from="orders.ordered_at")],
        ),
        "average days from shipped to delivered, days from placed to shipped over 7",
    ),
    (
        "change from the previous period, in a date range given as between",
        query(
            "orders",
            [
                field("orders.ordered_at", grain="month"),
                field("orders.total_amount", "sum", change="percent"),
            ],
            [cond("orders.ordered_at", "between", ["2026-10-01", "2026-11-30"])],
        ),
        "relative change in total order value from the previous month, "
        "placed 2026-10-01 to 2026-11-30, grouped by month of order date",
    ),
    (
        "any_of and between on money",
        query(
            "orders",
            [field("orders.id", "count")],
            [cond("orders.total_amount", "between", [100, 200])],
            any_of=[RETURNED, LATE],
        ),
        "count of orders, order value from $100.00 to $200.00, "
        "either status is returned or delivered after the promised delivery date",
    ),
    (
        "top rows per group",
        query(
            "products",
            [field("products.category"), field("products.name")],
            [],
            [sort("products.price")],
            per_group_limit={"column": "products.category", "limit": 2},
        ),
        "products (category, product), sorted by price lowest first, first 2 per category",
    ),
    (
        "above the average of the same category",
        query(
            "products",
            [field("products.name")],
            [cond("products.price", ">", ABOVE_CATEGORY_AVERAGE)],
        ),
        "products (product), price over the average price of the same category",
    ),
    (
        "groups above the average group",
        query(
            "customers",
            [field("customers.id"), field("orders.total_amount", "sum")],
            [cond("orders.total_amount", ">", ABOVE_AVERAGE, "sum")],
        ),
        "total order value, with total order value over the average of all groups, "
        "grouped by customer id",
    ),
    (
        "an average of per-customer totals, and a median",
        query(
            "orders",
            [
                field("orders.total_amount", "sum", average_per="customers.id"),
            ],
        ),
        "average per customer of total order value",
    ),
    (
        "a percentile",
        query("orders", [field("customers.country"), field("orders.total_amount", "p90")]),
        "90th percentile of order value, grouped by customer country",
    ),
]


@pytest.mark.parametrize(
    ("arguments", "expected"), [g[1:] for g in GOLDEN], ids=[g[0] for g in GOLDEN]
)
def test_golden_sentences(arguments: dict[str, Any], expected: str) -> None:
    validated = TOOL.parse(arguments).model_dump(mode="json")
    assert describe(validated, TOOL) == expected


def test_a_tenant_scope_is_said() -> None:
    arguments = query("orders", [field("orders.id", "count")])
    assert describe(arguments, TOOL, customer_id=13) == "count of orders, only customer 13's rows"


def test_every_operator_aggregate_and_grain_has_english() -> None:
    assert set(OPERATORS) == set(Operator)
    assert set(AGGREGATES) == set(Aggregate)
    assert set(GRAINS) == set(TimeGrain)
    assert set(SHARES) == set(ShareOf) and set(CHANGES) == set(Change)
    assert all(rule.words and rule.date_words for rule in OPERATORS.values())


@pytest.mark.parametrize("operator", [op for op in Operator if op not in (Operator.contains,)])
def test_every_operator_renders(operator: Operator) -> None:
    values = {"in": ["shipped"], "not in": ["shipped"], "is null": None, "is not null": None}
    arguments = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.status", operator.value, values.get(operator.value, "shipped"))],
    )
    sentence = describe(TOOL.parse(arguments).model_dump(mode="json"), TOOL)
    assert sentence.startswith("count of orders, status ")
    assert OPERATORS[operator].words in sentence


def test_a_group_filter_against_another_column_without_an_aggregate() -> None:
    """A DynamicValue whose aggregate was left out (it defaults to null) is a plain column."""
    value = {"column_name": "orders.total_amount"}
    spec = query(
        "orders",
        [field("customers.country"), field("orders.total_amount", "sum")],
        [cond("orders.total_amount", ">", value, "sum")],
    )
    assert "with total order value over the order value" in describe(spec, TOOL)
