"""A scripted OpenAI Chat Completions server on 127.0.0.1 for tests.

Tests push reply objects onto a script; each HTTP request to a ``.../chat/completions`` (or
``.../responses``: the Responses API, answered in its own shapes) path takes the next one. A
completion reply answers with plain JSON or with SSE chunks, whichever the request asked for
(its ``stream`` field), so a test does not care how the client calls the API.
Every request is recorded (path, query, headers, JSON body) for assertions.

The real ``openai`` SDK talks to it over a real socket, so retries, timeouts, streaming and
``parse``/``stream`` helpers run exactly as in production::

    with ChatServer() as server, server.client() as client:
        server.push(tool_call_reply([("call_1", "Query", '{"metric": "revenue"}')]))
        client.chat.completions.parse(model="gpt-4o", messages=..., tools=...)
        assert server.last_request.tools[0]["function"]["strict"] is True

In a conftest: ``from chat_server import chat_server_fixture  # noqa: F401`` gives every test a
``chat_server`` fixture that also fails the test when the script ran out or a reply raised.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import socket
import sys
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import openai
import pytest

Usage = tuple[int, int]
"""(prompt_tokens, completion_tokens); total_tokens is their sum."""

DEFAULT_USAGE: Usage = (20, 5)
DEFAULT_MODEL = "gpt-4o-mini"
STREAM_PARTS = 3
"""How many pieces streamed text and tool arguments are cut into, so deltas really accumulate."""

_ids = itertools.count(1)
_AZURE_PATH = re.compile(r"/openai/deployments/(?P<name>[^/]+)/chat/completions$")


# --------------------------------------------------------------------------- recorded requests


@dataclass(frozen=True)
class RecordedRequest:
    """What the client sent, kept so tests can assert on it after the call."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes
    body: Any  # parsed JSON, or None when the body was not JSON

    @property
    def json(self) -> dict[str, Any]:
        """The body as a dict ({} when it was not a JSON object), for easy .get()."""
        return self.body if isinstance(self.body, dict) else {}

    @property
    def stream(self) -> bool:
        return bool(self.json.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = self.json.get("stream_options") or {}
        return bool(options.get("include_usage"))

    @property
    def model(self) -> str | None:
        return self.json.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages") or [])

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.json.get("tools") or [])

    @property
    def deployment(self) -> str | None:
        """The Azure deployment name when the path is Azure-style, else None."""
        match = _AZURE_PATH.search(self.path)
        return match["name"] if match else None


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Answer:
    """The HTTP response a reply decided on; the server thread writes it."""

    status: int
    headers: dict[str, str]
    parts: list[bytes]  # streamed answers write each part as its own HTTP chunk
    streamed: bool = False
    delay: float = 0.0  # seconds to wait before answering (interrupted when the server stops)
    pause: float = 0.0  # seconds to wait between parts (a server that trickles its reply)


class Reply(ABC):
    """One scripted answer; immutable, so the same object may be pushed more than once."""

    @abstractmethod
    def answer(self, request: RecordedRequest) -> Answer: ...


ScriptItem = Reply | Callable[[dict[str, Any]], Reply]
"""A reply, or a function of the request body that returns one (for dynamic behaviour)."""


def resolve(item: ScriptItem, request: RecordedRequest) -> Reply:
    """Turn a script item into a Reply, calling it with the request body when it is a function."""
    return item if isinstance(item, Reply) else item(request.json)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # the JSON text exactly as the model would send it


@dataclass(frozen=True)
class CompletionReply(Reply):
    """A chat.completion, or its chat.completion.chunk stream when the request streams."""

    content: tuple[str, ...] | None = None  # streamed pieces; joined for non-streaming
    refusal: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    usage: Usage | None = DEFAULT_USAGE
    model: str | None = None  # default: echo the request's model

    def answer(self, request: RecordedRequest) -> Answer:
        envelope = _Envelope.for_request(request, self.model)
        if request.path.endswith("/responses"):
            return self._responses_answer(envelope, request.stream)
        if request.stream:
            events = [_sse(chunk) for chunk in self._chunks(envelope, request.include_usage)]
            return _event_stream([*events, b"data: [DONE]\n\n"])
        return _json_answer(200, self._completion(envelope))

    # -- the same reply in the Responses API's shapes

    def _responses_answer(self, envelope: _Envelope, stream: bool) -> Answer:
        response = self._response(envelope)
        if not stream:
            return _json_answer(200, response)
        events = [
            f"event: {event['type']}\n".encode() + _sse(event)
            for event in self._response_events(response)
        ]
        return _event_stream(events)

    def _output(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        parts: list[dict[str, Any]] = []
        if self.content is not None:
            parts.append({"type": "output_text", "text": "".join(self.content), "annotations": []})
        if self.refusal is not None:
            parts.append({"type": "refusal", "refusal": self.refusal})
        if parts:
            items.append(
                {"type": "message", "id": "msg_scripted", "role": "assistant",
                 "status": "completed", "content": parts}
            )  # fmt: skip
        for number, call in enumerate(self.tool_calls):
            items.append(
                {"type": "function_call", "id": f"fc_scripted{number}", "call_id": call.id,
                 "name": call.name, "arguments": call.arguments, "status": "completed"}
            )  # fmt: skip
        return items

    def _response(self, envelope: _Envelope) -> dict[str, Any]:
        stopped = {"length": "max_output_tokens", "content_filter": "content_filter"}
        reason = stopped.get(self.finish_reason)
        usage = None
        if self.usage is not None:
            prompt, completion = self.usage
            usage = {
                "input_tokens": prompt, "output_tokens": completion,
                "total_tokens": prompt + completion,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            }  # fmt: skip
        return {
            "id": envelope.id.replace("chatcmpl", "resp"),
            "object": "response",
            "created_at": envelope.created,
            "model": envelope.model,
            "status": "incomplete" if reason else "completed",
            "incomplete_details": {"reason": reason} if reason else None,
            "output": self._output(),
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
        }

    def _response_events(self, response: dict[str, Any]) -> Iterator[dict[str, Any]]:
        numbers = itertools.count()
        yield {"type": "response.created", "sequence_number": next(numbers),
               "response": {**response, "status": "in_progress", "output": []}}  # fmt: skip
        for index, item in enumerate(response["output"]):
            opening = {**item, "content": []} if item["type"] == "message" else {
                **item, "arguments": ""}  # fmt: skip
            yield {"type": "response.output_item.added", "sequence_number": next(numbers),
                   "output_index": index, "item": opening}  # fmt: skip
            if item["type"] == "message":
                for piece in self.content or ():
                    yield {"type": "response.output_text.delta", "sequence_number": next(numbers),
                           "item_id": item["id"], "output_index": index, "content_index": 0,
                           "delta": piece, "logprobs": []}  # fmt: skip
            else:
                for piece in split(item["arguments"]):
                    yield {"type": "response.function_call_arguments.delta",
                           "sequence_number": next(numbers), "item_id": item["id"],
                           "output_index": index, "delta": piece}  # fmt: skip
            yield {"type": "response.output_item.done", "sequence_number": next(numbers),
                   "output_index": index, "item": item}  # fmt: skip
        final = (
            "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        )
        yield {"type": final, "sequence_number": next(numbers), "response": response}

    def _message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if self.content is None else "".join(self.content),
            "refusal": self.refusal,
            "annotations": [],
        }
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        return message

    def _completion(self, envelope: _Envelope) -> dict[str, Any]:
        choice = {
            "index": 0,
            "message": self._message(),
            "logprobs": None,
            "finish_reason": self.finish_reason,
        }
        return {
            **envelope.fields("chat.completion"),
            "choices": [choice],
            "usage": _usage_json(self.usage),
        }

    def _deltas(self) -> Iterator[dict[str, Any]]:
        """The message as OpenAI streams it: role first, then pieces, tool calls one by one."""
        first: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if self.content is not None:
            first["content"] = ""
        elif self.refusal is not None:
            first["refusal"] = ""
        yield first
        for piece in self.content or ():
            yield {"content": piece}
        for piece in split(self.refusal or ""):
            yield {"refusal": piece}
        for index, call in enumerate(self.tool_calls):
            opening = {"name": call.name, "arguments": ""}
            yield {
                "tool_calls": [
                    {"index": index, "id": call.id, "type": "function", "function": opening}
                ]
            }
            for piece in split(call.arguments):
                yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}

    def _chunks(self, envelope: _Envelope, include_usage: bool) -> Iterator[dict[str, Any]]:
        def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
            body = {**envelope.fields("chat.completion.chunk"), "choices": choices}
            if include_usage:
                body["usage"] = None  # OpenAI sends null on every chunk but the last
            return body

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

        for delta in self._deltas():
            yield chunk([choice(delta)])
        yield chunk([choice({}, self.finish_reason)])
        if include_usage and self.usage is not None:
            yield {**chunk([]), "usage": _usage_json(self.usage)}


@dataclass(frozen=True)
class StatusReply(Reply):
    """An HTTP error (or any status) with a JSON or raw body, identical for streaming requests."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = "application/json"

    def answer(self, request: RecordedRequest) -> Answer:
        headers = dict(self.headers)
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = self.content_type
        return Answer(self.status, headers, [self.body])


@dataclass(frozen=True)
class MalformedReply(Reply):
    """HTTP 200 whose JSON (or SSE event data) is broken, to test the client's error path."""

    text: str = '{"id": "chatcmpl-broken", "object": "chat.completion", "choices": ['

    def answer(self, request: RecordedRequest) -> Answer:
        if request.stream:
            return _event_stream([f"data: {self.text}\n\n".encode(), b"data: [DONE]\n\n"])
        return Answer(200, {"Content-Type": "application/json"}, [self.text.encode()])


@dataclass(frozen=True)
class DelayReply(Reply):
    """Wait before answering with `then`, long enough to trip a client timeout."""

    seconds: float
    then: ScriptItem

    def answer(self, request: RecordedRequest) -> Answer:
        later = resolve(self.then, request).answer(request)
        return replace(later, delay=later.delay + self.seconds)


@dataclass(frozen=True)
class TrickleReply(Reply):
    """`then`, sent `piece` bytes at a time with `pause` seconds between: per-read timeouts
    never fire on it, only a deadline for the whole reply does."""

    pause: float
    then: ScriptItem
    piece: int = 1

    def answer(self, request: RecordedRequest) -> Answer:
        later = resolve(self.then, request).answer(request)
        body = b"".join(later.parts)
        parts = [body[i : i + self.piece] for i in range(0, len(body), self.piece)]
        return replace(later, parts=parts, pause=self.pause)


@dataclass(frozen=True)
class ReplayReply(Reply):
    """A response a real server sent, as captured (tests/captures/): its status, content type
    and body, an event stream sent event by event."""

    status: int
    content_type: str
    body: str

    def answer(self, request: RecordedRequest) -> Answer:
        if self.content_type.startswith("text/event-stream"):
            events = [f"{event}\n\n".encode() for event in self.body.split("\n\n") if event.strip()]
            return replace(_event_stream(events), status=self.status)
        return Answer(self.status, {"Content-Type": self.content_type}, [self.body.encode()])


CAPTURES = Path(__file__).resolve().parent / "captures"


def captured(name: str) -> list[dict[str, Any]]:
    """The exchanges of one capture file, e.g. "llama-cpp-python-0.3.36/compat_probe"."""
    path = CAPTURES / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def replay_reply(record: Mapping[str, Any]) -> ReplayReply:
    """The captured response of one exchange (either capture format)."""
    body = record["response"]
    body = body if isinstance(body, str) else json.dumps(body)
    headers = {k.lower(): v for k, v in (record.get("response_headers") or {}).items()}
    streamed = body.lstrip().startswith("data:")
    default = "text/event-stream; charset=utf-8" if streamed else "application/json"
    return ReplayReply(int(record["status"]), headers.get("content-type", default), body)


# --------------------------------------------------------------------------- reply builders


def completion_reply(
    content: str | Sequence[str] | None = None,
    *,
    tool_calls: Sequence[tuple[str, str, str | Mapping[str, Any]]] = (),
    refusal: str | None = None,
    finish_reason: str = "stop",
    usage: Usage | None = DEFAULT_USAGE,
    model: str | None = None,
) -> CompletionReply:
    """The general builder the others wrap. A list of strings for content fixes the stream pieces.

    tool_calls are (call_id, function_name, arguments) with arguments as JSON text or a mapping.
    """
    return CompletionReply(
        content=_pieces(content),
        refusal=refusal,
        tool_calls=tuple(
            ToolCall(call_id, name, _arguments(args)) for call_id, name, args in tool_calls
        ),
        finish_reason=finish_reason,
        usage=usage,
        model=model,
    )


def text_reply(
    content: str | Sequence[str],
    finish_reason: str = "stop",
    usage: Usage | None = DEFAULT_USAGE,
) -> CompletionReply:
    """An assistant text answer."""
    return completion_reply(content, finish_reason=finish_reason, usage=usage)


def tool_call_reply(
    calls: Sequence[tuple[str, str, str | Mapping[str, Any]]],
    *,
    content: str | Sequence[str] | None = None,
    usage: Usage | None = DEFAULT_USAGE,
) -> CompletionReply:
    """An assistant message calling tools: [(call_id, name, arguments_json), ...]."""
    return completion_reply(content, tool_calls=calls, finish_reason="tool_calls", usage=usage)


def refusal_reply(refusal: str, usage: Usage | None = DEFAULT_USAGE) -> CompletionReply:
    """The model declining (message.refusal set, content null), as with strict schemas."""
    return completion_reply(refusal=refusal, usage=usage)


def length_reply(
    content: str | Sequence[str] | None = "The answer is",
    *,
    tool_calls: Sequence[tuple[str, str, str | Mapping[str, Any]]] = (),
    usage: Usage | None = DEFAULT_USAGE,
) -> CompletionReply:
    """Output cut off by max_tokens (finish_reason "length"); tool arguments may be truncated."""
    return completion_reply(content, tool_calls=tool_calls, finish_reason="length", usage=usage)


def content_filter_reply(
    content: str | Sequence[str] | None = None, usage: Usage | None = DEFAULT_USAGE
) -> CompletionReply:
    """Output withheld by the content filter (finish_reason "content_filter")."""
    return completion_reply(content, finish_reason="content_filter", usage=usage)


def status_reply(
    status: int,
    headers: Mapping[str, str] | None = None,
    body: Mapping[str, Any] | str | bytes | None = None,
) -> StatusReply:
    """An HTTP status with an OpenAI-style error body unless `body` is given (dict -> JSON)."""
    if body is None:
        body = error_body(status)
    if isinstance(body, Mapping):
        raw = json.dumps(body).encode()
    else:
        raw = body.encode() if isinstance(body, str) else body
    return StatusReply(status, dict(headers or {}), raw)


def malformed_reply(text: str | None = None) -> MalformedReply:
    """HTTP 200 with a body that is not valid JSON."""
    return MalformedReply() if text is None else MalformedReply(text)


def trickle_reply(pause: float, then: ScriptItem, piece: int = 1) -> TrickleReply:
    """`then`, one `piece` of bytes every `pause` seconds."""
    return TrickleReply(pause, then, piece)


def delay_reply(seconds: float, then: ScriptItem | None = None) -> DelayReply:
    """Sleep `seconds` before answering with `then` (default: a short text reply)."""
    return DelayReply(seconds, text_reply("(delayed)") if then is None else then)


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """The JSON error object the OpenAI API returns for `status`."""
    kind, code = {
        400: ("invalid_request_error", None),
        401: ("invalid_request_error", "invalid_api_key"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("requests", "rate_limit_exceeded"),
    }.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    text = message or f"Scripted HTTP {status} from chat_server."
    return {"error": {"message": text, "type": kind, "param": None, "code": code}}


def split(text: str, parts: int = STREAM_PARTS) -> list[str]:
    """Cut text into up to `parts` non-empty pieces (nothing for empty text)."""
    if not text:
        return []
    size = math.ceil(len(text) / parts)
    return [text[start : start + size] for start in range(0, len(text), size)]


def _pieces(content: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if content is None:
        return None
    if isinstance(content, str):
        return tuple(split(content)) or ("",)
    return tuple(content)


def _arguments(arguments: str | Mapping[str, Any]) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, separators=(",", ":"))


# --------------------------------------------------------------------------- wire encoding


@dataclass(frozen=True)
class _Envelope:
    """Fields shared by a completion and all its chunks (same id and created on every chunk)."""

    id: str
    created: int
    model: str

    @classmethod
    def for_request(cls, request: RecordedRequest, model: str | None) -> _Envelope:
        chosen = model or request.model or request.deployment or DEFAULT_MODEL
        return cls(f"chatcmpl-scripted{next(_ids):06d}", int(time.time()), chosen)

    def fields(self, kind: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_chat_server",
        }


def _usage_json(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    prompt, completion = usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _sse(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _event_stream(events: list[bytes]) -> Answer:
    headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    return Answer(200, headers, events, streamed=True)


def _json_answer(status: int, payload: dict[str, Any], **headers: str) -> Answer:
    return Answer(
        status, {"Content-Type": "application/json", **headers}, [json.dumps(payload).encode()]
    )


# --------------------------------------------------------------------------- the server


class ChatServer:
    """The scripted server: start it (or use `with`), push replies, read `requests`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._lock = threading.Lock()
        self._script: deque[ScriptItem] = deque()
        self._requests: list[RecordedRequest] = []
        self._problems: list[str] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> ChatServer:
        """Bind a free port on the host and serve from a background thread."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self._host, 0), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"chat-server-{self.port}",
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, cut open connections, wake delayed replies and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        thread.join()
        httpd.drop_connections()
        httpd.server_close()  # joins the per-request threads
        self._httpd = self._thread = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # addresses

    @property
    def port(self) -> int:
        return self._running().server_address[1]

    @property
    def root_url(self) -> str:
        """Scheme, host and port: the `azure_endpoint` for AzureOpenAI."""
        return f"http://{self._host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI `base_url`."""
        return f"{self.root_url}/v1"

    def client(self, *, max_retries: int = 0, timeout: float = 5.0, **kwargs: Any) -> openai.OpenAI:
        """An SDK client aimed here (close it, e.g. `with server.client() as client:`)."""
        return openai.OpenAI(
            base_url=self.url, api_key="test", max_retries=max_retries, timeout=timeout, **kwargs
        )

    def azure_client(
        self,
        *,
        deployment: str = "gpt-4o",
        api_version: str = "2024-10-21",
        max_retries: int = 0,
        timeout: float = 5.0,
    ) -> openai.AzureOpenAI:
        """An AzureOpenAI client aimed here; requests use /openai/deployments/{deployment}/..."""
        return openai.AzureOpenAI(
            azure_endpoint=self.root_url,
            azure_deployment=deployment,
            api_version=api_version,
            api_key="test",
            max_retries=max_retries,
            timeout=timeout,
        )

    # script and log

    def push(self, *items: ScriptItem) -> None:
        """Append replies; each request consumes the next one."""
        with self._lock:
            self._script.extend(items)

    @property
    def remaining(self) -> int:
        """Replies not consumed yet."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            assert self._requests, "chat_server received no request"
            return self._requests[-1]

    @property
    def problems(self) -> list[str]:
        """Requests the script could not answer and replies that raised."""
        with self._lock:
            return list(self._problems)

    def verify(self) -> None:
        """Fail when something went wrong server-side, even if the client swallowed the error."""
        problems = self.problems
        assert not problems, "chat_server problems:\n" + "\n".join(problems)

    # called from request threads

    def _answer(self, request: RecordedRequest) -> Answer:
        served = request.method == "POST" and request.path.endswith(
            ("/chat/completions", "/responses")
        )
        with self._lock:
            self._requests.append(request)
            number = len(self._requests)
            item = self._script.popleft() if served and self._script else None
        where = f"request #{number} ({request.method} {request.path})"
        if not served:
            return self._problem(404, f"chat_server does not serve {where}")
        if item is None:
            return self._problem(500, f"chat_server script ran out at {where}; push more replies")
        try:
            return resolve(item, request).answer(request)
        except Exception:
            return self._problem(
                500, f"scripted reply raised at {where}:\n{traceback.format_exc()}"
            )

    def _problem(self, status: int, message: str) -> Answer:
        with self._lock:
            self._problems.append(message)
        # x-should-retry: false stops the SDK retrying, so the failure surfaces at once.
        return _json_answer(status, error_body(status, message), **{"x-should-retry": "false"})

    def _record_crash(self) -> None:
        with self._lock:
            self._problems.append(f"chat_server handler crashed:\n{traceback.format_exc()}")

    def _running(self) -> _HTTPServer:
        assert self._httpd is not None, "ChatServer is not started (use start() or `with`)"
        return self._httpd


class _HTTPServer(ThreadingHTTPServer):
    """Joins its request threads on close and can cut connections a client left open."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], owner: ChatServer) -> None:
        self.owner = owner
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Wake handler threads still blocked reading from idle client connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (e.g. after its own timeout) is expected; anything else is a bug.
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            self.owner._record_crash()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # safety net: never let a silent client pin a thread forever
    server: _HTTPServer

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _serve(self) -> None:
        request = self._read_request()
        answer = self.server.owner._answer(request)
        if answer.delay and self.server.stopping.wait(answer.delay):
            self.close_connection = True
            return
        self._write(answer)

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        target = urlsplit(self.path)
        return RecordedRequest(
            method=self.command,
            path=target.path,
            query=dict(parse_qsl(target.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            raw_body=raw,
            body=body,
        )

    def _write(self, answer: Answer) -> None:
        """One response per connection: `Connection: close` keeps thread lifetimes simple."""
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("x-request-id", f"req_scripted{next(_ids):06d}")
        self.send_header("Connection", "close")
        if answer.streamed:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(sum(map(len, answer.parts))))
        self.end_headers()
        for part in answer.parts:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if answer.streamed else part)
            self.wfile.flush()
            if answer.pause and self.server.stopping.wait(answer.pause):
                return
        if answer.streamed:
            self.wfile.write(b"0\r\n\r\n")


# --------------------------------------------------------------------------- pytest


@pytest.fixture(name="chat_server")
def chat_server_fixture() -> Iterator[ChatServer]:
    """A started ChatServer per test; fails the test on server-side problems after it ran."""
    with ChatServer() as server:
        yield server
    server.verify()
