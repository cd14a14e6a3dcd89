"""How a suite run is reported: a terminal table, one JSON object, a JUnit XML file.

Answers, SQL and diffs come from a model and a database: in the terminal they are plain text
(render.plain), in XML they lose the characters XML 1.0 cannot hold.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nl2sql import render
from nl2sql.execute import json_value
from nl2sql.suite.run import ERROR, PASSED, Outcome, summary

VERDICT_STYLES = {PASSED: "green", "failed": "red", ERROR: "red"}
XML_UNSAFE = re.compile(r"[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def table(console: Console, outcomes: list[Outcome]) -> None:
    """Case, verdict and time per case; then each failure's diff; then the summary line."""
    grid = Table(show_edge=False, pad_edge=False)
    grid.add_column("case")
    grid.add_column("verdict")
    grid.add_column("time", justify="right")
    several = len({outcome.suite.path for outcome in outcomes}) > 1
    for outcome in outcomes:
        name = f"{outcome.suite.name}: {outcome.case.name}" if several else outcome.case.name
        grid.add_row(
            render.shown(name),
            Text(outcome.verdict, style=VERDICT_STYLES[outcome.verdict]),
            f"{outcome.seconds:.2f} s",
        )
    console.print(grid)
    for outcome in outcomes:
        if not outcome.passed:
            console.print(Text(f"\n{outcome.case.name} ({outcome.suite.path})", style="bold red"))
            console.print(render.shown(outcome.failure_text()))
    console.print(Text(summary_line(outcomes), style="bold"))


def summary_line(outcomes: list[Outcome]) -> str:
    counts = summary(outcomes)
    errors = f" ({counts['errors']} could not run)" if counts["errors"] else ""
    return (
        f"{counts['passed']} passed, {counts['failed']} failed{errors}; accuracy "
        f"{counts['accuracy']:.1%} of {counts['total']} case(s)"
    )


def as_json(outcomes: list[Outcome]) -> dict[str, Any]:
    """`--format json`: the summary's counts and one object per case."""
    return summary(outcomes) | {"cases": [case_json(outcome) for outcome in outcomes]}


def case_json(outcome: Outcome) -> dict[str, Any]:
    got = outcome.got
    return {
        "suite": str(outcome.suite.path),
        "name": outcome.case.name,
        "question": outcome.case.question,
        "verdict": outcome.verdict,
        "seconds": round(outcome.seconds, 3),
        "failures": [
            {"expectation": m.expectation, "expected": m.expected, "got": m.got, "diff": m.diff}
            for m in outcome.mismatches
        ],
        "error": outcome.error or None,
        "answer": got.answer if got else None,
        "refused": got.refused if got else None,
        "understood": got.understood if got else None,
        "query": got.query if got else None,
        "sql": got.sql if got else None,
        "columns": got.columns if got else [],
        "rows": [[json_value(v) for v in row] for row in got.rows] if got else [],
    }


def dumps(outcomes: list[Outcome]) -> str:
    return json.dumps(as_json(outcomes), default=str, ensure_ascii=False)


def junit(outcomes: list[Outcome]) -> ET.ElementTree:
    """One <testsuite> per suite file, one <testcase> per case; a failed case carries a
    <failure> (its expectations missed) or an <error> (it could not run) with the diff."""
    root = ET.Element("testsuites", name="nl2sql")
    by_suite: dict[Path, list[Outcome]] = {}
    for outcome in outcomes:
        by_suite.setdefault(outcome.suite.path, []).append(outcome)
    for path, members in by_suite.items():
        root.append(_testsuite(path, members))
    counts = summary(outcomes)
    root.set("tests", str(counts["total"]))
    root.set("failures", str(counts["failed"] - counts["errors"]))
    root.set("errors", str(counts["errors"]))
    root.set("time", f"{sum(o.seconds for o in outcomes):.3f}")
    return ET.ElementTree(root)


def _testsuite(path: Path, outcomes: list[Outcome]) -> ET.Element:
    counts = summary(outcomes)
    element = ET.Element(
        "testsuite",
        name=xml_text(str(path)),
        tests=str(counts["total"]),
        failures=str(counts["failed"] - counts["errors"]),
        errors=str(counts["errors"]),
        skipped="0",
        time=f"{sum(o.seconds for o in outcomes):.3f}",
    )
    for outcome in outcomes:
        element.append(_testcase(outcome))
    return element


def _testcase(outcome: Outcome) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=xml_text(outcome.suite.path.name.split(".")[0]),
        name=xml_text(outcome.case.name),
        time=f"{outcome.seconds:.3f}",
    )
    if outcome.passed:
        return case
    text = xml_text(outcome.failure_text())
    tag = "error" if outcome.verdict == ERROR else "failure"
    problem = ET.SubElement(case, tag, message=xml_text(text.splitlines()[0] if text else tag))
    problem.text = text
    return case


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (control characters, lone surrogates)."""
    return XML_UNSAFE.sub("", render.plain(text)) if text else text


def write_junit(outcomes: list[Outcome], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit(outcomes).write(path, encoding="utf-8", xml_declaration=True)
