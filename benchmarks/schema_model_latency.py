"""The schema-driven offline model on TPC-H: start-up (reading values) and per-question time.

    python benchmarks/schema_model_latency.py DB_URL [--customer N]

DB_URL is a TPC-H database (`nl2sql db tpch --db URL [--scale N]`), asked with
configs/tpch.toml. Start-up is building the model (each text column's distinct values, read
through the tenant scope); per question is parsing the blind TPC-H set's questions into Query
tool calls (no SQL run), then a whole Agent turn for the set's first question.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tomllib
from datetime import date
from pathlib import Path

from nl2sql.agent import Agent
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.models.offline.any_schema import understand_any
from nl2sql.models.offline.model import OfflineModel
from nl2sql.models.offline.schema_question import NotRead

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "tests" / "questions" / "tpch-blind.toml"
TODAY = date(1998, 8, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--customer", type=int, default=None)
    args = parser.parse_args()
    questions = [case["question"] for case in tomllib.loads(QUESTIONS.read_text())["case"]]
    with ReadOnlyDatabase(args.url, config=REPO / "configs" / "tpch.toml") as db:
        started = time.perf_counter()
        model = OfflineModel(db, today=TODAY, customer_id=args.customer)
        print(f"start-up: {(time.perf_counter() - started) * 1000:.0f} ms")
        assert model.schema_words is not None, "not a TPC-H database: the tuned model serves it"
        timings = []
        for question in questions * 3:
            started = time.perf_counter()
            try:
                understand_any(question, TODAY, model.schema_words)
            except NotRead:
                pass
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"per question (parse only): median {statistics.median(timings):.2f} ms, "
            f"max {max(timings):.2f} ms over {len(timings)}"
        )
        agent = Agent(db, model="offline", today=TODAY, customer_id=args.customer)
        started = time.perf_counter()
        agent.ask(questions[0])
        print(f"whole turn (question + SQL): {(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
