"""The offline model's question sets (tests/questions/): loading, running and scoring a case.

Each set is a TOML file of [[case]]s (format in the header of development.toml); manifest.toml
names every set, where it came from and how it scored on its first run; known_failures.toml lists
the cases that fail today (strict xfail in CI: a newly failing case fails, a newly passing one
must leave the list).

A case is *right* when its rows match the hand-written SQL, *refused* when the agent says it did
not understand or cannot answer (Turn.status "refused"), and *wrong* otherwise: a confident
answer that does not match. Run as a script to score sets that way:

    python tests/question_sets.py [FILE.toml ...]     # default: every set in the manifest
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent / "questions"
REPO = Path(__file__).resolve().parent.parent
SHOP = HERE / "shop"
MANIFEST = HERE / "manifest.toml"
KNOWN_FAILURES = HERE / "known_failures.toml"


@dataclass(frozen=True)
class Case:
    """One question with its expected rows; `before` are asked first, in the same chat."""

    id: str  # "<set>/<slug of the question>", stable while the question is
    question: str
    today: date
    sql: str
    kind: str
    ordered: bool = False
    customer_id: int | None = None
    before: tuple[str, ...] = ()
    database: str = "sample"  # which database the set is written for: "sample" or "tpch"


@dataclass
class Outcome:
    case: Case
    verdict: str  # "right", "refused" or "wrong"
    detail: str = ""
    answer: str = ""


@dataclass(frozen=True)
class QuestionSet:
    name: str
    file: str
    origin: str
    first_run: str
    cases: list[Case] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def load_set(path: Path, name: str | None = None) -> list[Case]:
    """The cases of one file, each with a stable id; follow-ups carry their chain."""
    name = name or path.stem
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    raw = list(data["case"])
    database = str(data.get("database", "sample"))
    by_question = {case["question"]: case for case in raw}
    seen: Counter[str] = Counter()
    cases = []
    for item in raw:
        base = slug(item["question"])
        seen[base] += 1
        suffix = f"-{seen[base]}" if seen[base] > 1 else ""
        cases.append(
            Case(
                id=f"{name}/{base}{suffix}",
                question=item["question"],
                today=date.fromisoformat(str(item["today"])),
                sql=item["sql"],
                kind=item.get("kind", "other"),
                ordered=bool(item.get("ordered", False)),
                customer_id=item.get("customer_id"),
                before=tuple(item.get("before", ())) or _chain(item, by_question),
                database=database,
            )
        )
    return cases


def _chain(item: dict[str, Any], by_question: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    """The questions to replay before a follow-up (follow_up_of, recursively)."""
    questions: list[str] = []
    parent = item.get("follow_up_of")
    while parent:
        questions.insert(0, parent)
        parent = by_question.get(parent, {}).get("follow_up_of")
    return tuple(questions)


def load_manifest() -> list[QuestionSet]:
    with open(MANIFEST, "rb") as handle:
        entries = tomllib.load(handle)["set"]
    return [
        QuestionSet(
            name=entry["name"],
            file=entry["file"],
            origin=entry["origin"],
            first_run=entry["first_run"],
            cases=load_set(HERE / entry["file"], entry["name"]),
        )
        for entry in entries
    ]


def known_failures() -> dict[str, dict[str, str]]:
    """Case id -> {"verdict": how it fails, "reason": why} (the cases that are red today)."""
    with open(KNOWN_FAILURES, "rb") as handle:
        return {item["id"]: item for item in tomllib.load(handle).get("failure", [])}


# -- comparing rows -----------------------------------------------------------------------


def same_value(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        return isinstance(actual, int | float) and abs(float(actual) - float(expected)) <= 0.01
    if isinstance(actual, datetime):
        text = str(expected)
        if text in (actual.date().isoformat(), actual.isoformat(sep=" ")):
            return True
        try:  # a stored timestamp: '2024-01-01 00:16:21.000000'
            return datetime.fromisoformat(text) == actual
        except ValueError:
            return False
    if isinstance(actual, date):
        return str(expected) == actual.isoformat()
    return str(expected) == str(actual)


def pairs_off(expected: Any, actual: Any, same: Any) -> bool:
    """Each expected item matches a distinct actual item (`same(expected, actual)`)."""
    pool = list(actual)
    for item in expected:
        hit = next((i for i, candidate in enumerate(pool) if same(item, candidate)), None)
        if hit is None:
            return False
        pool.pop(hit)
    return True


def row_matches(expected: tuple[Any, ...], actual: list[Any]) -> bool:
    """Every expected value appears in the row (the row may show more columns)."""
    return pairs_off(expected, actual, same_value)


def rows_match(
    expected: list[tuple[Any, ...]], actual: list[list[Any]], ordered: bool, page: bool = False
) -> bool:
    """The rows are the expected ones. `page`: the result is one page of a longer answer and
    says so ("100+ orders"), so its rows must be expected rows, and not all of them appear."""
    if page and len(actual) < len(expected):
        expected = [e for e in expected if any(row_matches(e, a) for a in actual)]
    if len(expected) != len(actual):
        return False
    if ordered:
        return all(row_matches(e, a) for e, a in zip(expected, actual, strict=True))
    return pairs_off(expected, actual, row_matches)


# -- running ------------------------------------------------------------------------------


@dataclass
class Target:
    """A database the sets run on: its URL, a connection for the reference SQL, its config."""

    url: str
    connection: sqlite3.Connection
    config: Any = None


def open_target(database: str, folder: Path) -> Target:
    """The sample (nl2sql db init), TPC-H (nl2sql db tpch + configs/tpch.toml) or the shop
    (tests/questions/shop/) in `folder`."""
    from nl2sql import database as databases
    from nl2sql.config import load_config
    from nl2sql.tpch import build_tpch

    path = folder / f"{database}.sqlite3"
    url = f"sqlite:///{path}"
    if database == "shop":  # a shop nl2sql was not made for (tests/questions/shop/)
        if not path.exists():
            subprocess.run([sys.executable, str(SHOP / "make_shop.py"), str(path)], check=True)
        return Target(url, sqlite3.connect(path), load_config(SHOP / "shop.toml"))
    if database == "tpch":
        if not path.exists():
            build_tpch(url)
        return Target(url, sqlite3.connect(path), load_config(REPO / "configs" / "tpch.toml"))
    if not path.exists():
        databases.init_database(url)
    return Target(url, sqlite3.connect(path))


def run_case(case: Case, target: Target) -> Outcome:
    """Ask the case's questions through the real Agent (offline model) and judge the last.
    A case of kind "refuse" is right when the agent refuses and wrong when it answers."""
    from nl2sql.agent import Agent

    refuse = case.kind == "refuse"
    expected = [] if refuse else [tuple(r) for r in target.connection.execute(case.sql).fetchall()]
    agent = Agent(
        target.url,
        model="offline",
        today=case.today,
        customer_id=case.customer_id,
        config=target.config,
    )
    for earlier in case.before:
        agent.ask(earlier)
    turn = agent.ask(case.question)
    run = turn.last_result
    if turn.status != "answered" or run is None or run.result is None:
        return Outcome(case, "right" if refuse else "refused", turn.answer[:300], turn.answer)
    if refuse:
        return Outcome(case, "wrong", f"answered: {turn.answer[:300]}", turn.answer)
    actual = run.result.rows
    if rows_match(expected, actual, case.ordered, page=run.result.truncated):
        return Outcome(case, "right", answer=turn.answer)
    detail = (
        f"query={run.arguments}\n  expected={expected[:5]} ({len(expected)} rows)"
        f"\n  actual={actual[:5]} ({len(actual)} rows)"
    )
    return Outcome(case, "wrong", detail, turn.answer)


def score(cases: list[Case], targets: dict[str, Target]) -> list[Outcome]:
    return [run_case(case, targets[case.database]) for case in cases]


def report(title: str, outcomes: list[Outcome]) -> None:
    """Right / refused / confidently wrong, per kind and overall."""
    verdicts = ("right", "refused", "wrong")
    table: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        table.setdefault(outcome.case.kind, Counter())[outcome.verdict] += 1
    total: Counter[str] = sum(table.values(), Counter())
    print(f"\n{title}")
    print(f"{'kind':<14}" + "".join(f"{v:>9}" for v in verdicts) + f"{'cases':>8}")
    for kind, counts in sorted(table.items()) + [("overall", total)]:
        n = sum(counts.values())
        print(f"{kind:<14}" + "".join(f"{counts[v]:>9}" for v in verdicts) + f"{n:>8}")
    n = len(outcomes) or 1
    print("  " + ", ".join(f"{v} {total[v] / n:.1%}" for v in verdicts))
    for outcome in outcomes:
        if outcome.verdict != "right":
            print(f"  {outcome.verdict.upper()} {outcome.case.id}: {outcome.case.question}")
            print(f"    {outcome.detail[:400]}")


def main(argv: list[str]) -> None:
    folder = Path("/tmp/nl2sql-question-sets")
    folder.mkdir(exist_ok=True)
    targets = {name: open_target(name, folder) for name in ("sample", "tpch", "shop")}
    if argv:
        sets = [(Path(a).stem, load_set(Path(a))) for a in argv]
    else:
        sets = [(s.name, s.cases) for s in load_manifest()]
    everything: list[Outcome] = []
    for name, cases in sets:
        outcomes = score(cases, targets)
        everything += outcomes
        report(name, outcomes)
    if len(sets) > 1:
        report("all sets", everything)


if __name__ == "__main__":
    main(sys.argv[1:])
