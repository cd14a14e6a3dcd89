"""The whole question's time limit: one deadline, read wherever the question spends time.

``Agent.ask`` opens it for the question (a ContextVar: each thread and each async task has its
own). The HTTP transport under the ``openai`` client checks it on every piece of a reply, so a
server trickling one byte a second is cut off (per-read timeouts never fire on that); the
stream reader checks it between chunks; every database statement ends by it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx2

from nl2sql.errors import NL2SQLError
from nl2sql.settings import env_seconds

QUESTION_TIMEOUT_ENV = "NL2SQL_QUESTION_TIMEOUT"
DEFAULT_QUESTION_SECONDS = 120.0

_deadline: ContextVar[float | None] = ContextVar("nl2sql_question_deadline", default=None)


class QuestionTimeoutError(NL2SQLError):
    """The question (model, streaming, queries together) ran past its time limit."""


def question_seconds() -> float:
    """Seconds one question may take in all: NL2SQL_QUESTION_TIMEOUT, else the default."""
    return env_seconds(QUESTION_TIMEOUT_ENV, DEFAULT_QUESTION_SECONDS)


@contextmanager
def question_deadline(seconds: float | None = None) -> Iterator[float]:
    """Give the code inside `seconds` (default: question_seconds()) to finish, in all."""
    ends = time.monotonic() + (question_seconds() if seconds is None else seconds)
    token = _deadline.set(ends)
    try:
        yield ends
    finally:
        _deadline.reset(token)


def current() -> float | None:
    """The monotonic time the current question must end by; None outside a question."""
    return _deadline.get()


def expired() -> bool:
    ends = _deadline.get()
    return ends is not None and time.monotonic() >= ends


def timed_out() -> QuestionTimeoutError:
    return QuestionTimeoutError(
        f"The question took longer than its limit of {question_seconds():g} s (model, "
        f"streaming and queries together) and was stopped. Ask something narrower, or raise "
        f"{QUESTION_TIMEOUT_ENV}."
    )


def check() -> None:
    if expired():
        raise timed_out()


# -- under the openai client --------------------------------------------------------------------


class DeadlineTransport(httpx2.BaseTransport):
    """An HTTP transport that gives up when the question's deadline passes, even mid-reply."""

    def __init__(self, inner: httpx2.BaseTransport | None = None) -> None:
        self.inner = inner or httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if expired():
            return _out_of_time()
        response = self.inner.handle_request(request)
        response.stream = _DeadlineStream(response.stream, request)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncDeadlineTransport(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if expired():
            return _out_of_time()
        response = await self.inner.handle_async_request(request)
        response.stream = _AsyncDeadlineStream(response.stream, request)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _out_of_time() -> httpx2.Response:
    """What a request started after the deadline gets, without reaching the server: a status
    the SDK is told not to retry (a retry after a cut-off reply still waits one backoff)."""
    return httpx2.Response(
        408,
        headers={"x-should-retry": "false"},
        json={"error": {"message": "the question's time limit has passed", "type": "timeout"}},
    )


def _refuse_if_expired(request: httpx2.Request) -> None:
    if expired():
        raise httpx2.ReadTimeout("the question's time limit has passed", request=request)


class _DeadlineStream(httpx2.SyncByteStream):
    def __init__(self, inner: Any, request: httpx2.Request) -> None:
        self.inner, self.request = inner, request

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.inner:
            _refuse_if_expired(self.request)
            yield piece

    def close(self) -> None:
        self.inner.close()


class _AsyncDeadlineStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, request: httpx2.Request) -> None:
        self.inner, self.request = inner, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self.inner:
            _refuse_if_expired(self.request)
            yield piece

    async def aclose(self) -> None:
        await self.inner.aclose()


def seconds_left() -> float | None:
    """Seconds until the current question's deadline (None outside a question)."""
    ends = _deadline.get()
    return None if ends is None else max(0.0, ends - time.monotonic())
