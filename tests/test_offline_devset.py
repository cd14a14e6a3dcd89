"""The offline model against its five question sets (tests/fixtures): development, held-out,
fresh, blind and second blind. The blind sets were written without looking at the parser; they
have since been tuned on, like the others.

Every case runs through the real Agent (offline model, Chat Completions wire protocol, Query tool,
compiler, read-only SQLite) and its rows are compared with the case's hand-written SQL on the
same sample database. Run with `pytest -s` to see the accuracy table per kind.
"""

from __future__ import annotations

import sqlite3
import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from nl2sql import database
from nl2sql.agent import Agent

FIXTURES = Path(__file__).parent / "fixtures"
DEV_BAR = 0.95
HOLDOUT_BAR = 0.9
FRESH_BAR = 0.9
BLIND_BAR = 0.85
# The second blind set: 74/80 (92.5%) when first measured, untuned; its failures were then
# used to find general gaps (contractions, "none" questions, sort phrases, my latest order,
# period shifts), so it is now tuned on. A new blind set measures what generalises.
BLIND2_BAR = 0.9
# The third blind set: 81/100 when first measured, untuned; its failures were then used to find
# general gaps (year to date, spenders, ops phrases for late / overdue / stuck parcels, date sort
# phrases, follow-ups switching entity, typos in short words), so it is now tuned on.
BLIND3_BAR = 0.9
# Written blind for the final measure: 95/100 when first run, untuned. Its failures were then
# used to find general gaps (overdue phrasings, "their" / "those" in chained follow-ups, "after
# the date you promised", measure switches such as "by revenue instead"), so it is now tuned on;
# measure generalisation with a new blind set instead.
FINAL_BAR = 0.9
# Sixth blind set: 90/100 when first run, untuned. Its failures were then used to find general
# gaps (day ranges before the month, "2024 or later", yes/no questions answered by a count,
# "so far" tallies, "worst month for sales", swapped letters in values, buyers per period, bare
# numbers as money after "spent"), so it is now tuned on; a new blind set measures what
# generalises.
FINAL2_BAR = 0.9
# Seventh blind set: 88/100 when first run, untuned. Its failures were then used to find general
# gaps (yes/no questions as counts, "is there" / "has X ever", follow-ups asking an attribute of
# the previous rows, "who placed that one?", "what was in order #N?", late meaning overdue for
# orders still on their way, asked email addresses, a status narrowing "not delivered yet",
# per-group comparisons of two values), so it is now tuned on; a new blind set measures what
# generalises.
FINAL3_BAR = 0.9
# Eighth blind set: 83/100 when first run, untuned (abbreviations like "qtr", "rev"). Its failures
# were then used to find general fixes (a shorthand table: "no.", "qty", "mo", "50k", ...; "did
# not arrive on time"; "do we have customers in X?"; the price paid; places rows fall in; a
# priced category's products; two groups joined by "and"; yearless quarters; "did not order
# since"), so it is now tuned on; a new blind set measures what generalises.
FINAL4_BAR = 0.9
# Ninth blind set, never tuned on: 77/80 (96.2%) when first run. Keep it untuned: measure the
# next change of the model on it before looking at its failures.
FINAL5_BAR = 0.9


def load_cases(name: str) -> list[dict[str, Any]]:
    with open(FIXTURES / name, "rb") as handle:
        return list(tomllib.load(handle)["case"])


@pytest.fixture(scope="module")
def sample_sqlite(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    path = tmp_path_factory.mktemp("offline") / "orders.sqlite3"
    url = f"sqlite:///{path}"
    database.init_database(url)
    return url, path


def same_value(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(actual, int | float) and abs(float(actual) - float(expected)) <= 0.01
    if isinstance(actual, datetime):
        return str(expected) in (actual.date().isoformat(), actual.isoformat(sep=" "))
    if isinstance(actual, date):
        return str(expected) == actual.isoformat()
    return str(expected) == str(actual)


def row_matches(expected: tuple[Any, ...], actual: list[Any]) -> bool:
    pool = list(actual)
    for value in expected:
        hit = next((i for i, a in enumerate(pool) if same_value(value, a)), None)
        if hit is None:
            return False
        pool.pop(hit)
    return True


def rows_match(expected: list[tuple[Any, ...]], actual: list[list[Any]], ordered: bool) -> bool:
    if len(expected) != len(actual):
        return False
    if ordered:
        return all(row_matches(e, a) for e, a in zip(expected, actual, strict=True))
    remaining = list(actual)
    for row in expected:
        hit = next((i for i, a in enumerate(remaining) if row_matches(row, a)), None)
        if hit is None:
            return False
        remaining.pop(hit)
    return True


@dataclass
class Outcome:
    case: dict[str, Any]
    passed: bool
    detail: str


def chain(case: dict[str, Any], cases: list[dict[str, Any]]) -> list[str]:
    """The questions to replay before this one (follow_up_of, recursively)."""
    questions: list[str] = []
    parent_text = case.get("follow_up_of")
    while parent_text:
        questions.insert(0, parent_text)
        parent = next((c for c in cases if c["question"] == parent_text), None)
        parent_text = parent.get("follow_up_of") if parent else None
    return questions


def run_case(
    case: dict[str, Any], cases: list[dict[str, Any]], url: str, connection: sqlite3.Connection
) -> Outcome:
    expected = [tuple(row) for row in connection.execute(case["sql"]).fetchall()]
    agent = Agent(
        url,
        model="offline",
        today=date.fromisoformat(case["today"]),
        customer_id=case.get("customer_id"),
    )
    try:
        for earlier in chain(case, cases):
            agent.ask(earlier)
        turn = agent.ask(case["question"])
    except Exception as error:  # noqa: BLE001 - a failing case is counted, not raised
        return Outcome(case, False, f"error: {error}")
    run = turn.tool_runs[-1] if turn.tool_runs else None
    if run is None or run.result is None:
        return Outcome(case, False, f"no result: {turn.answer[:200]}")
    actual = run.result.rows
    passed = rows_match(expected, actual, bool(case.get("ordered")))
    detail = (
        ""
        if passed
        else (
            f"query={run.arguments}\n    expected={expected[:5]}"
            f" ({len(expected)} rows)\n    actual={actual[:5]}"
            f" ({len(actual)} rows)"
        )
    )
    return Outcome(case, passed, detail)


def evaluate(name: str, url: str, path: Path) -> list[Outcome]:
    cases = load_cases(name)
    connection = sqlite3.connect(path)
    try:
        return [run_case(case, cases, url, connection) for case in cases]
    finally:
        connection.close()


def report(title: str, outcomes: list[Outcome]) -> float:
    totals = Counter(o.case["kind"] for o in outcomes)
    passed = Counter(o.case["kind"] for o in outcomes if o.passed)
    print(f"\n{title}")
    print(f"{'kind':<16}{'passed':>8}{'total':>8}{'accuracy':>10}")
    for kind in sorted(totals):
        print(f"{kind:<16}{passed[kind]:>8}{totals[kind]:>8}{passed[kind] / totals[kind]:>10.1%}")
    accuracy = sum(passed.values()) / len(outcomes)
    print(f"{'overall':<16}{sum(passed.values()):>8}{len(outcomes):>8}{accuracy:>10.1%}")
    for outcome in outcomes:
        if not outcome.passed:
            case = outcome.case
            print(f"  FAIL [{case['kind']}] {case['question']}\n    {outcome.detail}")
    return accuracy


SETS = [
    ("questions.toml", "development set", DEV_BAR),
    ("questions_holdout.toml", "held-out set", HOLDOUT_BAR),
    ("questions_fresh.toml", "fresh set", FRESH_BAR),
    ("questions_blind.toml", "blind set (now tuned on)", BLIND_BAR),
    ("questions_blind2.toml", "second blind set (now tuned on)", BLIND2_BAR),
    ("questions_blind3.toml", "third blind set (now tuned on)", BLIND3_BAR),
    ("questions_final.toml", "final blind set (now tuned on)", FINAL_BAR),
    ("questions_final2.toml", "sixth blind set (now tuned on)", FINAL2_BAR),
    ("questions_final3.toml", "seventh blind set (now tuned on)", FINAL3_BAR),
    ("questions_final4.toml", "eighth blind set (now tuned on)", FINAL4_BAR),
    ("questions_final5.toml", "ninth blind set (untuned)", FINAL5_BAR),
]


@pytest.mark.parametrize(("name", "title", "bar"), SETS, ids=[s[0] for s in SETS])
def test_question_set(sample_sqlite: tuple[str, Path], name: str, title: str, bar: float) -> None:
    accuracy = report(f"Offline model, {title}", evaluate(name, *sample_sqlite))
    assert accuracy >= bar


if __name__ == "__main__":  # quick runs while developing: python tests/test_offline_devset.py
    import sys

    target = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/offline.sqlite3")
    report(
        sys.argv[1] if len(sys.argv) > 1 else "questions.toml",
        evaluate(
            sys.argv[1] if len(sys.argv) > 1 else "questions.toml", f"sqlite:///{target}", target
        ),
    )
