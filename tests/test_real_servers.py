"""What a real compatible server sends, replayed: llama-cpp-python 0.3.36's exchanges with nl2sql,
captured in tests/captures/ (unedited), served by the scripted server over real HTTP to the real
SDK. Each replay must end in a correct protocol outcome: a tool called, or a clear refusal."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from chat_server import (  # noqa: F401  (chat_server_fixture registers the fixture)
    ChatServer,
    captured,
    chat_server_fixture,
    replay_reply,
    text_reply,
)
from query_builders import COUNT_ORDERS
from rich.console import Console

from nl2sql import database, session
from nl2sql.agent import REFUSED, Agent
from nl2sql.errors import ModelError
from nl2sql.models.backends import openai_backend

LLAMA = "llama-cpp-python-0.3.36"
TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('replay') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


def agent_for(url: str, server: ChatServer, **options: Any) -> Agent:
    backend = openai_backend(
        "gemma3-270m", base_url=server.url, api_key="none", max_retries=0, timeout=10
    )
    return Agent(url, backend=backend, today=TODAY, **options)


def chat_completions(name: str) -> list[dict[str, Any]]:
    """The chat completions exchanges of a capture file (compat_probe records name no path)."""
    return [
        r
        for r in captured(f"{LLAMA}/{name}")
        if r.get("path", "/v1/chat/completions") == "/v1/chat/completions"
    ]


def was_streamed(record: dict[str, Any]) -> bool:
    request = record["request"]
    request = json.loads(request) if isinstance(request, str) else request
    return bool(request.get("stream"))


# -- the seven findings -------------------------------------------------------------------------


def test_every_request_says_tool_choice_auto(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(text_reply("hello"))
    agent_for(sample_db, chat_server).ask("hi")
    assert chat_server.requests[0].json["tool_choice"] == "auto"


def test_prose_that_ran_no_query_is_a_refusal(sample_db: str, chat_server: ChatServer) -> None:
    # The server left the tools out and the model wrote prose: never an answer.
    prose = chat_completions("nl2sql_plain_and_chat")[17]
    chat_server.push(replay_reply(prose))
    turn = agent_for(sample_db, chat_server).ask("How many orders were delivered?")
    assert turn.status == REFUSED and turn.understood == ""


def test_after_a_tool_call_the_assistant_content_is_a_string(
    sample_db: str, chat_server: ChatServer
) -> None:
    forced = chat_completions("nl2sql_forced_tool_choice")[0]  # a (bad) Query call
    chat_server.push(replay_reply(forced), text_reply("I could not form a query."))
    agent_for(sample_db, chat_server).ask("How many orders were delivered?")
    follow_up = chat_server.requests[1].messages
    assistant = next(m for m in follow_up if m["role"] == "assistant")
    assert assistant["content"] == "" and assistant["tool_calls"][0]["function"]["name"] == "Query"


def test_the_servers_error_names_the_field_it_rejected(
    sample_db: str, chat_server: ChatServer
) -> None:
    rejected = chat_completions("nl2sql_forced_tool_choice")[1]  # 500: 7 validation errors
    assert rejected["status"] == 500
    chat_server.push(replay_reply(rejected))
    with pytest.raises(ModelError) as caught:
        agent_for(sample_db, chat_server).ask("hi")
    message = str(caught.value)
    assert "7 validation errors" in message and "\n" not in message
    assert "ChatCompletionRequestAssistantMessage" in message
    assert "Input should be a valid string" in message


def test_a_streamed_call_repeating_its_id_and_name_is_one_call(
    sample_db: str, chat_server: ChatServer
) -> None:
    streamed = chat_completions("nl2sql_forced_tool_choice")[4]
    assert was_streamed(streamed)
    chat_server.push(replay_reply(streamed), text_reply("I could not form a query."))
    turn = agent_for(sample_db, chat_server).ask("hi", on_text=lambda _text: None)
    [run] = turn.tool_runs
    assert "Unknown tool" not in (run.error or "")
    sent = next(m for m in chat_server.requests[1].messages if m["role"] == "assistant")
    call = sent["tool_calls"][0]
    assert call["function"]["name"] == "Query"
    assert call["id"] == "call__0_Query_cmpl-d9eb36dc-91d8-4afe-a697-f4fddc2dd652"
    # The follow-up is the first request and one call more, not 32 KB of glued pieces.
    first = len(chat_server.requests[0].raw_body)
    assert len(chat_server.requests[1].raw_body) < first + 3_000


def test_a_server_that_sends_no_usage_leaves_the_tokens_unknown(
    sample_db: str, chat_server: ChatServer
) -> None:
    streamed = chat_completions("nl2sql_plain_and_chat")[34]  # asked include_usage, sent none
    chat_server.push(replay_reply(streamed))
    turn = agent_for(sample_db, chat_server).ask("hi", on_text=lambda _text: None)
    assert turn.prompt_tokens is None and turn.completion_tokens is None
    console = Console(record=True, width=200)
    session.report(console, turn)
    assert "tokens: unknown" in console.export_text()


def test_strict_is_dropped_when_a_500_says_the_server_cannot_take_it(
    sample_db: str, chat_server: ChatServer
) -> None:
    refusal = captured(f"{LLAMA}/compat_probe")[8]  # 500 naming response_format json_schema
    assert refusal["status"] == 500 and "json_schema" in json.dumps(refusal["response"])
    chat_server.push(replay_reply(refusal), text_reply("hello"))
    turn = agent_for(sample_db, chat_server).ask("hi")
    first, second = (request.tools[0]["function"] for request in chat_server.requests)
    assert first.get("strict") is True and not second.get("strict")
    assert turn.tools_mode.startswith("not strict (the server refused them: HTTP 500")
    console = Console(record=True, width=300)
    session.report(console, turn)
    assert "tools: not strict" in console.export_text()


# -- every captured reply -----------------------------------------------------------------------

EVERY_REPLY = [
    pytest.param(record, id=f"{name}-{index}")
    for name in (
        "compat_probe",
        "nl2sql_plain_and_chat",
        "nl2sql_auto_tool_choice",
        "nl2sql_forced_tool_choice",
    )
    for index, record in enumerate(chat_completions(name))
]


@pytest.mark.parametrize("record", EVERY_REPLY)
def test_every_captured_reply_ends_in_a_call_or_a_clear_refusal(
    sample_db: str, chat_server: ChatServer, record: dict[str, Any]
) -> None:
    # Whatever the model answers after its first reply is scripted: the first is the real one.
    chat_server.push(replay_reply(record), *[text_reply("I cannot tell.")] * 3)
    agent = agent_for(sample_db, chat_server)
    streaming = (lambda _text: None) if was_streamed(record) else None
    try:
        turn = agent.ask("How many orders were delivered?", on_text=streaming)
    except ModelError as error:  # a server error, a reply cut by its length limit: one line
        assert "\n" not in str(error) and "gemma3-270m" in str(error)
        return
    called = bool(turn.tool_runs) and turn.tool_runs[0].arguments != ""
    assert called or turn.status == REFUSED
    if turn.status != REFUSED:
        assert turn.grounded and turn.understood  # an answer rests on a query that ran


# -- the real-server check (benchmarks/real_server.py), against the scripted server ------------


def test_the_real_server_check_reports_each_question(chat_server: ChatServer) -> None:
    import sys
    from pathlib import Path

    from chat_server import status_reply, tool_call_reply

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import real_server  # noqa: PLC0415

    cases = [c for c in real_server.load_set(real_server.DEFAULT_SET) if c.database == "sample"]
    first, second, third = cases[0], cases[1], cases[2]
    # 1: a query the model makes (then an answer), 2: prose with no query, 3: a server error
    count = json.dumps(
        {"table_name": "orders", "columns": [{"column": "orders.id", "aggregate": "count",
         "time_grain": None}], "conditions": [], "order_by": [], "limit": None}
    )  # fmt: skip
    chat_server.push(
        tool_call_reply([("c", "Query", count)]),
        text_reply("Done."),
        text_reply("I think there are many."),
        status_reply(500),
    )
    rows = real_server.run(chat_server.url, "m", [first, second, third], 30, "chat")
    assert [row.verdict for row in rows][1:] == ["refused", "error"]
    assert rows[0].verdict in ("right", "wrong") and rows[0].round_trips == 2
    assert [row.protocol_ok for row in rows] == [True, True, False]
    assert "3 questions: protocol OK 2 (67%)" in real_server.summary(rows)


def test_a_server_that_ignores_strict_is_named_under_verbose(
    sample_db: str, chat_server: ChatServer
) -> None:
    # The server took the strict tool, then its model sent arguments strict decoding forbids
    # (a missing field). llama-cpp-python takes `strict` and ignores it; its captured calls
    # happen to fit the schema, so this reply is scripted.
    from chat_server import tool_call_reply

    chat_server.push(
        tool_call_reply([("c", "Query", '{"table_name": "orders"}')]),
        text_reply("I could not form a query."),
    )
    turn = agent_for(sample_db, chat_server).ask("How many orders were delivered?")
    assert chat_server.requests[0].tools[0]["function"]["strict"] is True
    assert turn.tools_mode.startswith("strict requested, not enforced by the server")


# -- other servers, as their docs and trackers describe them (scripted, not captured) ----------
# Sources: /README.md's server table; each reply below is shaped as that server documents it.


def sse(chunks: list[dict[str, Any]]) -> str:
    return "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip


def test_ollama_streams_a_whole_call_in_one_chunk(sample_db: str, chat_server: ChatServer) -> None:
    whole = {"index": 0, "id": "call_x", "type": "function",
             "function": {"name": "Query", "arguments": COUNT_ORDERS}}  # fmt: skip
    body = sse([chunk({"role": "assistant", "content": "", "tool_calls": [whole]}),
                chunk({}, "tool_calls")])  # fmt: skip
    record = {"status": 200, "response": body}
    chat_server.push(replay_reply(record), text_reply("Counted."))
    turn = agent_for(sample_db, chat_server).ask("how many orders?", on_text=lambda _t: None)
    assert turn.status == "answered" and turn.tool_runs[0].result is not None


def test_lm_studio_error_as_a_plain_string_is_one_line(
    sample_db: str, chat_server: ChatServer
) -> None:
    from chat_server import status_reply

    chat_server.push(status_reply(400, body=b'{"error": "Invalid \'content\': null"}'))
    with pytest.raises(ModelError) as caught:
        agent_for(sample_db, chat_server).ask("hi")
    assert "HTTP 400" in str(caught.value) and "content" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_vllm_without_auto_tool_choice_names_the_server_flag(
    sample_db: str, chat_server: ChatServer
) -> None:
    from chat_server import status_reply

    message = (
        '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
    )
    body = json.dumps(
        {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}
    )
    chat_server.push(status_reply(400, body=body.encode()))
    with pytest.raises(ModelError, match="--enable-auto-tool-choice"):
        agent_for(sample_db, chat_server).ask("hi")


def test_litellm_error_codes_as_strings_are_read(sample_db: str, chat_server: ChatServer) -> None:
    from chat_server import status_reply

    body = (
        b'{"error": {"message": "upstream rejected", "type": "None", "param": null, "code": "422"}}'
    )
    chat_server.push(status_reply(422, body=body))
    with pytest.raises(ModelError, match="HTTP 422: upstream rejected"):
        agent_for(sample_db, chat_server).ask("hi")


# -- a bound on each reply --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "field"), [("chat", "max_tokens"), ("responses", "max_output_tokens")]
)
def test_max_output_tokens_bounds_each_request(
    sample_db: str, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch, api: str, field: str
) -> None:
    monkeypatch.setenv("NL2SQL_MAX_OUTPUT_TOKENS", "512")
    chat_server.push(text_reply("Nothing to query."))
    agent_for(sample_db, chat_server, api=api).ask("hi", on_text=lambda _text: None)
    body = json.loads(chat_server.requests[0].raw_body)
    assert body[field] == 512


def test_no_bound_is_sent_unless_asked(sample_db: str, chat_server: ChatServer) -> None:
    chat_server.push(text_reply("Nothing to query."))
    agent_for(sample_db, chat_server).ask("hi", on_text=lambda _text: None)
    body = json.loads(chat_server.requests[0].raw_body)
    assert not {"max_tokens", "max_completion_tokens", "max_output_tokens"} & set(body)


def test_a_bad_bound_is_one_clear_error(
    sample_db: str, chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NL2SQL_MAX_OUTPUT_TOKENS", "lots")
    with pytest.raises(Exception, match="NL2SQL_MAX_OUTPUT_TOKENS must be a whole number"):
        agent_for(sample_db, chat_server).ask("hi", on_text=lambda _text: None)
    assert chat_server.requests == []
