"""The same Query compiles to the same SQL text in every process (no set-order leaks)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from nl2sql.compiler import compile_query
spec = {"table_name": "order_items", "columns": [
    {"column": "products.category", "aggregate": None, "time_grain": None},
    {"column": "customers.country", "aggregate": None, "time_grain": None},
    {"column": "order_items.line_total", "aggregate": "sum", "time_grain": None}],
    "conditions": [{"column": "orders.status", "aggregate": None, "operator": "=",
                    "value": "delivered"}], "order_by": [], "limit": None}
print(compile_query(spec).statement)
"""


def compiled_in_fresh_process(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_sql_text_does_not_depend_on_hash_seed() -> None:
    outputs = {compiled_in_fresh_process(seed) for seed in ("1", "2", "3", "4")}
    assert len(outputs) == 1, outputs
