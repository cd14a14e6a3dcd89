"""The agent against a scripted Chat Completions server: the real SDK over real HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import openai
import pytest
from chat_server import (  # noqa: F401  (chat_server_fixture registers the fixture)
    ChatServer,
    chat_server_fixture,
    content_filter_reply,
    delay_reply,
    length_reply,
    malformed_reply,
    status_reply,
    text_reply,
    tool_call_reply,
)
from sqlalchemy import create_engine, text

from nl2sql import database
from nl2sql.agent import Agent, AsyncAgent
from nl2sql.errors import ModelError
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.models.backends import Backend, azure_backend, openai_backend

TODAY = date(2026, 11, 28)


def query(columns=None, conditions=None, table="orders", order_by=None, limit=None) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(
        {
            "table_name": table,
            "columns": columns
            or [{"column": "orders.id", "aggregate": "count", "time_grain": None}],
            "conditions": conditions or [],
            "order_by": order_by or [],
            "limit": limit,
        }
    )


SHIPPED = query(
    conditions=[{"column": "orders.status", "aggregate": None, "operator": "=", "value": "shipped"}]
)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('agent') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


def sql_count(url: str, sql: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return int(value)


def make_agent(url: str, server: ChatServer, **options) -> Agent:  # type: ignore[no-untyped-def]
    retries = options.pop("max_retries", 0)
    timeout = options.pop("timeout", 5.0)
    backend = openai_backend(
        "test-model", base_url=server.url, api_key="test", max_retries=retries, timeout=timeout
    )
    return Agent(url, backend=backend, today=TODAY, **options)


def test_answer_without_a_tool_call(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(text_reply("Hello! Ask me about orders."))
    turn = make_agent(sample_db, chat_server).ask("hi")
    assert turn.answer == "Hello! Ask me about orders."
    sent = chat_server.requests[0]
    assert sent.messages[0]["role"] == "system"
    assert "Today is 2026-11-28" in sent.messages[0]["content"]
    assert sent.messages[1] == {"role": "user", "content": "hi"}
    tool = sent.tools[0]["function"]
    assert tool["name"] == "Query" and tool["strict"] is True
    assert tool["parameters"]["additionalProperties"] is False
    assert sent.model == "test-model"


def test_tool_call_runs_the_query_and_returns_rows(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(tool_call_reply([("call_1", "Query", SHIPPED)]), text_reply("Some are."))
    agent = make_agent(sample_db, chat_server)
    turn = agent.ask("How many orders are in transit?")
    expected = sql_count(sample_db, "SELECT count(*) FROM orders WHERE status = 'shipped'")
    assert turn.answer == "Some are."
    second = chat_server.requests[1].messages
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool"]
    assert second[2]["tool_calls"][0]["id"] == "call_1"
    assert second[3]["tool_call_id"] == "call_1"
    payload = json.loads(second[3]["content"])
    assert payload["rows"] == [[expected]]
    assert payload["row_count"] == 1 and payload["truncated"] is False
    summary = turn.to_json()
    assert summary["rows"] == [[expected]]
    assert summary["query"]["table_name"] == "orders"
    assert "orders.status = 'shipped'" in summary["sql"]
    assert turn.prompt_tokens == 40 and turn.model_calls == 2


def test_tool_message_caps_rows(sample_db: str, chat_server: ChatServer) -> None:
    listing = query(
        columns=[{"column": "orders.id", "aggregate": None, "time_grain": None}], limit=500
    )
    chat_server.push(tool_call_reply([("c1", "Query", listing)]), text_reply("Listed."))
    turn = make_agent(sample_db, chat_server).ask("list 500 orders")
    payload = json.loads(chat_server.requests[1].messages[3]["content"])
    assert len(payload["rows"]) == 30 and payload["truncated"] is True
    assert turn.last_result and turn.last_result.result
    assert len(turn.last_result.result.rows) == 500  # the user still gets every row


def test_streaming_answer_and_split_tool_call(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(
        tool_call_reply([("call_9", "Query", SHIPPED)]),
        text_reply(["There are ", "a few ", "in transit."]),
    )
    deltas: list[str] = []
    turn = make_agent(sample_db, chat_server).ask("in transit?", on_text=deltas.append)
    assert deltas == ["There are ", "a few ", "in transit."]
    assert turn.answer == "There are a few in transit."
    assert all(r.stream for r in chat_server.requests)
    assert turn.tool_runs[0].result is not None


def test_unknown_column_goes_back_to_the_model(sample_db: str, chat_server: ChatServer) -> None:
    wrong = query(columns=[{"column": "orders.colour", "aggregate": None, "time_grain": None}])
    chat_server.push(
        tool_call_reply([("a", "Query", wrong)]),
        tool_call_reply([("b", "Query", SHIPPED)]),
        text_reply("Done."),
    )
    turn = make_agent(sample_db, chat_server).ask("how many shipped")
    feedback = json.loads(chat_server.requests[1].messages[-1]["content"])
    assert "unknown column 'orders.colour'" in feedback["error"]
    assert "Columns of orders:" in feedback["error"]
    assert turn.answer == "Done." and turn.tool_runs[0].error and turn.tool_runs[1].result


def test_bad_status_error_suggests_the_fix(sample_db: str, chat_server: ChatServer) -> None:
    bad = SHIPPED.replace('"shipped"', '"shiped"')
    chat_server.push(tool_call_reply([("a", "Query", bad)]), text_reply("Sorry."))
    make_agent(sample_db, chat_server).ask("shipped?")
    feedback = json.loads(chat_server.requests[1].messages[-1]["content"])
    assert "Did you mean 'shipped'?" in feedback["error"]


def test_malformed_arguments_are_reported_not_raised(
    sample_db: str, chat_server: ChatServer
) -> None:
    chat_server.push(
        tool_call_reply([("a", "Query", '{"table_name": "orders", ')]),
        text_reply("I could not query that."),
    )
    turn = make_agent(sample_db, chat_server).ask("?")
    feedback = json.loads(chat_server.requests[1].messages[-1]["content"])
    assert "not valid JSON" in feedback["error"]
    assert turn.answer == "I could not query that."


def test_gives_up_after_repeated_bad_calls(sample_db: str, chat_server: ChatServer) -> None:
    wrong = query(table="invoices")
    chat_server.push(*[tool_call_reply([(f"c{i}", "Query", wrong)]) for i in range(3)])
    agent = make_agent(sample_db, chat_server)
    with pytest.raises(ModelError, match="could not form a valid query after 3 attempts"):
        agent.ask("invoices?")
    assert [m["role"] for m in agent.messages] == ["system"]  # nothing half-done is kept


def test_several_tool_calls_in_one_turn(sample_db: str, chat_server: ChatServer) -> None:
    delivered = SHIPPED.replace('"shipped"', '"delivered"')
    chat_server.push(
        tool_call_reply([("x", "Query", SHIPPED), ("y", "Query", delivered)]), text_reply("Both.")
    )
    turn = make_agent(sample_db, chat_server).ask("shipped and delivered?")
    tool_messages = [m for m in chat_server.requests[1].messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["x", "y"]
    assert len(turn.tool_runs) == 2 and all(r.result for r in turn.tool_runs)


def test_follow_up_keeps_the_conversation(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(text_reply("First."), text_reply("Second."))
    agent = make_agent(sample_db, chat_server)
    agent.ask("one")
    agent.ask("two")
    roles = [m["role"] for m in chat_server.requests[1].messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert chat_server.requests[1].messages[2]["content"] == "First."


def test_rate_limit_is_retried(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(status_reply(429, headers={"retry-after-ms": "1"}), text_reply("OK."))
    turn = make_agent(sample_db, chat_server, max_retries=1).ask("hi")
    assert turn.answer == "OK." and len(chat_server.requests) == 2


def test_rate_limit_retries_run_out(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(*[status_reply(429, headers={"retry-after-ms": "1"})] * 2)
    with pytest.raises(ModelError, match=r"rate limiting requests \(429\)"):
        make_agent(sample_db, chat_server, max_retries=1).ask("hi")


def test_server_error_names_the_endpoint(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(status_reply(500))
    agent = make_agent(sample_db, chat_server)
    with pytest.raises(ModelError) as caught:
        agent.ask("hi")
    assert "HTTP 500" in str(caught.value) and chat_server.url in str(caught.value)
    chat_server.push(text_reply("Back."))
    assert agent.ask("again").answer == "Back."  # the conversation survived
    assert [m["role"] for m in agent.messages] == ["system", "user", "assistant"]


def test_timeout(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(delay_reply(2.0, then=text_reply("late")))
    with pytest.raises(ModelError, match="did not answer in time"):
        make_agent(sample_db, chat_server, timeout=0.3).ask("hi")


def test_connection_refused(sample_db: str) -> None:
    backend = openai_backend("m", base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0)
    agent = Agent(sample_db, backend=backend, today=TODAY)
    with pytest.raises(ModelError, match="Cannot reach compatible model 'm' at http://127.0.0.1:9"):
        agent.ask("hi")


def test_malformed_body(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(malformed_reply())
    with pytest.raises(ModelError, match="not valid JSON|unreadable"):
        make_agent(sample_db, chat_server).ask("hi")


@pytest.mark.parametrize(
    ("reply", "message"),
    [(length_reply(), "cut off by its length limit"), (content_filter_reply(), "content filter")],
)
def test_cut_replies_are_reported(sample_db: str, chat_server: ChatServer, reply, message) -> None:  # type: ignore[no-untyped-def]
    chat_server.push(reply)
    with pytest.raises(ModelError, match=message):
        make_agent(sample_db, chat_server).ask("hi")


def test_server_without_strict_tools_falls_back(sample_db: str, chat_server: ChatServer) -> None:
    rejection = {
        "error": {
            "message": "Unrecognized field: tools[0].function.strict",
            "type": "invalid_request_error",
        }
    }
    chat_server.push(
        status_reply(400, body=rejection),
        tool_call_reply([("a", "Query", SHIPPED)]),
        text_reply("Fine."),
    )
    turn = make_agent(sample_db, chat_server).ask("shipped?")
    assert "strict" not in chat_server.requests[1].tools[0]["function"]
    assert turn.answer == "Fine." and turn.tool_runs[0].result is not None


def test_tenant_scope_applies_to_every_tool_call(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(tool_call_reply([("a", "Query", query())]), text_reply("Yours."))
    turn = make_agent(sample_db, chat_server, customer_id=7).ask("how many orders do I have")
    mine = sql_count(sample_db, "SELECT count(*) FROM orders WHERE customer_id = 7")
    assert turn.last_result and turn.last_result.result
    assert turn.last_result.result.rows == [[mine]]
    assert "customer #7" in chat_server.requests[0].messages[0]["content"]


def test_async_agent(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(tool_call_reply([("a", "Query", SHIPPED)]), text_reply(["Async ", "done."]))

    async def scenario() -> tuple[str, list[str]]:
        backend = openai_backend(
            "m", base_url=chat_server.url, api_key="k", max_retries=0, asynchronous=True
        )
        deltas: list[str] = []
        agent = AsyncAgent(sample_db, backend=backend, today=TODAY)
        turn = await agent.ask("shipped?", on_text=deltas.append)
        await backend.client.close()
        return turn.answer, deltas

    answer, deltas = asyncio.run(scenario())
    assert answer == "Async done." and deltas == ["Async ", "done."]


def test_azure_with_api_key(sample_db: str, chat_server: ChatServer) -> None:
    backend = azure_backend(
        "orders-gpt",
        endpoint=chat_server.root_url,
        api_key="secret",
        api_version="2024-10-21",
        max_retries=0,
        timeout=5.0,
    )
    chat_server.push(text_reply("Azure says hi."))
    assert Agent(sample_db, backend=backend, today=TODAY).ask("hi").answer == "Azure says hi."
    sent = chat_server.requests[0]
    assert sent.path == "/openai/deployments/orders-gpt/chat/completions"
    assert sent.query.get("api-version") == "2024-10-21"
    assert sent.headers.get("api-key") == "secret"


def test_azure_with_entra_token_provider_async(sample_db: str, chat_server: ChatServer) -> None:
    async def token() -> str:
        return "entra-token"

    backend = azure_backend(
        "dep",
        endpoint=chat_server.root_url,
        token_provider=token,
        asynchronous=True,
        max_retries=0,
        timeout=5.0,
    )
    assert isinstance(backend.client, openai.AsyncAzureOpenAI)
    chat_server.push(text_reply("ok"))

    async def scenario() -> str:
        turn = await AsyncAgent(sample_db, backend=backend, today=TODAY).ask("hi")
        await backend.client.close()
        return turn.answer

    assert asyncio.run(scenario()) == "ok"
    assert chat_server.requests[0].headers.get("authorization") == "Bearer entra-token"


def test_backend_choice_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from nl2sql.errors import ConfigError
    from nl2sql.models.backends import choose_backend

    for name in (
        "OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "OPENAI_BASE_URL",
        "NL2SQL_MODEL",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_DEPLOYMENT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert choose_backend(None).kind == "offline"
    with pytest.raises(ConfigError, match="Model 'gpt-x' needs an endpoint"):
        choose_backend("gpt-x")  # no silent switch to the offline model
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    with pytest.raises(ConfigError, match="Name the model served at http://127.0.0.1:8000/v1"):
        choose_backend(None)
    monkeypatch.setenv("NL2SQL_MODEL", "llama3.1")
    chosen = choose_backend(None)
    assert chosen.model == "llama3.1"
    assert chosen.kind == "compatible" and chosen.endpoint.startswith("http://127.0.0.1:8000")
    assert choose_backend("offline").kind == "offline"
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("NL2SQL_MODEL")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    with pytest.raises(ConfigError, match="deployment"):
        choose_backend(None)
    assert choose_backend("dep").kind == "azure"
    monkeypatch.setenv("NL2SQL_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="NL2SQL_TIMEOUT"):
        choose_backend("dep")


def test_backend_dataclass_describes_itself() -> None:
    backend = Backend("openai", None, "gpt-x", "https://api.example/v1")
    assert backend.describe() == "openai model 'gpt-x' at https://api.example/v1"


def test_unusable_database_stops_the_turn(
    tmp_path: Path, sample_db: str, chat_server: ChatServer
) -> None:
    import shutil

    from nl2sql.database import sqlite_path
    from nl2sql.errors import DatabaseUnavailableError

    copy = tmp_path / "vanishing.sqlite3"
    shutil.copy(sqlite_path(sample_db), copy)  # type: ignore[arg-type]
    chat_server.push(tool_call_reply([("a", "Query", SHIPPED)]))
    agent = make_agent(f"sqlite:///{copy}", chat_server)
    copy.write_bytes(b"not a database " * 512)  # ruined between start-up and the first query
    with pytest.raises(DatabaseUnavailableError, match="not an SQLite database"):
        agent.ask("how many shipped?")
    assert len(chat_server.requests) == 1  # not fed back to the model: it cannot fix this
    assert [m["role"] for m in agent.messages] == ["system"]


def test_the_tool_sent_is_the_one_nl2sql_schema_prints(
    sample_db: str, chat_server: ChatServer
) -> None:
    from nl2sql.tooling import tool_definition

    chat_server.push(text_reply("ok"))
    make_agent(sample_db, chat_server).ask("hi")
    assert chat_server.requests[0].tools == [json.loads(json.dumps(tool_definition()))]


def test_async_agent_with_the_offline_model(sample_db: str) -> None:
    async def scenario() -> tuple[str, str, list[str]]:
        agent = AsyncAgent(sample_db, model="offline", today=TODAY)
        deltas: list[str] = []
        first = await agent.ask(
            "how many orders were delivered late last month?", on_text=deltas.append
        )
        second = await agent.ask("only those from Germany")
        await agent.backend.client.close()
        return first.answer, second.answer, deltas

    first, second, deltas = asyncio.run(scenario())
    late = sql_count(
        sample_db,
        "SELECT count(*) FROM orders WHERE delivered_at >= '2026-10-01' "
        "AND delivered_at < '2026-11-01' AND date(delivered_at) > "
        "expected_delivery_date",
    )
    assert f" {late} orders" in first and len(deltas) > 1 and "".join(deltas) == first
    assert "Germany" in second


class SlowDatabase(ReadOnlyDatabase):
    """The real database, each query held up for a while and the thread that ran it noted."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.threads: list[int] = []

    def run(self, *args: Any, **kwargs: Any) -> Any:
        self.threads.append(threading.get_ident())
        time.sleep(0.3)
        return super().run(*args, **kwargs)


def test_async_agent_runs_sql_off_the_event_loop(sample_db: str) -> None:
    """While a slow query runs, the loop keeps serving other tasks (the SQL is in a thread)."""

    async def scenario() -> tuple[int, int, str]:
        db = SlowDatabase(sample_db)
        agent = AsyncAgent(db, model="offline", today=TODAY)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        turn = await agent.ask("how many orders were shipped?")
        task.cancel()
        await agent.backend.client.close()
        db.close()
        return ticks, db.threads[0], turn.answer

    loop_thread = threading.get_ident()  # asyncio.run runs the loop in this thread
    ticks, sql_thread, answer = asyncio.run(scenario())
    assert sql_thread != loop_thread
    assert ticks >= 10, f"the loop ticked {ticks} times during a 0.3 s query"
    assert "orders" in answer


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NL2SQL_TIMEOUT", "-3", "positive number of seconds"),
        ("NL2SQL_TIMEOUT", "nan", "positive number of seconds"),
        ("NL2SQL_MAX_RETRIES", "two", "whole number"),
        ("NL2SQL_MAX_RETRIES", "-1", "whole number"),
    ],
)
def test_numeric_settings_are_checked(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    from nl2sql.errors import ConfigError
    from nl2sql.models.backends import choose_backend

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"{name} must be a .*{message}"):
        choose_backend("m")


def test_a_reply_with_too_many_tool_calls_ends_the_turn(
    sample_db: str, chat_server: ChatServer
) -> None:
    from nl2sql.agent import MAX_CALLS_PER_REPLY

    calls = [(f"c{i}", "Query", SHIPPED) for i in range(MAX_CALLS_PER_REPLY + 1)]
    chat_server.push(tool_call_reply(calls))
    agent = make_agent(sample_db, chat_server)
    with pytest.raises(ModelError, match=f"asked for {MAX_CALLS_PER_REPLY + 1} queries"):
        agent.ask("how many shipped?")
    assert len(chat_server.requests) == 1  # no query ran, nothing went back to the model


def test_a_plain_reply_to_a_streaming_request_is_a_clear_error(
    sample_db: str, chat_server: ChatServer
) -> None:
    completion = {
        "id": "chatcmpl-plain",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "hello"},
            }
        ],
    }
    chat_server.push(status_reply(200, body=json.dumps(completion).encode()))
    agent = make_agent(sample_db, chat_server)
    with pytest.raises(ModelError) as caught:
        agent.ask("hi", on_text=lambda _delta: None)  # a streaming request
    message = str(caught.value)
    assert "test-model" in message and "\n" not in message
