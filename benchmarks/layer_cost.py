"""The layer's own cost: a small spec through nl2sql against SQLAlchemy running its SQL text.

    python benchmarks/layer_cost.py [--db URL] [--runs 300]

Both open a connection, run and fetch; nl2sql also validates, compiles (or finds the compiled
statement of a call it has seen), converts values and writes `understood`. Three ways: the
same call repeated (what a dashboard or a test suite sends), a new value every call (nothing
to reuse), and the repeated call with the SQL shown (the literal SQL is written on demand).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from nl2sql import database
from nl2sql.execute import ReadOnlyDatabase


def spec(since: str) -> dict[str, Any]:
    return {
        "table_name": "orders",
        "columns": [
            {"column": "orders.status", "aggregate": None, "time_grain": None},
            {"column": "orders.id", "aggregate": "count", "time_grain": None},
        ],
        "conditions": [
            {"column": "orders.ordered_at", "aggregate": None, "operator": ">=", "value": since}
        ],
        "order_by": [],
        "limit": None,
    }


def median_us(call: Callable[[], Any], runs: int) -> float:
    for _ in range(min(50, runs)):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="default: a fresh sample SQLite database")
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    url = args.db
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'orders.sqlite3'}"
        database.init_database(url)
    db = ReadOnlyDatabase(url)
    sql = db.run(spec("2026-01-01")).sql
    engine = create_engine(db.url)

    def raw() -> Any:
        with engine.connect() as connection:
            return connection.execute(text(sql)).fetchall()

    seconds = iter(range(86_400))  # a distinct moment of 2026-01-01 for every call

    def moment() -> str:
        second = next(seconds)
        return f"2026-01-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"

    ways = {
        "same call repeated": lambda: db.run(spec("2026-01-01")),
        "a new value every call": lambda: db.run(spec(moment())),
        "repeated, SQL shown": lambda: db.run(spec("2026-01-01")).sql,
    }
    base = median_us(raw, args.runs)
    print(f"SQLAlchemy, the same SQL text: {base:.0f} us")
    for name, call in ways.items():
        spent = median_us(call, args.runs)
        print(f"nl2sql, {name:<24}{spent:>6.0f} us  {spent / base:.1f}x")
    engine.dispose()
    db.close()


if __name__ == "__main__":
    main()
