"""Compiled queries return the right numbers, on SQLite and on PostgreSQL.

Every expected value comes from hand-written SQL (``sqlalchemy.text``) on the same database, or
from Python over rows fetched with hand-written SQL: never from the compiler's own output.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from query_builders import (
    as_datetime,
    cond,
    fetch,
    field,
    first_column,
    one,
    order_facts,
    query,
    scalar,
    sort,
)
from sqlalchemy import Engine

from nl2sql.execute import ReadOnlyDatabase, Result


def money(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def as_dict(result: Result) -> dict[Any, Any]:
    assert not result.truncated
    keys = [tuple(row[:-1]) if len(row) > 2 else row[0] for row in result.rows]
    assert len(set(keys)) == len(keys), "group keys must be unique"
    return {key: row[-1] for key, row in zip(keys, result.rows, strict=True)}


def grouped(engine: Engine, sql: str) -> dict[Any, Any]:
    """Hand-written SQL's rows keyed like `as_dict`: the last column is the value of the group."""
    rows = fetch(engine, sql)
    return {(tuple(row[:-1]) if len(row) > 2 else row[0]): row[-1] for row in rows}


@pytest.fixture(scope="module")
def order_times(sample_engine: Engine) -> list[dict[str, Any]]:
    """Every order's timestamps, as Python values, read with hand-written SQL."""
    return order_facts(sample_engine)


# -- one value, or one value a group, against hand-written SQL ------------------------------------


@dataclass(frozen=True)
class Reference:
    """Hand-written SQL and the same question asked as a Query."""

    sql: str
    spec: dict[str, Any]
    grouped: bool = False  # one value a group (the SQL's last column), not one value in all
    to_the_cent: bool = False  # amounts: the backends sum and average floats differently


REFERENCES: dict[str, Reference] = {
    "count distinct": Reference(
        "SELECT count(DISTINCT customer_id) FROM orders",
        query("orders", [field("orders.customer_id", "count_distinct")]),
    ),
    "sum of computed line total": Reference(
        "SELECT sum(quantity * unit_price) FROM order_items",
        query("order_items", [field("order_items.line_total", "sum")]),
        to_the_cent=True,
    ),
    "numeric column comparison across a join": Reference(
        "SELECT count(*) FROM order_items oi JOIN products p ON p.id = oi.product_id "
        "WHERE oi.unit_price < p.price",
        query(
            "order_items",
            [field("order_items.id", "count")],
            [cond("order_items.unit_price", "<", {"column_name": "products.price"})],
        ),
    ),
    "not in on a joined text column": Reference(
        "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
        "WHERE c.country NOT IN ('Germany', 'France')",
        query(
            "orders",
            [field("orders.id", "count")],
            [cond("customers.country", "not in", ["Germany", "France"])],
        ),
    ),
    # no inflation through one-to-many joins
    "sum of order totals with a category condition": Reference(
        "SELECT sum(total_amount) FROM orders WHERE id IN ("
        " SELECT oi.order_id FROM order_items oi JOIN products p ON p.id = oi.product_id"
        " WHERE p.category = 'Books')",
        query(
            "orders",
            [field("orders.total_amount", "sum")],
            [cond("products.category", "=", "Books")],
        ),
        to_the_cent=True,
    ),
    "group by joined country with sum": Reference(
        "SELECT c.country, sum(o.total_amount) FROM orders o "
        "JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
        query("orders", [field("customers.country"), field("orders.total_amount", "sum")]),
        grouped=True,
        to_the_cent=True,
    ),
    "group by two columns": Reference(
        "SELECT c.country, o.status, count(*) FROM orders o "
        "JOIN customers c ON c.id = o.customer_id GROUP BY c.country, o.status",
        query(
            "orders",
            [field("customers.country"), field("orders.status"), field("orders.id", "count")],
            limit=1000,
        ),
        grouped=True,
    ),
    # joins in both directions
    "base customers join orders": Reference(
        "SELECT c.id, c.name, count(o.id) FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name",
        query(
            "customers",
            [field("customers.id"), field("customers.name"), field("orders.id", "count")],
            limit=1000,
        ),
        grouped=True,
    ),
    "base customers sum of orders": Reference(
        "SELECT c.country, sum(o.total_amount) FROM customers c "
        "JOIN orders o ON o.customer_id = c.id GROUP BY c.country",
        query("customers", [field("customers.country"), field("orders.total_amount", "sum")]),
        grouped=True,
        to_the_cent=True,
    ),
    "base order items join customers": Reference(
        "SELECT c.country, sum(oi.quantity * oi.unit_price) FROM order_items oi "
        "JOIN orders o ON o.id = oi.order_id JOIN customers c ON c.id = o.customer_id "
        "GROUP BY c.country",
        query("order_items", [field("customers.country"), field("order_items.line_total", "sum")]),
        grouped=True,
        to_the_cent=True,
    ),
    "base products with sales by category": Reference(
        "SELECT p.category, sum(oi.quantity) FROM products p "
        "JOIN order_items oi ON oi.product_id = p.id GROUP BY p.category",
        query("products", [field("products.category"), field("order_items.quantity", "sum")]),
        grouped=True,
    ),
    # no inflation through one-to-many joins
    "count of orders per category": Reference(
        "SELECT p.category, count(DISTINCT o.id) FROM orders o "
        "JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id "
        "GROUP BY p.category",
        query("orders", [field("products.category"), field("orders.id", "count")]),
        grouped=True,
    ),
    "count of a non-key column per category": Reference(
        "SELECT p.category, count(DISTINCT o.id) FROM orders o "
        "JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id "
        "WHERE o.shipped_at IS NOT NULL GROUP BY p.category",
        query("orders", [field("products.category"), field("orders.shipped_at", "count")]),
        grouped=True,
    ),
    "sum of order totals per status with a category condition": Reference(
        "SELECT status, sum(total_amount) FROM orders WHERE id IN ("
        " SELECT oi.order_id FROM order_items oi JOIN products p ON p.id = oi.product_id"
        " WHERE p.category IN ('Books', 'Toys')) GROUP BY status",
        query(
            "orders",
            [field("orders.status"), field("orders.total_amount", "sum")],
            [cond("products.category", "in", ["Books", "Toys"])],
        ),
        grouped=True,
        to_the_cent=True,
    ),
    "customers counted once per order status": Reference(
        "SELECT o.status, count(DISTINCT c.id) FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY o.status",
        query("customers", [field("orders.status"), field("customers.id", "count")]),
        grouped=True,
    ),
    "customers with a returned order": Reference(
        "SELECT country, count(*) FROM customers WHERE id IN "
        "(SELECT customer_id FROM orders WHERE status = 'returned') GROUP BY country",
        query(
            "customers",
            [field("customers.country"), field("customers.id", "count")],
            [cond("orders.status", "=", "returned")],
        ),
        grouped=True,
    ),
}


@pytest.mark.parametrize("case", list(REFERENCES.values()), ids=list(REFERENCES))
def test_result_matches_hand_written_sql(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, case: Reference
) -> None:
    if case.grouped:
        actual = as_dict(sample_reader.run(case.spec))
        expected = grouped(sample_engine, case.sql)
        if case.to_the_cent:
            expected = pytest.approx({k: money(v) for k, v in expected.items()}, abs=0.01)
    else:
        actual = one(sample_reader, case.spec)
        expected = scalar(sample_engine, case.sql)
        if case.to_the_cent:
            expected = pytest.approx(float(expected), abs=0.01)
    assert actual == expected


# -- plain aggregates ------------------------------------------------------------------------------


def test_count_of_orders(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    expected = scalar(sample_engine, "SELECT count(*) FROM orders")
    assert expected >= 2000
    assert one(sample_reader, query("orders", [field("orders.id", "count")])) == expected


@pytest.mark.parametrize("aggregate", ["sum", "avg", "min", "max"])
def test_numeric_aggregates(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, aggregate: str
) -> None:
    expected = scalar(sample_engine, f"SELECT {aggregate}(total_amount) FROM orders")
    actual = one(sample_reader, query("orders", [field("orders.total_amount", aggregate)]))
    assert isinstance(actual, float)
    assert actual == pytest.approx(float(expected), abs=0.01)


def test_count_of_a_nullable_column_skips_nulls(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    expected = scalar(sample_engine, "SELECT count(delivered_at) FROM orders")
    total = scalar(sample_engine, "SELECT count(*) FROM orders")
    assert 0 < expected < total
    assert one(sample_reader, query("orders", [field("orders.delivered_at", "count")])) == expected


def test_min_and_max_of_timestamps_and_dates(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]]
) -> None:
    result = sample_reader.run(
        query(
            "orders",
            [
                field("orders.ordered_at", "min"),
                field("orders.ordered_at", "max"),
                field("orders.expected_delivery_date", "max"),
            ],
        )
    )
    stamps = [o["ordered_at"] for o in order_times]
    assert result.rows == [
        [min(stamps), max(stamps), max(o["expected_delivery_date"] for o in order_times)]
    ]
    assert isinstance(result.rows[0][0], datetime)
    assert type(result.rows[0][2]) is date


# -- group by and having ---------------------------------------------------------------------------


def test_group_by_status(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    expected = dict(fetch(sample_engine, "SELECT status, count(*) FROM orders GROUP BY status"))
    assert len(expected) == 6
    spec = query("orders", [field("orders.status"), field("orders.id", "count")])
    assert as_dict(sample_reader.run(spec)) == expected


def test_having_on_count(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    counts = dict(
        fetch(
            sample_engine,
            "SELECT c.country, count(*) FROM orders o JOIN customers c ON c.id = o.customer_id "
            "GROUP BY c.country",
        )
    )
    threshold = sorted(counts.values())[len(counts) // 2]
    expected = {k: v for k, v in counts.items() if v > threshold}
    assert 0 < len(expected) < len(counts), "threshold must split the groups"
    spec = query(
        "orders",
        [field("customers.country"), field("orders.id", "count")],
        [cond("orders.id", ">", threshold, aggregate="count")],
    )
    assert as_dict(sample_reader.run(spec)) == expected


def test_having_on_sum_without_showing_the_sum(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    sums = {
        status: float(total)
        for status, total in fetch(
            sample_engine, "SELECT status, sum(total_amount) FROM orders GROUP BY status"
        )
    }
    threshold = sorted(sums.values())[len(sums) // 2]
    expected = {k for k, v in sums.items() if v >= threshold}
    assert 0 < len(expected) < len(sums)
    spec = query(
        "orders",
        [field("orders.status")],
        [cond("orders.total_amount", ">=", threshold, aggregate="sum")],
    )
    assert first_column(sample_reader.run(spec).rows) == expected


def test_having_on_max_timestamp_with_a_bare_date(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    latest = {
        country: as_datetime(moment)
        for country, moment in fetch(
            sample_engine,
            "SELECT c.country, max(o.ordered_at) FROM orders o "
            "JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
        )
    }
    day = sorted(m.date() for m in latest.values() if m)[len(latest) // 2]
    # max(ordered_at) >= day (a bare date): the group's last order is on that day or later.
    expected = {k for k, m in latest.items() if m and m.date() >= day}
    spec = query(
        "orders",
        [field("customers.country")],
        [cond("orders.ordered_at", ">=", day.isoformat(), aggregate="max")],
    )
    assert first_column(sample_reader.run(spec).rows) == expected
    assert 0 < len(expected) < len(latest)


# -- time grains -----------------------------------------------------------------------------------


def bucket(moment: datetime | date, grain: str) -> date:
    day = moment.date() if isinstance(moment, datetime) else moment
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


@pytest.mark.parametrize("grain", ["day", "week", "month", "quarter", "year"])
def test_time_grain_buckets_are_iso_first_days(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]], grain: str
) -> None:
    # Days would exceed the row cap over three years: look at the first quarter of 2025 only.
    start, end = date(2025, 1, 1), date(2025, 3, 31)
    chosen = [o for o in order_times if start <= o["ordered_at"].date() <= end]
    expected = Counter(bucket(o["ordered_at"], grain) for o in chosen)
    spec = query(
        "orders",
        [field("orders.ordered_at", grain=grain), field("orders.id", "count")],
        [
            cond("orders.ordered_at", ">=", start.isoformat()),
            cond("orders.ordered_at", "<=", end.isoformat()),
        ],
        [sort("orders.ordered_at")],
        limit=1000,
    )
    result = sample_reader.run(spec)
    assert result.columns == [f"{grain}(orders.ordered_at)", "count(orders.id)"]
    assert dict(Counter({row[0]: row[1] for row in result.rows})) == dict(expected)
    keys = [row[0] for row in result.rows]
    assert keys == sorted(keys), "sorted by the bucket"
    assert all(type(k) is date for k in keys)
    if grain == "week":
        assert all(k.weekday() == 0 for k in keys), "weeks start on Monday"
        # 2024-12-30 is the Monday of the week holding 2025-01-01.
        assert keys[0] == date(2024, 12, 30)
    if grain == "quarter":
        assert keys == [date(2025, 1, 1)]
    if grain == "year":
        assert keys == [date(2025, 1, 1)]


@pytest.mark.parametrize("grain", ["week", "month", "quarter", "year"])
def test_time_grain_over_all_orders(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]], grain: str
) -> None:
    expected = Counter(bucket(o["ordered_at"], grain) for o in order_times)
    spec = query(
        "orders",
        [field("orders.ordered_at", grain=grain), field("orders.id", "count")],
        limit=1000,
    )
    assert as_dict(sample_reader.run(spec)) == dict(expected)


@pytest.mark.parametrize("grain", ["week", "month"])
def test_time_grain_on_a_date_column(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]], grain: str
) -> None:
    expected = Counter(bucket(o["expected_delivery_date"], grain) for o in order_times)
    spec = query(
        "orders",
        [field("orders.expected_delivery_date", grain=grain), field("orders.id", "count")],
        limit=1000,
    )
    assert as_dict(sample_reader.run(spec)) == dict(expected)


def test_time_grain_on_a_nullable_column_keeps_a_null_bucket(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]]
) -> None:
    expected = Counter(
        None if o["delivered_at"] is None else bucket(o["delivered_at"], "year")
        for o in order_times
    )
    assert expected[None] > 0
    spec = query(
        "orders",
        [field("orders.delivered_at", grain="year"), field("orders.id", "count")],
    )
    assert as_dict(sample_reader.run(spec)) == dict(expected)


def test_time_grain_without_aggregate_buckets_each_row(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]]
) -> None:
    first = sorted(order_times, key=lambda o: o["id"])[:20]
    spec = query(
        "orders",
        [field("orders.id"), field("orders.ordered_at", grain="month")],
        [cond("orders.id", "<=", first[-1]["id"])],
        [sort("orders.id")],
    )
    assert sample_reader.run(spec).rows == [
        [o["id"], bucket(o["ordered_at"], "month")] for o in first
    ]


# -- column comparisons (DynamicValue) -------------------------------------------------------------


def test_late_deliveries_compare_calendar_days(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]]
) -> None:
    delivered = [o for o in order_times if o["delivered_at"] is not None]
    late = {o["id"] for o in delivered if o["delivered_at"].date() > o["expected_delivery_date"]}
    on_the_day = [o for o in delivered if o["delivered_at"].date() == o["expected_delivery_date"]]
    assert late, "the sample has late deliveries"
    # Orders delivered during the promised day are not late, although their timestamp is after
    # the date's midnight: a naive timestamp comparison would count them.
    assert on_the_day, "the sample must have deliveries on the promised day for this test"
    spec = query(
        "orders",
        [field("orders.id")],
        [cond("orders.delivered_at", ">", {"column_name": "orders.expected_delivery_date"})],
        limit=1000,
    )
    result = sample_reader.run(spec)
    assert not result.truncated
    assert {row[0] for row in result.rows} == late


@pytest.mark.parametrize(
    ("operator", "check"),
    [
        ("=", lambda a, b: a == b),
        ("<=", lambda a, b: a <= b),
        ("<", lambda a, b: a < b),
        ("!=", lambda a, b: a != b),
        (">=", lambda a, b: a >= b),
    ],
)
def test_date_column_comparisons_both_ways(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]], operator: str, check: Any
) -> None:
    expected = sum(
        1
        for o in order_times
        if o["delivered_at"] is not None
        and check(o["expected_delivery_date"], o["delivered_at"].date())
    )
    spec = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.expected_delivery_date", operator, {"column_name": "orders.delivered_at"})],
    )
    assert one(sample_reader, spec) == expected


def test_shipped_before_ordered_never_happens(sample_reader: ReadOnlyDatabase) -> None:
    spec = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.shipped_at", "<", {"column_name": "orders.ordered_at"})],
    )
    assert one(sample_reader, spec) == 0


# -- bare dates on timestamps ----------------------------------------------------------------------

DAY_CHECKS = {
    "=": lambda d, day: d == day,
    "!=": lambda d, day: d != day,
    ">": lambda d, day: d > day,
    ">=": lambda d, day: d >= day,
    "<": lambda d, day: d < day,
    "<=": lambda d, day: d <= day,
}


@pytest.fixture(scope="module")
def busy_ship_day(order_times: list[dict[str, Any]]) -> date:
    """The day with the most shipments (so '=' has several matches)."""
    days = Counter(o["shipped_at"].date() for o in order_times if o["shipped_at"])
    day, count = days.most_common(1)[0]
    assert count >= 2
    return day


@pytest.mark.parametrize("operator", list(DAY_CHECKS))
def test_bare_date_on_a_timestamp_means_the_whole_day(
    sample_reader: ReadOnlyDatabase,
    order_times: list[dict[str, Any]],
    busy_ship_day: date,
    operator: str,
) -> None:
    check = DAY_CHECKS[operator]
    # shipped_at is nullable: a comparison never matches a missing timestamp.
    expected = {
        o["id"]
        for o in order_times
        if o["shipped_at"] is not None and check(o["shipped_at"].date(), busy_ship_day)
    }
    spec = query(
        "orders",
        [field("orders.id")],
        [cond("orders.shipped_at", operator, busy_ship_day.isoformat())],
        limit=1000,
    )
    result = sample_reader.run(spec)
    if len(expected) > 1000:
        assert result.truncated and {row[0] for row in result.rows} <= expected
        count_spec = dict(spec, columns=[field("orders.id", "count")])
        assert one(sample_reader, count_spec) == len(expected)
    else:
        assert not result.truncated
        assert {row[0] for row in result.rows} == expected


@pytest.mark.parametrize("operator", ["in", "not in"])
def test_bare_dates_in_a_list(
    sample_reader: ReadOnlyDatabase,
    order_times: list[dict[str, Any]],
    busy_ship_day: date,
    operator: str,
) -> None:
    days = [busy_ship_day, busy_ship_day + timedelta(days=2)]
    inside = operator == "in"
    expected = sum(
        1
        for o in order_times
        if o["shipped_at"] is not None and (o["shipped_at"].date() in days) == inside
    )
    spec = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.shipped_at", operator, [d.isoformat() for d in days])],
    )
    assert one(sample_reader, spec) == expected


def test_exact_timestamp_matches_exactly(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]]
) -> None:
    target = order_times[len(order_times) // 2]
    moment = target["ordered_at"]
    expected = {o["id"] for o in order_times if o["ordered_at"] == moment}
    spec = query(
        "orders",
        [field("orders.id")],
        [cond("orders.ordered_at", "=", moment.isoformat())],
    )
    assert first_column(sample_reader.run(spec).rows) == expected
    later = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.ordered_at", ">", moment.isoformat())],
    )
    assert one(sample_reader, later) == sum(1 for o in order_times if o["ordered_at"] > moment)


def test_bare_date_on_a_date_column(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]]
) -> None:
    day = order_times[100]["expected_delivery_date"]
    expected = sum(1 for o in order_times if o["expected_delivery_date"] <= day)
    spec = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.expected_delivery_date", "<=", day.isoformat())],
    )
    assert one(sample_reader, spec) == expected


# -- text matching ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def customer_texts(sample_engine: Engine) -> list[tuple[int, str, str, str]]:
    return fetch(sample_engine, "SELECT id, name, email, city FROM customers")


def customers_containing(reader: ReadOnlyDatabase, column: str, needle: str) -> set[int]:
    spec = query(
        "customers", [field("customers.id")], [cond(column, "contains", needle)], limit=1000
    )
    return first_column(reader.run(spec).rows)


@pytest.mark.parametrize("needle", ["JOHN", "john", "Son", "a", "ZZZ-no-match"])
def test_contains_is_case_insensitive(
    sample_reader: ReadOnlyDatabase, customer_texts: list[tuple[Any, ...]], needle: str
) -> None:
    expected = {row[0] for row in customer_texts if needle.lower() in row[1].lower()}
    assert customers_containing(sample_reader, "customers.name", needle) == expected


@pytest.mark.parametrize("needle", ["%", "_", "%%", "a%", "_o", "/", "\\"])
def test_contains_takes_wildcards_literally(
    sample_reader: ReadOnlyDatabase, customer_texts: list[tuple[Any, ...]], needle: str
) -> None:
    # As LIKE patterns these would match (almost) every email; literally, only those holding
    # the characters do.
    expected = {row[0] for row in customer_texts if needle.lower() in row[2].lower()}
    assert len(expected) < len(customer_texts)
    assert customers_containing(sample_reader, "customers.email", needle) == expected


def test_contains_on_a_joined_column(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    expected = scalar(
        sample_engine,
        "SELECT count(*) FROM order_items oi JOIN products p ON p.id = oi.product_id "
        "WHERE lower(p.category) = 'home & kitchen'",
    )
    assert expected > 0
    spec = query(
        "order_items",
        [field("order_items.id", "count")],
        [cond("products.category", "contains", "HOME & k")],
    )
    assert one(sample_reader, spec) == expected


# -- lists and nulls -------------------------------------------------------------------------------


def test_in_and_not_in(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    inside = scalar(
        sample_engine, "SELECT count(*) FROM orders WHERE status IN ('pending', 'processing')"
    )
    outside = scalar(
        sample_engine, "SELECT count(*) FROM orders WHERE status NOT IN ('pending', 'processing')"
    )
    spec_in = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.status", "in", ["Pending", "processing"])],
    )
    spec_out = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.status", "not in", ["pending", "PROCESSING"])],
    )
    assert one(sample_reader, spec_in) == inside
    assert one(sample_reader, spec_out) == outside
    assert inside > 0 and outside > 0


def test_in_with_integers(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    expected = {
        row[0] for row in fetch(sample_engine, "SELECT id FROM orders WHERE customer_id IN (3, 5)")
    }
    spec = query(
        "orders", [field("orders.id")], [cond("orders.customer_id", "in", [3, 5.0])], limit=1000
    )
    assert first_column(sample_reader.run(spec).rows) == expected


@pytest.mark.parametrize("operator", ["is null", "is not null"])
def test_null_tests(sample_reader: ReadOnlyDatabase, sample_engine: Engine, operator: str) -> None:
    expected = scalar(sample_engine, f"SELECT count(*) FROM orders WHERE delivered_at {operator}")
    assert expected > 0
    spec = query(
        "orders", [field("orders.id", "count")], [cond("orders.delivered_at", operator, None)]
    )
    assert one(sample_reader, spec) == expected


def test_canceled_orders_were_never_delivered(sample_reader: ReadOnlyDatabase) -> None:
    spec = query(
        "orders",
        [field("orders.id", "count")],
        [cond("orders.status", "=", "canceled"), cond("orders.delivered_at", "is not null", None)],
    )
    assert one(sample_reader, spec) == 0


# -- ordering --------------------------------------------------------------------------------------


def test_order_by_a_plain_column(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    expected = [
        money(row[0])
        for row in fetch(
            sample_engine, "SELECT total_amount FROM orders ORDER BY total_amount DESC LIMIT 10"
        )
    ]
    spec = query(
        "orders",
        [field("orders.total_amount")],
        order_by=[sort("orders.total_amount", "desc")],
        limit=10,
    )
    result = sample_reader.run(spec)
    assert [row[0] for row in result.rows] == expected
    assert result.truncated


def test_order_by_two_columns(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    expected = fetch(
        sample_engine,
        "SELECT customer_id, id FROM orders ORDER BY customer_id ASC, id DESC LIMIT 30",
    )
    spec = query(
        "orders",
        [field("orders.customer_id"), field("orders.id")],
        order_by=[sort("orders.customer_id"), sort("orders.id", "desc")],
        limit=30,
    )
    assert [tuple(row) for row in sample_reader.run(spec).rows] == expected


def test_order_by_an_aggregate(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    expected = [
        row[0]
        for row in fetch(
            sample_engine,
            "SELECT c.country FROM orders o JOIN customers c ON c.id = o.customer_id "
            "GROUP BY c.country ORDER BY sum(o.total_amount) DESC",
        )
    ]
    spec = query(
        "orders",
        [field("customers.country")],
        order_by=[sort("orders.total_amount", "desc", aggregate="sum")],
    )
    assert [row[0] for row in sample_reader.run(spec).rows] == expected


def test_order_by_a_grouped_column(sample_reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    expected = fetch(
        sample_engine, "SELECT status, count(*) FROM orders GROUP BY status ORDER BY status DESC"
    )
    spec = query(
        "orders",
        [field("orders.status"), field("orders.id", "count")],
        order_by=[sort("orders.status", "desc")],
    )
    assert [tuple(row) for row in sample_reader.run(spec).rows] == expected


# -- page size and cap -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "limit", "rows_returned", "truncated"),
    [
        ("orders", None, 100, True),
        ("orders", 5000, 1000, True),
        ("orders", 1000, 1000, True),
        ("orders", 7, 7, True),
        ("products", None, None, False),  # None: every product
        ("customers", "all", None, False),
        ("customers", "all-1", None, True),
    ],
)
def test_default_page_size_and_hard_cap(
    sample_reader: ReadOnlyDatabase,
    sample_engine: Engine,
    table: str,
    limit: Any,
    rows_returned: int | None,
    truncated: bool,
) -> None:
    total = scalar(sample_engine, f"SELECT count(*) FROM {table}")
    if limit == "all":
        limit = total
    elif limit == "all-1":
        limit = total - 1
    expected_rows = rows_returned if rows_returned is not None else min(limit or total, total)
    result = sample_reader.run(query(table, [field(f"{table}.id")], limit=limit))
    assert result.row_count == len(result.rows) == expected_rows
    assert result.truncated is truncated
    assert len({row[0] for row in result.rows}) == expected_rows


def test_aggregate_result_is_capped_too(
    sample_reader: ReadOnlyDatabase, order_times: list[dict[str, Any]]
) -> None:
    days = {o["ordered_at"].date() for o in order_times}
    assert len(days) > 1000
    spec = query(
        "orders", [field("orders.ordered_at", grain="day"), field("orders.id", "count")], limit=5000
    )
    result = sample_reader.run(spec)
    assert result.row_count == 1000 and result.truncated


# -- joins in both directions ----------------------------------------------------------------------


def test_condition_on_a_joined_one_side_table(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    expected = {
        row[0]
        for row in fetch(
            sample_engine,
            "SELECT oi.id FROM order_items oi JOIN orders o ON o.id = oi.order_id "
            "JOIN customers c ON c.id = o.customer_id "
            "WHERE c.country = 'Japan' AND o.status = 'returned'",
        )
    }
    assert expected
    spec = query(
        "order_items",
        [field("order_items.id")],
        [cond("customers.country", "=", "Japan"), cond("orders.status", "=", "returned")],
        limit=1000,
    )
    assert first_column(sample_reader.run(spec).rows) == expected


# -- no inflation through one-to-many joins --------------------------------------------------------


def test_count_of_orders_with_a_books_item(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    expected = scalar(
        sample_engine,
        "SELECT count(DISTINCT o.id) FROM orders o JOIN order_items oi ON oi.order_id = o.id "
        "JOIN products p ON p.id = oi.product_id WHERE p.category = 'Books'",
    )
    inflated = scalar(
        sample_engine,
        "SELECT count(*) FROM orders o JOIN order_items oi ON oi.order_id = o.id "
        "JOIN products p ON p.id = oi.product_id WHERE p.category = 'Books'",
    )
    assert inflated > expected, "the sample must have orders with several Books lines"
    spec = query("orders", [field("orders.id", "count")], [cond("products.category", "=", "Books")])
    assert one(sample_reader, spec) == expected


DEDUPLICATED_BY_CATEGORY = (
    "SELECT pc.category, {aggregate}(o.total_amount) FROM orders o "
    "JOIN (SELECT DISTINCT oi.order_id, p.category FROM order_items oi "
    "      JOIN products p ON p.id = oi.product_id) pc ON pc.order_id = o.id "
    "GROUP BY pc.category"
)


@pytest.mark.parametrize("aggregate", ["sum", "avg"])
def test_order_amounts_per_category_are_not_inflated(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine, aggregate: str
) -> None:
    expected = {
        category: money(value)
        for category, value in fetch(
            sample_engine, DEDUPLICATED_BY_CATEGORY.format(aggregate=aggregate)
        )
    }
    inflated = {
        category: money(value)
        for category, value in fetch(
            sample_engine,
            f"SELECT p.category, {aggregate}(o.total_amount) FROM orders o "
            "JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id "
            "GROUP BY p.category",
        )
    }
    assert expected != inflated, "the naive join must differ, or the test proves nothing"
    spec = query("orders", [field("products.category"), field("orders.total_amount", aggregate)])
    assert as_dict(sample_reader.run(spec)) == pytest.approx(expected, abs=0.01)


def test_order_amounts_per_category_ordered_and_filtered_by_the_sum(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    sums = {
        c: float(v)
        for c, v in fetch(sample_engine, DEDUPLICATED_BY_CATEGORY.format(aggregate="sum"))
    }
    threshold = sorted(sums.values())[1]
    expected = sorted((c for c, v in sums.items() if v > threshold), key=lambda c: -sums[c])
    spec = query(
        "orders",
        [field("products.category")],
        [cond("orders.total_amount", ">", threshold, aggregate="sum")],
        [sort("orders.total_amount", "desc", aggregate="sum")],
    )
    assert [row[0] for row in sample_reader.run(spec).rows] == expected


def test_line_totals_and_order_counts_per_category_together(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    expected = {
        category: (count, money(revenue))
        for category, count, revenue in fetch(
            sample_engine,
            "SELECT p.category, count(DISTINCT oi.order_id), sum(oi.quantity * oi.unit_price) "
            "FROM order_items oi JOIN products p ON p.id = oi.product_id GROUP BY p.category",
        )
    }
    spec = query(
        "orders",
        [
            field("products.category"),
            field("orders.id", "count"),
            field("order_items.line_total", "sum"),
        ],
    )
    result = sample_reader.run(spec)
    actual = {row[0]: (row[1], row[2]) for row in result.rows}
    assert actual.keys() == expected.keys()
    for category, (count, revenue) in expected.items():
        assert actual[category][0] == count
        assert actual[category][1] == pytest.approx(revenue, abs=0.01)


def test_many_side_conditions_on_different_tables_are_one_semi_join(
    sample_reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    # Customers who bought a Books item in an order that was returned: both conditions must hold
    # for the same order line, not for two unrelated orders.
    expected = scalar(
        sample_engine,
        "SELECT count(*) FROM customers c WHERE EXISTS ("
        " SELECT 1 FROM orders o JOIN order_items oi ON oi.order_id = o.id"
        " JOIN products p ON p.id = oi.product_id"
        " WHERE o.customer_id = c.id AND o.status = 'returned' AND p.category = 'Books')",
    )
    loose = scalar(
        sample_engine,
        "SELECT count(*) FROM customers c WHERE EXISTS (SELECT 1 FROM orders o"
        " WHERE o.customer_id = c.id AND o.status = 'returned') AND EXISTS (SELECT 1 FROM orders o"
        " JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id"
        " WHERE o.customer_id = c.id AND p.category = 'Books')",
    )
    assert loose > expected, "the sample must tell the two readings apart"
    spec = query(
        "customers",
        [field("customers.id", "count")],
        [cond("orders.status", "=", "returned"), cond("products.category", "=", "Books")],
    )
    assert one(sample_reader, spec) == expected
