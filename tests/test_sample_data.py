"""The sample database obeys every rule of DESIGN.md section 1, on every backend."""

from __future__ import annotations

import filecmp
import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from query_builders import reference_engine
from sqlalchemy import text

from nl2sql import database, sample_data
from nl2sql.errors import ConfigError

PINNED_COUNTRIES = {
    "United States",
    "United Kingdom",
    "Germany",
    "France",
    "Canada",
    "Japan",
    "Australia",
    "Brazil",
}
PINNED_CATEGORIES = {"Electronics", "Books", "Clothing", "Home & Kitchen", "Sports", "Toys"}


def scalar(url: str, sql: str):  # type: ignore[no-untyped-def]
    engine = reference_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return value


def column(url: str, sql: str) -> list:  # type: ignore[type-arg]
    engine = reference_engine(url)
    with engine.connect() as connection:
        values = list(connection.execute(text(sql)).scalars())
    engine.dispose()
    return values


def test_sizes(sample_url: str) -> None:
    assert scalar(sample_url, "SELECT count(*) FROM orders") >= 2000
    assert scalar(sample_url, "SELECT count(*) FROM customers") >= 100
    assert scalar(sample_url, "SELECT count(DISTINCT country) FROM customers") >= 8
    assert scalar(sample_url, "SELECT count(*) FROM products") >= 30
    assert scalar(sample_url, "SELECT count(DISTINCT category) FROM products") >= 5


def test_pinned_countries_and_categories(sample_url: str) -> None:
    assert PINNED_COUNTRIES <= set(column(sample_url, "SELECT DISTINCT country FROM customers"))
    assert PINNED_CATEGORIES <= set(column(sample_url, "SELECT DISTINCT category FROM products"))


def test_every_status_present(sample_url: str) -> None:
    statuses = set(column(sample_url, "SELECT DISTINCT status FROM orders"))
    assert statuses == {"pending", "processing", "shipped", "delivered", "canceled", "returned"}


def test_orders_span_the_pinned_dates(sample_url: str) -> None:
    first = scalar(sample_url, "SELECT min(ordered_at) FROM orders")
    last = scalar(sample_url, "SELECT max(ordered_at) FROM orders")
    first, last = (
        v if isinstance(v, datetime) else datetime.fromisoformat(v) for v in (first, last)
    )
    assert first.date() == date(2024, 1, 1)
    assert last.date() == date(2026, 11, 28)


def test_totals_equal_the_sum_of_items(sample_url: str) -> None:
    mismatches = scalar(
        sample_url,
        # SQLite keeps NUMERIC as binary floating point, so allow less than a cent of rounding.
        """SELECT count(*) FROM orders o WHERE abs(o.total_amount -
           (SELECT sum(i.quantity * i.unit_price) FROM order_items i WHERE i.order_id = o.id))
           > 0.001""",
    )
    assert mismatches == 0
    assert (
        scalar(
            sample_url,
            "SELECT count(*) FROM orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
        )
        == 0
    )


def test_timestamps_are_consistent(sample_url: str) -> None:
    assert scalar(sample_url, "SELECT count(*) FROM orders WHERE shipped_at < ordered_at") == 0
    assert scalar(sample_url, "SELECT count(*) FROM orders WHERE delivered_at < shipped_at") == 0
    assert (
        scalar(
            sample_url,
            "SELECT count(*) FROM orders WHERE delivered_at IS NOT NULL AND shipped_at IS NULL",
        )
        == 0
    )
    assert (
        scalar(
            sample_url,
            "SELECT count(*) FROM orders "
            "WHERE canceled_at IS NOT NULL AND delivered_at IS NOT NULL",
        )
        == 0
    )
    assert (
        scalar(
            sample_url,
            "SELECT count(*) FROM orders o JOIN customers c "
            "ON c.id = o.customer_id WHERE o.ordered_at < c.created_at",
        )
        == 0
    )
    assert (
        scalar(
            sample_url,
            "SELECT count(*) FROM orders WHERE greatest_ts > '2026-11-28 23:59:59.999999'".replace(
                "greatest_ts", "coalesce(delivered_at, shipped_at, canceled_at, ordered_at)"
            ),
        )
        == 0
    )


def test_status_agrees_with_timestamps(sample_url: str) -> None:
    rules = {
        "canceled": "canceled_at IS NULL OR delivered_at IS NOT NULL",
        "delivered": "delivered_at IS NULL",
        "returned": "delivered_at IS NULL",
        "shipped": "shipped_at IS NULL OR delivered_at IS NOT NULL",
        "processing": "shipped_at IS NOT NULL",
        "pending": "shipped_at IS NOT NULL",
    }
    for status, broken in rules.items():
        sql = f"SELECT count(*) FROM orders WHERE status = '{status}' AND ({broken})"
        assert scalar(sample_url, sql) == 0, status


def test_realistic_spread(sample_url: str) -> None:
    delivery_day = "date(delivered_at)" if sample_url.startswith("sqlite") else "delivered_at::date"
    late = scalar(
        sample_url,
        "SELECT count(*) FROM orders WHERE delivered_at IS NOT NULL AND "
        f"{delivery_day} > expected_delivery_date",
    )
    orders = scalar(sample_url, "SELECT count(*) FROM orders")
    assert 0.05 * orders < late < 0.3 * orders
    in_transit = scalar(sample_url, "SELECT count(*) FROM orders WHERE status = 'shipped'")
    assert in_transit >= 5
    recent_open = scalar(
        sample_url,
        "SELECT count(*) FROM orders WHERE ordered_at >= "
        "'2026-11-25' AND status IN ('pending', 'processing', 'shipped')",
    )
    assert recent_open >= 5
    stuck = scalar(
        sample_url,
        "SELECT count(*) FROM orders WHERE ordered_at < '2026-11-07' "
        "AND status IN ('pending', 'processing', 'shipped')",
    )
    assert stuck >= 2


def test_amounts_read_back_to_the_cent(sample_url: str) -> None:
    first_order = (database.SAMPLE_DATA_DIR / "orders.csv").read_text().splitlines()[1]
    engine = reference_engine(sample_url)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT total_amount FROM orders WHERE id = 1")).scalar()
    engine.dispose()
    assert round(Decimal(str(total)), 2) == Decimal(first_order.rsplit(",", 1)[1])


def test_generator_reproduces_the_committed_csv(tmp_path: Path) -> None:
    sample_data.write_csv(tmp_path)
    for name in sample_data.CSV_FILES:
        assert filecmp.cmp(
            tmp_path / f"{name}.csv", database.SAMPLE_DATA_DIR / f"{name}.csv", shallow=False
        ), name


def test_large_sqlite_build_is_complete_and_indexed(tmp_path: Path) -> None:
    path = tmp_path / "big.sqlite3"
    sample_data.write_sqlite(path, order_count=30_000, batch=7_000)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM orders").fetchone()[0] == 30_000
        indexes = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'"
            )
        }
        assert "ix_orders_status" in indexes and "ix_order_items_order_id" in indexes
        bad = connection.execute(
            "SELECT count(*) FROM orders o WHERE abs(o.total_amount - (SELECT sum(quantity * "
            "unit_price) FROM order_items WHERE order_id = o.id)) > 0.001"
        ).fetchone()[0]
        assert bad == 0
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        assert revision == database.head_revision()


@pytest.mark.parametrize("days", [0, 1, 30])
def test_snapshot_is_the_end_of_the_last_day(days: int) -> None:
    moment = sample_data.SNAPSHOT - timedelta(days=days)
    assert moment <= datetime(2026, 11, 28, 23, 59, 59)


@pytest.mark.parametrize("backend", ["postgresql", "duckdb"])
def test_generate_fills_postgresql_and_duckdb_like_sqlite(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The same seed gives the same rows through COPY as through SQLite's inserts, with the
    indexes built and the schema at the head revision."""
    from conftest import new_database_url
    from sqlalchemy import create_engine, inspect

    url = new_database_url(backend, tmp_path, request)
    sample_data.write_database(url, order_count=3_000, seed=7)
    sample_data.write_sqlite(tmp_path / "same.sqlite3", order_count=3_000, seed=7)
    facts = (
        "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM order_items), "
        "(SELECT sum(total_amount) FROM orders), (SELECT count(delivered_at) FROM orders), "
        "(SELECT max(ordered_at) FROM orders)"
    )
    got, expected = [], []
    for target, found in ((url, got), (f"sqlite:///{tmp_path / 'same.sqlite3'}", expected)):
        engine = create_engine(target)
        with engine.connect() as connection:
            found.extend(connection.execute(text(facts)).one())
            if target == url:
                if backend == "postgresql":  # duckdb-engine does not reflect indexes
                    indexes = {i["name"] for i in inspect(connection).get_indexes("orders")}
                    assert "ix_orders_delivered_at" in indexes
                revision = connection.execute(text("SELECT version_num FROM alembic_version"))
                assert revision.scalar() == database.head_revision()
        engine.dispose()
    assert got[:2] == expected[:2] and float(got[2]) == pytest.approx(float(expected[2]))
    assert got[3] == expected[3] and str(got[4])[:19] == str(expected[4])[:19]
    with pytest.raises(ConfigError, match="already has tables"):
        sample_data.write_database(url, order_count=10)


def test_generate_refuses_an_existing_sqlite_file(tmp_path: Path) -> None:
    existing = tmp_path / "orders.sqlite3"
    existing.write_bytes(b"")
    with pytest.raises(ConfigError, match="already exists"):
        sample_data.write_sqlite(existing, order_count=10)
    assert existing.read_bytes() == b""
