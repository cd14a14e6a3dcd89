"""What the SQL-shape rules are worth: nl2sql's SQL against the form it wrote before the rule.

    nl2sql db generate --sqlite /tmp/orders-1m.sqlite3 --orders 1000000
    python benchmarks/shape_rules.py /tmp/orders-1m.sqlite3

For each spec: nl2sql runs it (with the rule), and SQLAlchemy runs the SQL text nl2sql wrote
with the rule undone; the median of 5 runs each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text

from nl2sql.execute import ReadOnlyDatabase

COUNT = {"column": "orders.id", "aggregate": "count", "time_grain": None}
STATUS = {"column": "orders.status", "aggregate": None, "time_grain": None}
DELIVERED = {"column": "orders.status", "aggregate": None, "operator": "=", "value": "delivered"}


def spec(columns: list[dict[str, Any]], conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "table_name": "orders",
        "columns": columns,
        "conditions": conditions,
        "order_by": [],
        "limit": None,
    }


# name -> (spec, what the rule rewrote: (its form, the form before it))
CASES = {
    "all orders (count_rows)": (spec([COUNT], []), ("count(*)", "count(orders.id)")),
    "delivered orders (count_rows)": (spec([COUNT], [DELIVERED]), ("count(*)", "count(orders.id)")),
    "orders per status (count_rows)": (
        spec([STATUS, COUNT], []),
        ("count(*)", "count(orders.id)"),
    ),
}


def median_ms(call: Callable[[], Any]) -> float:
    call()
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sqlite")
    args = parser.parse_args()
    db = ReadOnlyDatabase(f"sqlite:///{args.sqlite}")
    engine = create_engine(db.url)
    print(f"{'question':<34}{'before':>10}{'nl2sql':>10}{'ratio':>8}")
    for name, (query, (after, before)) in CASES.items():
        sql = db.run(query).sql
        assert after in sql, sql
        old = text(sql.replace(after, before))

        def run_old(statement: Any = old) -> Any:
            with engine.connect() as connection:
                return connection.execute(statement).fetchall()

        slow, fast = median_ms(run_old), median_ms(lambda q=query: db.run(q))
        print(f"{name:<34}{slow:>8.1f}ms{fast:>8.1f}ms{slow / fast:>7.1f}x")
    engine.dispose()
    db.close()


if __name__ == "__main__":
    main()
