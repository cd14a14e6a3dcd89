"""Never answer a question nl2sql did not understand (DESIGN section 8).

The reproductions of the issue that asked for it, through the real CLI with the offline model on
the sample database: each either answers correctly (checked against SQL) or refuses with one
line and exit code 3. Then the same contract for every backend (a scripted server that answers
in prose), for the library (Turn.status, raise_for_status, customer_id) and for failures (the
query time limit, errors that keep their turn for -v).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chat_server import (  # noqa: F401  (chat_server_fixture registers the fixture)
    ChatServer,
    chat_server_fixture,
    text_reply,
    tool_call_reply,
)
from query_builders import fetch, field, query, scalar
from sqlalchemy import Engine, create_engine
from typer.testing import CliRunner

from nl2sql import database
from nl2sql.agent import Agent
from nl2sql.cli import app
from nl2sql.errors import ConfigError, NL2SQLError, QueryTimeoutError, RefusedError
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.models.backends import openai_backend

runner = CliRunner()
TODAY = "2026-11-29"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('refusals') / 'orders.sqlite3'}"
    database.init_database(url)
    engine = create_engine(url)
    yield url, engine  # type: ignore[misc]
    engine.dispose()


def ask_json(url: str, question: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(
        app, ["ask", question, "--db", url, "--today", TODAY, "--format", "json", *extra]
    )
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


# Questions the offline model answered confidently and wrongly before; now refused.
NOT_ANSWERABLE = [
    ("how many orders in the past fortnight", "fortnight"),
    ("black friday 2025", "friday"),
    ("average delivery time in hours", "not hours"),
    ("median order value", "median"),
    ("percentage delivered late", "percentage"),
    ("orders with more than 3 items", "count of items"),
    ("running total of revenue by month", "running total"),
    ("hello", "hello"),
]


@pytest.mark.parametrize(("question", "named"), NOT_ANSWERABLE)
def test_questions_it_cannot_answer_are_refused_naming_why(
    sample: tuple[str, Engine], question: str, named: str
) -> None:
    code, payload = ask_json(sample[0], question)
    assert code == 3
    assert set(payload) == {"error", "question"} and payload["question"] == question
    assert named in payload["error"] and "\n" not in payload["error"]


def test_comparison_signs_are_read(sample: tuple[str, Engine]) -> None:
    code, payload = ask_json(sample[0], "orders > 1k")
    assert code == 0 and "order value over $1,000.00" in payload["understood"]
    expected = scalar(sample[1], "SELECT count(*) FROM orders WHERE total_amount > 1000")
    assert payload["row_count"] == min(expected, 100)


def test_aov_is_the_average_order_value(sample: tuple[str, Engine]) -> None:
    code, payload = ask_json(sample[0], "AOV by country")
    assert code == 0
    assert payload["understood"] == "average order value, grouped by customer country"
    expected = fetch(
        sample[1],
        "SELECT c.country, round(avg(o.total_amount), 2) FROM orders o "
        "JOIN customers c ON c.id = o.customer_id GROUP BY c.country",
    )
    assert sorted(map(tuple, payload["rows"])) == sorted(expected)


def test_a_name_two_customers_share_is_asked_back(sample: tuple[str, Engine]) -> None:
    ids = [
        row[0] for row in fetch(sample[1], "SELECT id FROM customers WHERE name = 'Mia Schneider'")
    ]
    assert len(ids) == 2  # the sample holds two customers of that name
    code, payload = ask_json(sample[0], "how many orders did Mia Schneider place?")
    assert code == 3
    assert all(f"customer {i}" in payload["error"] for i in ids)


def test_an_unknown_tenant_is_an_error(sample: tuple[str, Engine]) -> None:
    code, payload = ask_json(sample[0], "how many orders", "--customer", "99999")
    assert code == 2 and "no customer 99999" in payload["error"]


def test_refusals_in_text_mode_print_one_line_and_no_answer(sample: tuple[str, Engine]) -> None:
    result = runner.invoke(app, ["ask", "median order value", "--db", sample[0]])
    assert result.exit_code == 3
    assert result.stdout == ""  # nothing streamed as if it were an answer
    assert result.stderr.startswith("refused: ") and result.stderr.count("\n") == 1


def test_answers_carry_understood_in_text_mode(sample: tuple[str, Engine]) -> None:
    result = runner.invoke(app, ["ask", "how many pending orders from Canada?", "--db", sample[0]])
    assert result.exit_code == 0
    assert "understood: count of orders, status is pending, customer country is Canada" in (
        result.stdout
    )


# -- follow-ups keep what they do not change; an empty one is refused ---------------------


def chat_json(url: str, *questions: str) -> list[dict[str, Any]]:
    lines = "\n".join(questions) + "\n/quit\n"
    result = runner.invoke(
        app, ["chat", "--db", url, "--today", TODAY, "--format", "json"], input=lines
    )
    assert result.exit_code == 0 and "Traceback" not in result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_period_follow_up_keeps_late(sample: tuple[str, Engine]) -> None:
    first, second = chat_json(
        sample[0], "how many orders were delivered late this year?", "what about last year?"
    )
    expected = scalar(
        sample[1],
        "SELECT count(*) FROM orders WHERE delivered_at >= '2025-01-01' "
        "AND delivered_at < '2026-01-01' AND date(delivered_at) > expected_delivery_date",
    )
    assert second["rows"] == [[expected]]
    assert "delivered after the promised delivery date" in second["understood"]


def test_the_bottom_n_reranks(sample: tuple[str, Engine]) -> None:
    top, bottom = chat_json(sample[0], "top 3 customers by revenue", "and the bottom 3?")
    assert top["query"]["order_by"][0]["direction"] == "desc"
    assert bottom["query"]["order_by"][0]["direction"] == "asc"
    assert bottom["rows"] != top["rows"]


@pytest.mark.parametrize("reply", ["clear", "ok", "and?"])
def test_a_follow_up_that_says_nothing_is_refused(sample: tuple[str, Engine], reply: str) -> None:
    _, refused = chat_json(sample[0], "how many orders are pending?", reply)
    assert set(refused) == {"error", "question"} and refused["question"] == reply


# -- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize("customer", [True, "abc", 0, -4, 1.5])
def test_customer_id_is_checked_by_the_library(sample: tuple[str, Engine], customer: Any) -> None:
    with pytest.raises(ConfigError, match="customer_id must be a customer id"):
        Agent(sample[0], model="offline", customer_id=customer)


def test_a_customer_that_does_not_exist_is_an_error(sample: tuple[str, Engine]) -> None:
    with pytest.raises(ConfigError, match="no customer 99999"):
        Agent(sample[0], model="offline", customer_id=99999)


def test_a_refused_turn_says_so(sample: tuple[str, Engine]) -> None:
    turn = Agent(sample[0], model="offline").ask("median order value")
    assert turn.status == "refused" and turn.understood == ""
    with pytest.raises(RefusedError) as caught:
        turn.raise_for_status()
    assert caught.value.exit_code == 3 and caught.value.turn is turn


def test_an_answered_turn_says_what_it_counted(sample: tuple[str, Engine]) -> None:
    turn = Agent(sample[0], model="offline").ask("how many orders are pending?")
    assert turn.raise_for_status() is turn and turn.status == "answered"
    assert turn.understood == "count of orders, status is pending"
    assert turn.to_json()["understood"] == turn.understood


# -- every backend: prose with no query is not an answer ------------------------------------


def scripted_agent(url: str, server: ChatServer, db: ReadOnlyDatabase | None = None) -> Agent:
    backend = openai_backend("test-model", base_url=server.url, api_key="k", max_retries=0)
    return Agent(db or url, backend=backend)


def test_prose_without_a_query_is_refused(
    sample: tuple[str, Engine], chat_server: ChatServer
) -> None:
    chat_server.push(text_reply("There are probably about 40 orders."))
    streamed: list[str] = []
    turn = scripted_agent(sample[0], chat_server).ask("how many orders?", on_text=streamed.append)
    assert turn.status == "refused" and turn.answer == "There are probably about 40 orders."
    assert streamed == []  # never shown as an answer


def test_an_answer_after_a_query_is_streamed(
    sample: tuple[str, Engine], chat_server: ChatServer
) -> None:
    arguments = json.dumps(query("orders", [field("orders.id", "count")]))
    chat_server.push(tool_call_reply([("a", "Query", arguments)]), text_reply("Many orders."))
    streamed: list[str] = []
    turn = scripted_agent(sample[0], chat_server).ask("how many orders?", on_text=streamed.append)
    assert turn.status == "answered" and "".join(streamed) == "Many orders."
    assert turn.understood == "count of orders"


def test_a_query_time_out_ends_the_turn_with_its_context(
    sample: tuple[str, Engine], chat_server: ChatServer
) -> None:
    arguments = json.dumps(
        query("order_items", [field("products.category"), field("order_items.line_total", "sum")])
    )
    chat_server.push(tool_call_reply([("a", "Query", arguments)]), text_reply("never asked"))
    slow = ReadOnlyDatabase(sample[0], timeout=1e-6)
    with pytest.raises(QueryTimeoutError) as caught:
        scripted_agent(sample[0], chat_server, slow).ask("revenue per category")
    slow.close()
    assert len(chat_server.requests) == 1  # not handed back to the model to retry
    turn = caught.value.turn
    assert turn is not None and turn.tool_runs and turn.tool_runs[0].arguments == arguments
    assert isinstance(caught.value, NL2SQLError) and caught.value.exit_code == 1


def test_verbose_shows_a_failed_turn(
    sample: tuple[str, Engine], chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.url)
    monkeypatch.setenv("NL2SQL_MAX_RETRIES", "0")
    bad = json.dumps(query("orders", [field("orders.colour")]))
    chat_server.push(*[tool_call_reply([(f"c{i}", "Query", bad)]) for i in range(3)])
    result = runner.invoke(
        app, ["ask", "colours?", "--db", sample[0], "--model", "m", "-v", "--format", "json"]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["question"] == "colours?"
    assert result.stderr.count("tool call ") == 3 and "orders.colour" in result.stderr


def test_after_a_question_back_a_follow_up_does_not_edit_an_older_query(
    sample: tuple[str, Engine],
) -> None:
    _, asked_back, reply = chat_json(
        sample[0],
        "how many orders were delivered late this year?",
        "how many orders did Mia Schneider place?",
        "and customer 5?",
    )
    assert "error" in asked_back
    columns = {c["column"] for c in reply["query"]["conditions"]}
    assert "orders.delivered_at" not in columns  # not "late this year" for customer 5
