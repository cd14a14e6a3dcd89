"""The offline model against every question set in tests/questions/, one test per case.

Each case runs through the real Agent (offline model, Chat Completions wire protocol, Query
tool, compiler, read-only SQLite) and its rows are compared with the case's hand-written SQL on
the same database: the sample, or TPC-H with configs/tpch.toml for sets that say so. Cases
listed in known_failures.toml are strict xfails that must fail the recorded way: one that starts
passing fails the run (remove it from the list), and so does one that fails differently (a
refusal that became a confident wrong answer). Any other failing case fails the run.
`python tests/question_sets.py` prints right / refused / wrong per set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from question_sets import Case, Target, known_failures, load_manifest, open_target, run_case

KNOWN = known_failures()
CASES = [case for question_set in load_manifest() for case in question_set.cases]


class KnownFailure(Exception):
    """A listed case failed the way known_failures.toml says it does."""


def params() -> list[object]:
    out: list[object] = []
    for case in CASES:
        entry = KNOWN.get(case.id)
        marks = (
            [pytest.mark.xfail(strict=True, raises=KnownFailure, reason=entry["reason"])]
            if entry
            else []
        )
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    """Each database a set is written for, made on first use (TPC-H takes a few seconds)."""
    folder: Path = tmp_path_factory.mktemp("question-sets")
    opened: dict[str, Target] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, name: str) -> Target:
            opened[name] = open_target(name, folder)
            return opened[name]

    yield Lazy()
    for target in opened.values():
        target.connection.close()


@pytest.mark.parametrize("case", params())
def test_case(targets: dict[str, Target], case: Case) -> None:
    outcome = run_case(case, targets[case.database])
    entry = KNOWN.get(case.id)
    if entry is not None and outcome.verdict == entry["verdict"]:
        raise KnownFailure(entry["reason"])
    assert outcome.verdict == "right", f"{outcome.verdict}: {case.question}\n  {outcome.detail}"


def test_every_known_failure_names_a_case() -> None:
    ids = {case.id for case in CASES}
    assert not set(KNOWN) - ids, "known_failures.toml names cases that do not exist"
    assert all(entry["verdict"] in ("refused", "wrong") for entry in KNOWN.values())


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


def test_every_set_file_is_in_the_manifest() -> None:
    listed = {question_set.file for question_set in load_manifest()}
    on_disk = {p.name for p in (Path(__file__).parent / "questions").glob("*.toml")}
    assert on_disk - {"manifest.toml", "known_failures.toml"} == listed
