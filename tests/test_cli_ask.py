"""`nl2sql ask` and `nl2sql chat` against a scripted server: output formats and failures."""

from __future__ import annotations

import json

import pytest
from chat_server import (  # noqa: F401
    ChatServer,
    chat_server_fixture,
    delay_reply,
    status_reply,
    text_reply,
    tool_call_reply,
)
from typer.testing import CliRunner

from nl2sql import database
from nl2sql.cli import app

runner = CliRunner()
COUNT_SHIPPED = json.dumps(
    {
        "table_name": "orders",
        "columns": [{"column": "orders.id", "aggregate": "count", "time_grain": None}],
        "conditions": [
            {"column": "orders.status", "aggregate": None, "operator": "=", "value": "shipped"}
        ],
        "order_by": [],
        "limit": None,
    }
)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


@pytest.fixture
def server_env(chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch) -> ChatServer:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.url)
    monkeypatch.setenv("NL2SQL_MAX_RETRIES", "0")
    monkeypatch.setenv("NL2SQL_MODEL", "scripted-model")
    return chat_server


def test_ask_json(sample_db: str, server_env: ChatServer) -> None:
    server_env.push(tool_call_reply([("a", "Query", COUNT_SHIPPED)]), text_reply("Fifteen."))
    result = runner.invoke(
        app,
        [
            "ask",
            "how many in transit?",
            "--db",
            sample_db,
            "--format",
            "json",
            "--today",
            "2026-11-28",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {
        "question",
        "answer",
        "understood",
        "query",
        "sql",
        "columns",
        "rows",
        "row_count",
        "truncated",
    }
    assert payload["answer"] == "Fifteen." and payload["row_count"] == 1
    assert payload["understood"] == "count of orders, status is shipped"
    assert payload["query"]["conditions"][0]["value"] == "shipped"


def test_ask_text_shows_answer_rows_and_sql(sample_db: str, server_env: ChatServer) -> None:
    server_env.push(tool_call_reply([("a", "Query", COUNT_SHIPPED)]), text_reply("Some."))
    result = runner.invoke(app, ["ask", "in transit?", "--db", sample_db, "-v"])
    assert result.exit_code == 0, result.output
    assert "Some." in result.stdout
    assert "count(orders.id)" in result.stdout and "SELECT" in result.stdout
    assert "tool call 1" in result.stderr and "tokens" in result.stderr


def test_ask_endpoint_failure_is_one_line(sample_db: str, server_env: ChatServer) -> None:
    server_env.push(status_reply(503))
    result = runner.invoke(app, ["ask", "hi", "--db", sample_db])
    assert result.exit_code == 1
    assert "HTTP 503" in result.stderr and server_env.url in result.stderr
    assert "Traceback" not in result.output
    server_env.push(status_reply(503))
    result = runner.invoke(app, ["ask", "hi", "--db", sample_db, "--format", "json"])
    assert result.exit_code == 1 and "HTTP 503" in json.loads(result.stdout)["error"]


def test_ask_bad_flags(sample_db: str) -> None:
    result = runner.invoke(app, ["ask", "hi", "--db", sample_db, "--today", "yesterday"])
    assert result.exit_code == 2 and "--today" in result.stderr
    result = runner.invoke(app, ["ask", "  ", "--db", sample_db, "--format", "json"])
    assert result.exit_code == 2 and "question is empty" in json.loads(result.stdout)["error"]


def test_chat_keeps_going_after_an_error(sample_db: str, server_env: ChatServer) -> None:
    server_env.push(
        tool_call_reply([("a", "Query", COUNT_SHIPPED)]),
        text_reply("One."),
        status_reply(500),
        text_reply("Three."),  # no query ran: reported as a refusal, not as an answer
    )
    result = runner.invoke(app, ["chat", "--db", sample_db], input="first\nsecond\nthird\n/quit\n")
    assert result.exit_code == 0
    assert "One." in result.stdout and "Three." not in result.stdout
    assert "HTTP 500" in result.stderr and "conversation is kept" in result.stderr
    assert "refused: Three." in result.stderr
    roles = [m["role"] for m in server_env.requests[-1].messages]
    # the failed question left no trace
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]


def test_chat_commands(sample_db: str, server_env: ChatServer) -> None:
    server_env.push(
        tool_call_reply([("a", "Query", COUNT_SHIPPED)]), text_reply("Done."), text_reply("Fresh.")
    )
    result = runner.invoke(
        app,
        ["chat", "--db", sample_db],
        input="how many shipped\n/sql\n/reset\nhello\n/help\n/quit\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("orders.status = 'shipped'") >= 2  # table view and /sql
    assert "New conversation." in result.stdout
    assert [m["role"] for m in server_env.requests[-1].messages] == ["system", "user"]
    assert "/reset starts a new conversation" in result.stdout


def test_timeout_and_retry_flags(sample_db: str, server_env: ChatServer) -> None:
    server_env.push(delay_reply(2.0, then=text_reply("late")))
    slow = runner.invoke(app, ["ask", "hi", "--db", sample_db, "--timeout", "0.3"])
    assert slow.exit_code == 1 and "did not answer in time" in slow.stderr
    server_env.push(
        status_reply(429, headers={"retry-after-ms": "1"}),
        tool_call_reply([("a", "Query", COUNT_SHIPPED)]),
        text_reply("Retried."),
    )
    retried = runner.invoke(app, ["ask", "hi", "--db", sample_db, "--max-retries", "1"])
    assert retried.exit_code == 0 and "Retried." in retried.stdout
