"""What migration 0002's indexes are worth: the same questions with and without them.

    nl2sql db generate --sqlite /tmp/orders-1m.sqlite3 --orders 1000000
    python benchmarks/index_effect.py /tmp/orders-1m.sqlite3

Copies the file, drops 0002's indexes from the copy (restoring the single customer index it
replaced), then runs each spec through nl2sql on both and prints the median of 5 runs.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from nl2sql.execute import ReadOnlyDatabase

NEW_INDEXES = (
    "ix_orders_delivered_at",
    "ix_orders_shipped_at",
    "ix_orders_canceled_at",
    "ix_orders_customer_id_ordered_at",
)
COUNT = [{"column": "orders.id", "aggregate": "count", "time_grain": None}]
OCTOBER = ["2026-10-01", "2026-10-31"]


def where(column: str, operator: str, value: Any) -> dict[str, Any]:
    return {"column": column, "aggregate": None, "operator": operator, "value": value}


def counting(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "table_name": "orders",
        "columns": COUNT,
        "conditions": list(conditions),
        "order_by": [],
        "limit": None,
    }


EXPECTED = {"column_name": "orders.expected_delivery_date", "aggregate": None, "within": None}
CASES: dict[str, tuple[dict[str, Any], int | None]] = {
    "delivered last month": (counting(where("orders.delivered_at", "between", OCTOBER)), None),
    "late deliveries last month": (
        counting(
            where("orders.delivered_at", "between", OCTOBER),
            where("orders.delivered_at", ">", EXPECTED),
        ),
        None,
    ),
    "shipped last month": (counting(where("orders.shipped_at", "between", OCTOBER)), None),
    "canceled this year": (counting(where("orders.canceled_at", ">=", "2026-01-01")), None),
    "customer 13's orders in 2025": (
        counting(where("orders.ordered_at", "between", ["2025-01-01", "2025-12-31"])),
        13,
    ),
}


def without_new_indexes(path: Path, folder: Path) -> Path:
    copy = folder / "without.sqlite3"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as connection:
        for index in NEW_INDEXES:
            connection.execute(f"DROP INDEX IF EXISTS {index}")
        connection.execute("CREATE INDEX ix_orders_customer_id ON orders (customer_id)")
        connection.execute("ANALYZE")
    return copy


def median_ms(db: ReadOnlyDatabase, spec: dict[str, Any], customer: int | None) -> float:
    db.run(spec, customer_id=customer)
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        db.run(spec, customer_id=customer)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sqlite", type=Path)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nl2sql-indexes-"))
    before = ReadOnlyDatabase(f"sqlite:///{without_new_indexes(args.sqlite, folder)}")
    after = ReadOnlyDatabase(f"sqlite:///{args.sqlite}")
    print(f"{'question':<32}{'without':>10}{'with':>10}{'ratio':>8}")
    for name, (spec, customer) in CASES.items():
        slow, fast = median_ms(before, spec, customer), median_ms(after, spec, customer)
        print(f"{name:<32}{slow:>8.1f}ms{fast:>8.1f}ms{slow / fast:>7.1f}x")
    before.close()
    after.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
