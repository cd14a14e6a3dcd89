"""Serve a reply function over the Chat Completions (and Responses) wire protocol, in-process.

``reply(body) -> message`` gets the request JSON and returns an assistant message dict,
``{"content": "..."}`` or ``{"tool_calls": [{"id", "function": {"name", "arguments"}}]}``.
The transport wraps it as a ``chat.completion`` or, for ``stream: true``, as server-sent events.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Protocol

import httpx2

from nl2sql import responses_api

STREAM_PIECE = 24  # characters per streamed text delta


class Replier(Protocol):
    def reply(self, body: dict[str, Any]) -> dict[str, Any]: ...


def completion(body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    calls = message.get("tool_calls") or []
    return {
        "id": f"chatcmpl-offline-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "offline"),
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": message.get("content"),
                    "refusal": None,
                    **({"tool_calls": [_call(c) for c in calls]} if calls else {}),
                },
                "finish_reason": "tool_calls" if calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": usage(body, message),
    }


def _call(call: dict[str, Any]) -> dict[str, Any]:
    return {"id": call["id"], "type": "function", "function": dict(call["function"])}


def usage(body: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
    """Rough token counts (4 characters a token), so usage reporting has real numbers."""
    prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", [])) // 4
    answer = len(json.dumps(message)) // 4
    return {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer}


def chunks(body: dict[str, Any], message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The same reply as `chat.completion.chunk` objects, the way hosted models stream it."""
    base = {
        "id": f"chatcmpl-offline-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "offline"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return base | {
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        }

    yield chunk({"role": "assistant", "content": ""})
    calls = message.get("tool_calls") or []
    for index, call in enumerate(calls):
        arguments = call["function"]["arguments"]
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        for start in range(0, len(arguments), 200):
            piece = arguments[start : start + 200]
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    text = message.get("content") or ""
    for start in range(0, len(text), STREAM_PIECE):
        yield chunk({"content": text[start : start + STREAM_PIECE]})
    yield chunk({}, "tool_calls" if calls else "stop")
    if (body.get("stream_options") or {}).get("include_usage"):
        yield base | {"choices": [], "usage": usage(body, message)}


def respond(replier: Replier, request: httpx2.Request) -> httpx2.Response:
    if request.method == "POST" and request.url.path.endswith("/responses"):
        return respond_responses(replier, json.loads(request.content))
    if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
        return httpx2.Response(
            404, json={"error": {"message": "offline model: unknown route", "type": "not_found"}}
        )
    body = json.loads(request.content)
    message = replier.reply(body)
    if not body.get("stream"):
        return httpx2.Response(200, json=completion(body, message))
    events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks(body, message))
    return httpx2.Response(
        200,
        content=(events + "data: [DONE]\n\n").encode(),
        headers={"content-type": "text/event-stream"},
    )


def respond_responses(replier: Replier, body: dict[str, Any]) -> httpx2.Response:
    """The Responses API: the same model, the request and reply in that API's shapes."""
    chat = responses_api.chat_body(body)
    message = replier.reply(chat)
    response = responses_api.response_body(body, message, usage(chat, message))
    if not body.get("stream"):
        return httpx2.Response(200, json=response)
    events = "".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"
        for e in responses_api.response_events(response, STREAM_PIECE)
    )
    return httpx2.Response(
        200, content=events.encode(), headers={"content-type": "text/event-stream"}
    )


class OfflineTransport(httpx2.BaseTransport):
    def __init__(self, replier: Replier) -> None:
        self.replier = replier

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return respond(self.replier, request)


class AsyncOfflineTransport(httpx2.AsyncBaseTransport):
    def __init__(self, replier: Replier) -> None:
        self.replier = replier

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return respond(self.replier, request)
