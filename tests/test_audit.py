"""The audit log (NL2SQL_AUDIT_LOG): one JSON line per query run or refused, with no secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from query_builders import COUNT_ORDERS, cond, field, query
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from nl2sql.cli import app

runner = CliRunner()
SECRET = "s3cret-pw-never-logged"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def audit_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("NL2SQL_AUDIT_LOG", str(path))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # would be read only by a hosted model
    monkeypatch.setenv("NL2SQL_MODEL", "offline")
    return path


def with_password(url: str) -> str:
    """The same database with a password in its URL (trust auth ignores it; SQLite has none)."""
    if not url.startswith("postgresql"):
        return url
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


def test_a_query_run_is_one_line_with_every_field(audit_log: Path, sample_url: str) -> None:
    done = runner.invoke(
        app, ["run", COUNT_ORDERS, "--db", with_password(sample_url), "--customer", "13"]
    )
    assert done.exit_code == 0, done.output
    [entry] = lines(audit_log)
    assert set(entry) == {
        "time", "database", "tenant", "question", "tool_call", "sql", "row_count",
        "duration_ms", "outcome", "error",
    }  # fmt: skip
    assert entry["tenant"] == 13 and entry["question"] is None  # `run` has no question
    assert entry["tool_call"] == json.loads(COUNT_ORDERS)
    assert entry["outcome"] == "ok" and entry["row_count"] == 1 and entry["error"] is None
    assert "count" in entry["sql"].lower() and "13" in entry["sql"]
    assert entry["duration_ms"] >= 0
    assert SECRET not in audit_log.read_text()


def test_refused_and_invalid_calls_are_logged_too(audit_log: Path, sample_url: str) -> None:
    bad = json.dumps(query("orders", [field("orders.colour")]))
    assert runner.invoke(app, ["run", bad, "--db", sample_url]).exit_code == 2
    assert runner.invoke(app, ["run", "{not json", "--db", sample_url]).exit_code == 2
    first, second = lines(audit_log)
    assert first["outcome"] == second["outcome"] == "invalid"
    assert "orders.colour" in first["error"] and first["sql"] is None
    assert second["tool_call"] == "{not json"  # the text as sent, since it does not parse


def test_a_question_through_the_agent_is_logged_with_it(audit_log: Path, sample_url: str) -> None:
    question = "how many orders were shipped? \x1b"
    done = runner.invoke(app, ["ask", question, "--db", with_password(sample_url)])
    assert done.exit_code == 0, done.output
    entries = lines(audit_log)
    assert entries and all(entry["question"] == question for entry in entries)
    assert entries[-1]["outcome"] == "ok"
    assert "\x1b" not in audit_log.read_text()  # escaped in the JSON, never raw
    assert SECRET not in audit_log.read_text()


def test_an_unwritable_log_stops_the_query_with_one_line(
    audit_log: Path, sample_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NL2SQL_AUDIT_LOG", str(tmp_path / "missing" / "audit.jsonl"))
    spec = json.dumps(query("orders", [field("orders.id")], [cond("orders.id", "=", 1)]))
    done = runner.invoke(app, ["run", spec, "--db", sample_url])
    assert done.exit_code == 2
    assert "Cannot write the audit log" in done.output and "Traceback" not in done.output
    assert len(done.output.strip().splitlines()) == 1


def test_no_log_unless_asked(
    sample_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NL2SQL_AUDIT_LOG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["run", COUNT_ORDERS, "--db", sample_url]).exit_code == 0
    assert list(tmp_path.iterdir()) == []


def test_a_huge_tool_call_is_logged_cut_not_dropped(audit_log: Path, sample_url: str) -> None:
    huge = '{"table_name": "orders", "padding": "' + "x" * 70_000 + '"}'
    assert runner.invoke(app, ["run", huge, "--db", sample_url]).exit_code == 2
    [entry] = lines(audit_log)
    assert entry["outcome"] == "invalid" and entry["tool_call"] == huge[:64_000]
