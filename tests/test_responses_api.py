"""The Responses API as the second transport (`--api responses`): the same loop as Chat
Completions — validation errors back to the model, streaming, strict fallback, limits — over the
scripted server's Responses wire format and the offline model, sync and async, OpenAI and Azure."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from chat_server import (  # noqa: F401  (chat_server_fixture registers the fixture)
    ChatServer,
    chat_server_fixture,
    length_reply,
    status_reply,
    text_reply,
    tool_call_reply,
)
from query_builders import COUNT_ORDERS, field, query
from question_sets import HERE as QUESTIONS
from question_sets import load_set
from typer.testing import CliRunner

from nl2sql import database
from nl2sql.agent import ANSWERED, Agent, AsyncAgent
from nl2sql.cli import app
from nl2sql.errors import ConfigError, ModelError
from nl2sql.models.backends import azure_backend, openai_backend

TODAY = date(2026, 11, 28)
BAD = json.dumps(query("orders", [field("orders.colour")]))


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('responses') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


def agent_for(url: str, server: ChatServer, cls: type = Agent, **options: Any) -> Any:
    backend = openai_backend(
        "gpt-4.1", base_url=server.url, api_key="k", max_retries=0, asynchronous=cls is AsyncAgent
    )
    return cls(url, backend=backend, today=TODAY, api="responses", **options)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_question_runs_through_the_responses_api(
    sample_db: str, chat_server: ChatServer, streamed: bool
) -> None:
    chat_server.push(
        tool_call_reply([("call_1", "Query", COUNT_ORDERS)]), text_reply(["There are ", "many."])
    )
    shown: list[str] = []
    turn = agent_for(sample_db, chat_server).ask(
        "how many orders?", on_text=shown.append if streamed else None
    )
    assert turn.status == ANSWERED and turn.answer == "There are many."
    assert turn.tool_runs[0].result is not None and turn.understood == "count of orders"
    assert "".join(shown) == ("There are many." if streamed else "")
    first, second = (request.json for request in chat_server.requests)
    assert all(r.path.endswith("/responses") for r in chat_server.requests)
    [tool] = first["tools"]
    assert tool["type"] == "function" and tool["name"] == "Query" and tool["strict"] is True
    assert first["tool_choice"] == "auto" and first["store"] is False
    assert [item.get("role") for item in first["input"]] == ["system", "user"]
    kinds = [item.get("type", "message") for item in second["input"]]
    assert kinds == ["message", "message", "function_call", "function_call_output"]
    call, output = second["input"][2], second["input"][3]
    assert call["call_id"] == output["call_id"] == "call_1" and call["arguments"] == COUNT_ORDERS
    assert json.loads(output["output"])["row_count"] == 1
    assert turn.prompt_tokens and turn.completion_tokens  # usage read from input/output tokens


def test_a_validation_error_goes_back_to_the_model(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(
        tool_call_reply([("a", "Query", BAD)]),
        tool_call_reply([("b", "Query", COUNT_ORDERS)]),
        text_reply("Counted."),
    )
    turn = agent_for(sample_db, chat_server).ask("how many orders?")
    assert turn.status == ANSWERED and len(turn.tool_runs) == 2
    returned = chat_server.requests[1].json["input"][-1]
    assert returned["type"] == "function_call_output" and "orders.colour" in returned["output"]


def test_strict_is_dropped_when_the_server_refuses_it(
    sample_db: str, chat_server: ChatServer
) -> None:
    chat_server.push(
        status_reply(400, body=b'{"error": {"message": "strict mode is not supported"}}'),
        text_reply("hello"),
    )
    turn = agent_for(sample_db, chat_server).ask("hi")
    first, second = (request.json["tools"][0] for request in chat_server.requests)
    assert first["strict"] is True and second["strict"] is False
    assert turn.tools_mode.startswith("not strict")


def test_a_reply_cut_by_its_length_limit_is_one_line(
    sample_db: str, chat_server: ChatServer
) -> None:
    chat_server.push(length_reply("cut"))
    with pytest.raises(ModelError, match="cut off by its length limit"):
        agent_for(sample_db, chat_server).ask("hi", on_text=lambda _text: None)


def test_the_async_agent_speaks_it_too(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(tool_call_reply([("c", "Query", COUNT_ORDERS)]), text_reply("Counted."))
    turn = asyncio.run(
        agent_for(sample_db, chat_server, cls=AsyncAgent).ask("n?", on_text=lambda _t: None)
    )
    assert turn.status == ANSWERED and chat_server.requests[0].path.endswith("/responses")


def test_azure_openai_over_the_responses_api(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(tool_call_reply([("c", "Query", COUNT_ORDERS)]), text_reply("Counted."))
    backend = azure_backend(
        "my-deployment",
        endpoint=chat_server.root_url,
        api_key="k",
        api_version="2025-04-01-preview",
        max_retries=0,
    )
    turn = Agent(sample_db, backend=backend, today=TODAY, api="responses").ask("n?")
    assert turn.status == ANSWERED
    assert all(r.path.endswith("/responses") for r in chat_server.requests)
    assert chat_server.requests[0].json["model"] == "my-deployment"


def test_an_unknown_api_is_a_usage_error(sample_db: str) -> None:
    with pytest.raises(ConfigError, match="--api must be one of chat, responses"):
        Agent(sample_db, model="offline", api="completions")
    done = CliRunner().invoke(app, ["ask", "hi", "--db", sample_db, "--api", "nope"])
    assert done.exit_code == 2 and "--api must be one of" in done.output


def test_reasoning_models_get_a_developer_message(
    sample_db: str, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_server.push(text_reply("a"), text_reply("b"))
    for model in ("o3-mini", "gpt-4.1"):
        backend = openai_backend("x", api_key="k", max_retries=0)  # api.openai.com: "openai"
        backend.model, backend.client = (
            model,
            openai_backend(model, base_url=chat_server.url, api_key="k", max_retries=0).client,
        )
        Agent(sample_db, backend=backend, today=TODAY).ask("hi")
    roles = [request.json["messages"][0]["role"] for request in chat_server.requests]
    assert roles == ["developer", "system"]
    monkeypatch.setenv("NL2SQL_SYSTEM_ROLE", "developer")
    chat_server.push(text_reply("c"))
    agent_for(sample_db, chat_server).ask("hi")  # a compatible server, told outright
    assert chat_server.requests[-1].json["input"][0]["role"] == "developer"


# -- the offline model answers the same questions through both APIs ----------------------------

SAMPLE_SET = QUESTIONS / "development.toml"


def answers(url: str, api: str, cases: list[Any]) -> list[dict[str, Any]]:
    out = []
    for case in cases:
        with Agent(
            url, model="offline", today=case.today, customer_id=case.customer_id, api=api
        ) as agent:
            for earlier in case.before:
                agent.ask(earlier)
            turn = agent.ask(case.question)
        out.append({"status": turn.status, "answer": turn.answer, "query": turn.to_json()["query"]})
    return out


def test_the_offline_model_answers_alike_through_both_apis(sample_db: str) -> None:
    cases = [case for case in load_set(SAMPLE_SET) if case.database == "sample"][:80]
    assert len(cases) >= 40
    assert answers(sample_db, "responses", cases) == answers(sample_db, "chat", cases)


def test_the_cli_takes_api_responses(sample_db: str, tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app,
        ["ask", "how many orders are there?", "--db", sample_db, "--model", "offline",
         "--api", "responses", "--format", "json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["rows"]
