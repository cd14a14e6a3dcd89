"""`nl2sql test`, its pytest plugin and cassettes: real suites over the sample database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from chat_server import (  # noqa: F401
    ChatServer,
    chat_server_fixture,
    text_reply,
    tool_call_reply,
)
from typer.testing import CliRunner

from nl2sql import database
from nl2sql.cli import app
from nl2sql.query import configured_tool
from nl2sql.suite.cassettes import scrub
from nl2sql.suite.compare import cells_equal, normal_query

runner = CliRunner()
EXAMPLE = Path(__file__).parent.parent / "examples" / "test_orders.nl2sql.yaml"
SECRET = "sk-test-secret-0123456789abcdef"
COUNT_DELIVERED = {
    "table_name": "orders",
    "columns": [{"column": "orders.id", "aggregate": "count"}],
    "conditions": [{"column": "orders.status", "operator": "=", "value": "delivered"}],
}
FULL_COUNT_DELIVERED = {  # as a strict tool call spells it: every field
    "table_name": "orders",
    "columns": [{"column": "orders.id", "aggregate": "count", "time_grain": None}],
    "conditions": [
        {"column": "orders.status", "aggregate": None, "operator": "=", "value": "delivered"}
    ],
    "order_by": [],
    "limit": None,
}
MIXED = """
today: 2026-11-28
cases:
  - name: delivered orders
    question: how many orders are delivered?
    expect:
      sql: select count(*) from orders where status = 'delivered'
  - name: wrong on purpose
    question: how many orders are delivered?
    expect:
      value: 3
"""


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('suites') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_passing_and_failing_cases_give_table_exit_code_and_junit(
    sample_db: str, tmp_path: Path
) -> None:
    junit = tmp_path / "report" / "junit.xml"
    suite = write(tmp_path, MIXED)
    result = runner.invoke(app, ["test", str(suite), "--db", sample_db, "--junit", str(junit)])
    assert result.exit_code == 1, result.output
    assert "1 passed, 1 failed" in result.stdout
    assert "value: expected 3, got " in result.stdout
    tree = ET.parse(junit).getroot()
    assert (tree.get("tests"), tree.get("failures"), tree.get("errors")) == ("2", "1", "0")
    cases = {case.get("name"): case for case in tree.iter("testcase")}
    assert cases["delivered orders"].find("failure") is None
    failure = cases["wrong on purpose"].find("failure")
    assert failure is not None and "expected 3" in (failure.text or "")


def test_all_passing_exits_zero_and_json_reports_each_case(sample_db: str, tmp_path: Path) -> None:
    suite = write(tmp_path, MIXED.split("  - name: wrong")[0])
    result = runner.invoke(app, ["test", str(suite), "--db", sample_db, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["passed"], report["failed"], report["accuracy"]) == (1, 0, 1.0)
    assert report["cases"][0]["verdict"] == "passed" and report["cases"][0]["sql"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("cases: [{name: a, question: q, expect: {valu: 3}}]", "unknown key 'expect.valu'"),
        ("cases: [{name: a, question: q, expect: {}}]", "case 'a', expect: no expectation"),
        ("cases: [{name: a, question: q expect: {value: 1}]", "not valid YAML"),
        ("cases: [{name: a, question: q, expect: {sql: select nope from orders}}]", "expect.sql"),
        ("cases: [{name: a, question: q, expect: {query: {table_name: x}}}]", "expect.query"),
        (
            "cases: [{name: a, question: q, expect: {value: 1}}, {name: a, question: r, "
            "expect: {value: 2}}]",
            "names must be unique",
        ),
        ("cases: [{name: a, question: q, expect: {refused: true, value: 1}}]", "refused: true"),
    ],
)
def test_a_bad_suite_is_one_line_and_nothing_runs_or_is_written(
    sample_db: str, tmp_path: Path, body: str, message: str
) -> None:
    suite = write(tmp_path, body)
    junit, tapes = tmp_path / "junit.xml", tmp_path / "tapes"
    result = runner.invoke(
        app, ["test", str(suite), "--db", sample_db, "--junit", str(junit), "--record", str(tapes)]
    )
    assert result.exit_code == 2
    assert message in result.stderr and str(suite) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not junit.exists() and not tapes.exists()


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (80, 80.0, True),
        (1234.5678, 1234.57, True),
        (3, 3.4, False),
        (0.036, 0.0412, False),
        (True, 1, True),
        ("2026-10-01", "2026-10-01 00:00:00", True),
        ("2026-10-01 08:00:00", "2026-10-01", False),
        (None, 0, False),
    ],
)
def test_cells_compare_after_normalising(left: object, right: object, equal: bool) -> None:
    assert cells_equal(left, right) is equal


def test_tool_calls_compare_with_defaults_filled_and_lists_unordered() -> None:
    tool = configured_tool()
    swapped = dict(
        COUNT_DELIVERED,
        conditions=[
            {"column": "orders.status", "operator": "=", "value": "delivered"},
            {"column": "customers.country", "operator": "=", "value": "Brazil"},
        ],
    )
    reordered = dict(swapped, conditions=list(reversed(swapped["conditions"])))
    assert normal_query(tool, swapped) == normal_query(tool, reordered)
    assert normal_query(tool, COUNT_DELIVERED) == normal_query(tool, FULL_COUNT_DELIVERED)
    sorts = [
        {"column": "orders.ordered_at", "direction": "desc"},
        {"column": "orders.id", "direction": "asc"},
    ]
    first = dict(COUNT_DELIVERED, order_by=sorts)
    assert normal_query(tool, first) != normal_query(tool, dict(first, order_by=sorts[::-1]))


def test_the_example_suite_passes_on_every_backend(sample_url: str) -> None:
    result = runner.invoke(app, ["test", str(EXAMPLE), "--db", sample_url])
    assert result.exit_code == 0, result.output
    assert "7 passed, 0 failed" in result.stdout


def test_parallel_cases_give_the_same_verdicts(sample_db: str) -> None:
    one = runner.invoke(app, ["test", str(EXAMPLE), "--db", sample_db, "--format", "json"])
    two = runner.invoke(
        app, ["test", str(EXAMPLE), "--db", sample_db, "--format", "json", "--jobs", "3"]
    )
    verdicts = [[case["verdict"] for case in json.loads(r.stdout)["cases"]] for r in (one, two)]
    assert verdicts[0] == verdicts[1]


def run_pytest(folder: Path, db: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NL2SQL_DATABASE_URL=db)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-q"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_plugin_collects_suites_in_a_project_with_no_conftest(
    sample_db: str, tmp_path: Path
) -> None:
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    write(tmp_path, MIXED, "test_mixed.nl2sql.yaml")
    done = run_pytest(tmp_path, sample_db)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 8 passed" in done.stdout
    assert "test_mixed.nl2sql.yaml::wrong on purpose" in done.stdout
    assert "value: expected 3, got" in done.stdout


def scripted_env(monkeypatch: pytest.MonkeyPatch, server: ChatServer) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("NL2SQL_MODEL", "scripted-model")
    monkeypatch.setenv("NL2SQL_MAX_RETRIES", "0")


def test_a_recorded_suite_replays_with_the_server_stopped(
    sample_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite, tapes = write(tmp_path, MIXED), tmp_path / "tapes"
    # one case at a time: the scripted server answers requests in the order they arrive
    with ChatServer() as server:
        scripted_env(monkeypatch, server)
        for _case in range(2):
            server.push(
                tool_call_reply([("call_1", "Query", FULL_COUNT_DELIVERED)]),
                text_reply(f"There are many delivered orders. {SECRET}"),
            )
        recorded = runner.invoke(
            app,
            [
                "test",
                str(suite),
                "--db",
                sample_db,
                "--record",
                str(tapes),
                "--format",
                "json",
                "--jobs",
                "1",
            ],
        )
        assert server.remaining == 0
        assert all(request.headers.get("authorization") for request in server.requests)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "NL2SQL_MODEL"):
        monkeypatch.delenv(name)
    files = sorted(tapes.rglob("*.json"))
    assert len(files) == 2
    for file in files:
        text = file.read_text()
        assert SECRET not in text and "bearer" not in text.lower()
    replayed = runner.invoke(
        app, ["test", str(suite), "--db", sample_db, "--replay", str(tapes), "--format", "json"]
    )
    assert recorded.exit_code == replayed.exit_code == 1, replayed.output
    verdicts = [[c["verdict"] for c in json.loads(r.stdout)["cases"]] for r in (recorded, replayed)]
    assert verdicts[0] == verdicts[1] == ["passed", "failed"], recorded.stdout[:1500]


def test_a_request_with_no_cassette_fails_naming_what_changed(
    sample_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tapes = tmp_path / "tapes"
    runner.invoke(
        app,
        [
            "test",
            str(write(tmp_path, MIXED)),
            "--db",
            sample_db,
            "--record",
            str(tapes),
            "--model",
            "offline",
        ],
    )
    changed = write(tmp_path, MIXED.replace("2026-11-28", "2026-11-27"))
    result = runner.invoke(app, ["test", str(changed), "--db", sample_db, "--replay", str(tapes)])
    assert result.exit_code == 1
    assert "no recorded model reply for request 1" in result.stdout
    assert "Today is 2026-11-2" in result.stdout and "--record" in result.stdout


def test_secrets_are_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-value")
    text = scrub("key azure-key-value, Bearer abc.def-123456, sk-proj-abcdefghijklmnop")
    assert "azure-key-value" not in text and "abc.def" not in text and "sk-proj" not in text


def test_record_and_replay_together_is_bad_usage(sample_db: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["test", str(write(tmp_path, MIXED)), "--record", "a", "--replay", "b"]
    )
    assert result.exit_code == 2 and "not both" in result.stderr
