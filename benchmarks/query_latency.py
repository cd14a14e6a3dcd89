"""Compile-and-run latency of representative Query tool calls on a database.

    python benchmarks/query_latency.py --db /tmp/orders-1m.sqlite3 [--repeat 5]

Prints the median and worst time per query (compile + execute + fetch), in milliseconds.
Build a large database first with `nl2sql db generate --sqlite FILE --orders 1000000`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from nl2sql.execute import ReadOnlyDatabase


def field(column: str, aggregate: str | None = None, grain: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "time_grain": grain}


def where(column: str, operator: str, value: Any, aggregate: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "operator": operator, "value": value}


def query(base: str = "orders", columns=(), conditions=(), order_by=(), limit=None) -> dict:  # type: ignore[no-untyped-def]
    return {
        "table_name": base,
        "columns": list(columns),
        "conditions": list(conditions),
        "order_by": list(order_by),
        "limit": limit,
    }


CASES: dict[str, dict[str, Any]] = {
    "count in transit": query(
        columns=[field("orders.id", "count")], conditions=[where("orders.status", "=", "shipped")]
    ),
    "late last month": query(
        columns=[field("orders.id", "count")],
        conditions=[
            where("orders.delivered_at", ">", {"column_name": "orders.expected_delivery_date"}),
            where("orders.ordered_at", ">=", "2026-10-01"),
            where("orders.ordered_at", "<", "2026-11-01"),
        ],
    ),
    "orders per month 2025": query(
        columns=[field("orders.ordered_at", None, "month"), field("orders.id", "count")],
        conditions=[
            where("orders.ordered_at", ">=", "2025-01-01"),
            where("orders.ordered_at", "<", "2026-01-01"),
        ],
    ),
    "revenue per category": query(
        "order_items", columns=[field("products.category"), field("order_items.line_total", "sum")]
    ),
    "orders with a Books item": query(
        columns=[field("orders.id", "count")], conditions=[where("products.category", "=", "Books")]
    ),
    "sum of totals per category (de-duplicated)": query(
        columns=[field("products.category"), field("orders.total_amount", "sum")]
    ),
    "top 10 customers by orders": query(
        "customers",
        columns=[field("customers.name"), field("orders.id", "count")],
        order_by=[{"column": "orders.id", "aggregate": "count", "direction": "desc"}],
        limit=10,
    ),
    "latest 3 to Brazil": query(
        columns=[field("orders.id"), field("orders.ordered_at")],
        conditions=[where("customers.country", "=", "Brazil")],
        order_by=[{"column": "orders.ordered_at", "aggregate": None, "direction": "desc"}],
        limit=3,
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database URL or SQLite file")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--customer", type=int, default=None, help="tenant scope")
    args = parser.parse_args()
    with ReadOnlyDatabase(args.db, timeout=120) as db:
        print(f"{'query':45} {'median ms':>10} {'max ms':>10} {'rows':>6}")
        for name, spec in CASES.items():
            timings, rows = [], 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = db.run(spec, customer_id=args.customer)
                timings.append((time.perf_counter() - started) * 1000)
                rows = result.row_count
            print(f"{name:45} {statistics.median(timings):10.1f} {max(timings):10.1f} {rows:6}")


if __name__ == "__main__":
    main()
