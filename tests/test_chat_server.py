"""The scripted chat server speaks the Chat Completions API well enough for the real openai SDK."""

from __future__ import annotations

import json
import socket
import threading
import time

import openai
import pytest
from chat_server import (
    ChatServer,
    Reply,
    chat_server_fixture,  # noqa: F401  (registers the `chat_server` fixture)
    content_filter_reply,
    delay_reply,
    length_reply,
    malformed_reply,
    status_reply,
    text_reply,
    tool_call_reply,
)
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ConfigDict

MODEL = "gpt-4o-mini"
ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the weather in Paris?"}
]


class Lookup(BaseModel):
    """Look up a city."""

    model_config = ConfigDict(extra="forbid")
    city: str


LOOKUP_TOOL = openai.pydantic_function_tool(Lookup)


def test_text_reply_without_streaming(chat_server: ChatServer) -> None:
    chat_server.push(text_reply("Sunny, 21 °C.", usage=(30, 7)))
    with chat_server.client() as client:
        completion = client.chat.completions.create(model=MODEL, messages=ASK)
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("Sunny, 21 °C.", "stop")
    assert choice.message.tool_calls is None and choice.message.refusal is None
    assert completion.usage is not None and completion.usage.total_tokens == 37
    sent = chat_server.last_request
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer test"
    assert sent.messages == ASK and sent.model == MODEL and not sent.stream


def test_parse_fills_parsed_arguments_and_sends_a_strict_tool(chat_server: ChatServer) -> None:
    chat_server.push(tool_call_reply([("call_1", "Lookup", '{"city": "Paris"}')]))
    with chat_server.client() as client:
        completion = client.chat.completions.parse(
            model=MODEL,
            messages=ASK,
            tools=[LOOKUP_TOOL],
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.id == "call_1" and call.function.name == "Lookup"
    assert call.function.parsed_arguments == Lookup(city="Paris")
    tool = chat_server.last_request.tools[0]
    assert tool["function"]["name"] == "Lookup"
    assert tool["function"]["strict"] is True
    assert tool["function"]["parameters"]["additionalProperties"] is False


def test_stream_text_arrives_in_several_deltas(chat_server: ChatServer) -> None:
    chat_server.push(text_reply("Sunny and warm in Paris today.", usage=(11, 9)))
    with (
        chat_server.client() as client,
        client.chat.completions.stream(
            model=MODEL,
            messages=ASK,
            stream_options={"include_usage": True},
        ) as stream,
    ):
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 1
    assert "".join(deltas) == "Sunny and warm in Paris today."
    assert final.choices[0].message.content == "Sunny and warm in Paris today."
    assert final.choices[0].finish_reason == "stop"
    assert final.usage is not None and final.usage.total_tokens == 20
    assert chat_server.last_request.stream and chat_server.last_request.include_usage


def test_streamed_tool_call_is_split_and_parses(chat_server: ChatServer) -> None:
    reply = tool_call_reply([("call_7", "Lookup", '{"city": "Lyon"}')])
    chat_server.push(reply, reply)
    with chat_server.client() as client:
        with client.chat.completions.stream(
            model=MODEL,
            messages=ASK,
            tools=[LOOKUP_TOOL],
        ) as stream:
            events = list(stream)
            final = stream.get_final_completion()
        raw = list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True))
    pieces = [e.arguments_delta for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert len([p for p in pieces if p]) > 1
    [done] = [e for e in events if e.type == "tool_calls.function.arguments.done"]
    assert done.parsed_arguments == Lookup(city="Lyon")
    [call] = final.choices[0].message.tool_calls or []
    assert call.id == "call_7" and call.function.arguments == '{"city": "Lyon"}'
    assert call.function.parsed_arguments == Lookup(city="Lyon")
    # Wire shape: the opening tool chunk names the call, later ones carry index + arguments only.
    tool_deltas = [c.choices[0].delta.tool_calls[0] for c in raw if c.choices[0].delta.tool_calls]
    opening, *rest = tool_deltas
    assert (opening.index, opening.id, opening.type) == (0, "call_7", "function")
    assert opening.function is not None and opening.function.name == "Lookup"
    assert rest and all(d.id is None and d.type is None for d in rest)
    assert all(d.function is not None and d.function.name is None for d in rest)
    assert raw[-1].choices[0].finish_reason == "tool_calls"
    assert raw[0].usage is None  # no usage chunk unless stream_options asked for it


def test_rate_limit_is_retried(chat_server: ChatServer) -> None:
    chat_server.push(status_reply(429, headers={"retry-after": "0"}), text_reply("Done."))
    with chat_server.client(max_retries=1) as client:
        completion = client.chat.completions.create(model=MODEL, messages=ASK)
    assert completion.choices[0].message.content == "Done."
    first, second = chat_server.requests
    assert first.json == second.json
    assert second.headers["x-stainless-retry-count"] == "1"


def test_server_error_without_retries_raises(chat_server: ChatServer) -> None:
    chat_server.push(status_reply(500))
    with chat_server.client(max_retries=0) as client, pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=MODEL, messages=ASK)
    assert len(chat_server.requests) == 1


def test_delay_beyond_the_client_timeout_raises(chat_server: ChatServer) -> None:
    chat_server.push(delay_reply(5.0))
    started = time.monotonic()
    with chat_server.client(timeout=0.2) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model=MODEL, messages=ASK)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_body_raises_a_json_error(chat_server: ChatServer, stream: bool) -> None:
    chat_server.push(malformed_reply())
    # The SDK lets the decoder's error through rather than wrapping it in openai.APIError.
    with chat_server.client() as client, pytest.raises(json.JSONDecodeError):
        if stream:
            list(client.chat.completions.create(model=MODEL, messages=ASK, stream=True))
        else:
            client.chat.completions.create(model=MODEL, messages=ASK)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (length_reply(), openai.LengthFinishReasonError),
        (content_filter_reply(), openai.ContentFilterFinishReasonError),
    ],
)
def test_unfinished_answers_make_parse_raise(
    chat_server: ChatServer, reply: Reply, error: type[Exception]
) -> None:
    chat_server.push(reply, reply)
    with chat_server.client() as client:
        with pytest.raises(error):
            client.chat.completions.parse(model=MODEL, messages=ASK, tools=[LOOKUP_TOOL])
        with (
            pytest.raises(error),
            client.chat.completions.stream(
                model=MODEL, messages=ASK, tools=[LOOKUP_TOOL]
            ) as stream,
        ):
            stream.until_done()


def test_callable_reply_sees_the_request_body(chat_server: ChatServer) -> None:
    chat_server.push(lambda body: text_reply(body["messages"][-1]["content"].upper()))
    with chat_server.client() as client:
        completion = client.chat.completions.create(model=MODEL, messages=ASK)
    assert completion.choices[0].message.content == "WHAT IS THE WEATHER IN PARIS?"


def test_azure_deployment_path(chat_server: ChatServer) -> None:
    chat_server.push(text_reply("Hi from Azure."))
    with chat_server.azure_client(deployment="orders-gpt") as client:
        completion = client.chat.completions.create(model="orders-gpt", messages=ASK)
    assert completion.choices[0].message.content == "Hi from Azure."
    sent = chat_server.last_request
    assert sent.path == "/openai/deployments/orders-gpt/chat/completions"
    assert sent.deployment == "orders-gpt"
    assert sent.query["api-version"] == "2024-10-21"


def test_empty_script_fails_loudly_and_close_leaves_nothing_behind() -> None:
    threads_before = threading.active_count()
    with ChatServer() as server, server.client(max_retries=2) as client:
        with pytest.raises(openai.InternalServerError, match="script ran out"):
            client.chat.completions.create(model=MODEL, messages=ASK)
        port = server.port
    assert len(server.requests) == 1  # x-should-retry: false, so no retries
    with pytest.raises(AssertionError, match="script ran out"):
        server.verify()
    assert threading.active_count() == threads_before
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
