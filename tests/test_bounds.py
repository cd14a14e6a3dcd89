"""Bounds on a whole question: its deadline (model, streaming and queries together), and caps
on what one model reply may carry, against the scripted server over real HTTP."""

from __future__ import annotations

import time
from datetime import date

import pytest
from chat_server import (  # noqa: F401  (chat_server_fixture registers the fixture)
    ChatServer,
    chat_server_fixture,
    completion_reply,
    text_reply,
    tool_call_reply,
    trickle_reply,
)
from query_builders import COUNT_ORDERS

from nl2sql import database
from nl2sql.agent import MAX_CALLS_PER_REPLY, Agent, AsyncAgent
from nl2sql.deadline import QuestionTimeoutError
from nl2sql.errors import ModelError
from nl2sql.models.backends import openai_backend
from nl2sql.query import MAX_ARGUMENT_CHARS

TODAY = date(2026, 11, 28)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('bounds') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


def agent_for(url: str, server: ChatServer, cls: type = Agent, **options):  # type: ignore[no-untyped-def]
    backend = openai_backend(
        "test-model",
        base_url=server.url,
        api_key="test",
        max_retries=options.pop("max_retries", 0),
        timeout=options.pop("timeout", 3.0),
        asynchronous=cls is AsyncAgent,
    )
    return cls(url, backend=backend, today=TODAY, **options)


# -- the deadline -------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True])
def test_a_server_trickling_one_byte_at_a_time_is_cut_off(
    sample_db: str, chat_server: ChatServer, streamed: bool
) -> None:
    # Each byte comes well within the 3 s read timeout: only the question's deadline stops it.
    chat_server.push(trickle_reply(0.05, text_reply("a long answer " * 40)))
    agent = agent_for(sample_db, chat_server, question_seconds=1.0, max_retries=2)
    started = time.monotonic()
    with pytest.raises(QuestionTimeoutError, match="NL2SQL_QUESTION_TIMEOUT"):
        agent.ask("hi", on_text=(lambda _text: None) if streamed else None)
    # The whole reply would take 30 s. The SDK may wait one backoff (up to 1 s) before the retry
    # that the transport then answers at once, unsent, with "do not retry".
    assert time.monotonic() - started < 5
    assert agent.messages[-1]["role"] == "system"  # the conversation is as it was


def test_the_async_agent_keeps_the_same_deadline(sample_db: str, chat_server: ChatServer) -> None:
    import asyncio

    chat_server.push(trickle_reply(0.05, text_reply("a long answer " * 40)))
    agent = agent_for(sample_db, chat_server, cls=AsyncAgent, question_seconds=1.0)
    with pytest.raises(QuestionTimeoutError):
        asyncio.run(agent.ask("hi", on_text=lambda _text: None))


def test_the_deadline_spans_every_step_of_the_question(
    sample_db: str, chat_server: ChatServer
) -> None:
    # Three slow-ish steps, each far within the read timeout; together they pass the deadline.
    for _ in range(3):
        chat_server.push(
            trickle_reply(0.02, tool_call_reply([("c", "Query", COUNT_ORDERS)]), piece=20)
        )
    agent = agent_for(sample_db, chat_server, question_seconds=1.0)
    with pytest.raises(QuestionTimeoutError):
        agent.ask("how many orders?")


def test_a_question_within_its_deadline_is_answered(
    sample_db: str, chat_server: ChatServer
) -> None:
    chat_server.push(
        tool_call_reply([("c", "Query", COUNT_ORDERS)]), text_reply("There are 5 orders.")
    )
    turn = agent_for(sample_db, chat_server, question_seconds=30).ask("how many orders?")
    assert turn.answer == "There are 5 orders." and turn.tool_runs[0].result is not None


# -- what one streamed reply may carry ---------------------------------------------------------


def test_streamed_arguments_past_the_cap_stop_the_reply(
    sample_db: str, chat_server: ChatServer
) -> None:
    huge = '{"table_name": "orders", "padding": "' + "x" * (8 * 1024 * 1024) + '"}'
    chat_server.push(tool_call_reply([("c", "Query", huge)]))
    agent = agent_for(sample_db, chat_server)
    with pytest.raises(ModelError, match=f"longer than {MAX_ARGUMENT_CHARS:,} characters"):
        agent.ask("hi", on_text=lambda _text: None)


def test_too_many_streamed_calls_stop_the_reply(sample_db: str, chat_server: ChatServer) -> None:
    calls = [(f"c{i}", "Query", COUNT_ORDERS) for i in range(MAX_CALLS_PER_REPLY * 25)]
    chat_server.push(tool_call_reply(calls))
    agent = agent_for(sample_db, chat_server)
    with pytest.raises(ModelError, match=f"at most {MAX_CALLS_PER_REPLY}"):
        agent.ask("hi", on_text=lambda _text: None)
    assert agent.turns == []  # nothing ran: the reply was refused while it arrived


def test_a_stream_that_ends_unfinished_is_a_model_error(
    sample_db: str, chat_server: ChatServer
) -> None:
    chat_server.push(completion_reply("cut off", finish_reason=None))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="before finishing"):
        agent_for(sample_db, chat_server).ask("hi", on_text=lambda _text: None)


def test_streamed_tool_calls_run_like_unstreamed_ones(
    sample_db: str, chat_server: ChatServer
) -> None:
    chat_server.push(
        tool_call_reply([("c", "Query", COUNT_ORDERS)]), text_reply(["There are ", "5."])
    )
    shown: list[str] = []
    turn = agent_for(sample_db, chat_server).ask("how many orders?", on_text=shown.append)
    assert "".join(shown) == "There are 5." == turn.answer
    assert turn.tool_runs[0].result is not None and turn.tool_runs[0].result.row_count == 1
