"""Offline model latency: start-up (reading the database's values) and per-question time.

    python benchmarks/offline_latency.py [DB_URL] [--execute]

Without --execute it times the model alone (parse -> Query tool call, then the answer text from a
fixed result), which is what "each answer takes well under 100 ms" is about. With --execute it
times whole Agent turns (model + compile + SQL on the database) as well. DB_URL defaults to the
sample database (NL2SQL_DATABASE_URL or the local file `nl2sql` creates).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from nl2sql.agent import Agent
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.models.offline.model import OfflineModel

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "questions" / "development.toml"
FAKE_RESULT = (
    '{"columns": ["count(orders.id)"], "rows": [[42]], "row_count": 1, "truncated": false}'
)


def load_cases() -> list[dict[str, Any]]:
    with open(QUESTIONS, "rb") as handle:
        return list(tomllib.load(handle)["case"])


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return (
        f"{label}: median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, "
        f"max {ordered[-1]:.2f} ms over {len(ordered)} questions"
    )


def model_only(model: OfflineModel, cases: list[dict[str, Any]]) -> list[float]:
    timings = []
    for case in cases:
        system = {"role": "system", "content": f"Today is {case['today']}."}
        user = {"role": "user", "content": case["question"]}
        model.today = date.fromisoformat(str(case["today"]))  # given to it, as the agent does
        started = time.perf_counter()
        reply = model.reply({"messages": [system, user]})
        if reply.get("tool_calls"):
            call = reply["tool_calls"][0]
            model.reply(
                {
                    "messages": [
                        system,
                        user,
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {"id": call["id"], "type": "function", "function": call["function"]}
                            ],
                        },
                        {"role": "tool", "tool_call_id": call["id"], "content": FAKE_RESULT},
                    ]
                }
            )
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def whole_turns(url: str | None, cases: list[dict[str, Any]]) -> list[float]:
    db = ReadOnlyDatabase(url)
    timings = []
    for case in cases:
        agent = Agent(
            db,
            model="offline",
            today=date.fromisoformat(case["today"]),
            customer_id=case.get("customer_id"),
        )
        started = time.perf_counter()
        agent.ask(case["question"])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default=None, help="database URL (default: sample)")
    parser.add_argument("--execute", action="store_true", help="also time whole Agent turns")
    args = parser.parse_args()
    cases = load_cases()

    db = ReadOnlyDatabase(args.url)
    started = time.perf_counter()
    model = OfflineModel(db)
    startup = (time.perf_counter() - started) * 1000
    print(f"database: {db.url}")
    print(f"start-up (read values): {startup:.1f} ms")
    model_only(model, cases[:5])  # warm up regex and rapidfuzz caches
    print(summary("model per question (parse + answer)", model_only(model, cases)))
    if args.execute:
        print(summary("agent turn (model + SQL)", whole_turns(args.url, cases)))


if __name__ == "__main__":
    main()
