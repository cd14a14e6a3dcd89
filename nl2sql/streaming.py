"""A streamed Chat Completions reply, put back together in linear time and within bounds.

The SDK's stream helper re-parses every tool call's arguments as partial JSON at each chunk:
quadratic in their length (an 8 MB argument took 24 s). Here text and arguments are kept as
pieces and joined once at the end; the arguments are parsed once, by the tool. While the reply
arrives, each call's arguments are capped at ``MAX_ARGUMENT_CHARS``, the number of calls at the
agent's cap, and the question's deadline is checked between chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from nl2sql import deadline
from nl2sql.errors import ModelError
from nl2sql.query import MAX_ARGUMENT_CHARS


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    size: int = 0


@dataclass
class ReplyBuilder:
    """Feed it chunks (`add`); `completion()` is the whole reply as one ChatCompletion."""

    describe: str  # the backend, for messages
    max_calls: int
    on_text: Callable[[str], None] | None = None
    id: str = ""
    model: str = ""
    created: int = 0
    finish_reason: str | None = None
    usage: Any = None
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)

    def add(self, chunk: Any) -> None:
        deadline.check()
        self.id = self.id or (getattr(chunk, "id", "") or "")
        self.model = self.model or (getattr(chunk, "model", "") or "")
        self.created = self.created or (getattr(chunk, "created", 0) or 0)
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        for choice in getattr(chunk, "choices", None) or []:
            if getattr(choice, "index", 0) != 0:
                continue  # nl2sql asks for one choice
            self._add_delta(choice.delta)
            self.finish_reason = choice.finish_reason or self.finish_reason

    def _add_delta(self, delta: Any) -> None:
        if delta is None:
            return
        if delta.content:
            self.text.append(delta.content)
            if self.on_text is not None:
                self.on_text(delta.content)
        if getattr(delta, "refusal", None):
            self.refusal.append(delta.refusal)
        for piece in getattr(delta, "tool_calls", None) or []:
            self._add_call_piece(piece)

    def _add_call_piece(self, piece: Any) -> None:
        index = getattr(piece, "index", None) or 0
        if index not in self.calls and len(self.calls) >= self.max_calls:
            raise too_many_calls(self.describe, self.max_calls)
        call = self.calls.setdefault(index, _Call())
        call.id = call.id or (piece.id or "")
        function = getattr(piece, "function", None)
        if function is None:
            return
        call.name = call.name or (function.name or "")
        if function.arguments:
            call.size += len(function.arguments)
            if call.size > MAX_ARGUMENT_CHARS:
                raise too_long(self.describe)
            call.arguments.append(function.arguments)

    def completion(self) -> ChatCompletion:
        if self.finish_reason is None:
            raise ModelError(
                f"{self.describe} ended its streamed reply before finishing it (no "
                "finish_reason); try again."
            )
        calls = [
            (call.id or f"call_{index}", call.name, "".join(call.arguments))
            for index, call in sorted(self.calls.items())
        ]
        usage = self.usage.model_dump() if hasattr(self.usage, "model_dump") else None
        return completion_from(
            self.describe,
            id=self.id or "streamed",
            model=self.model,
            created=self.created,
            text="".join(self.text),
            refusal="".join(self.refusal),
            calls=calls,
            finish_reason=self.finish_reason,
            usage=usage,
        )


def too_many_calls(describe: str, max_calls: int) -> ModelError:
    return ModelError(
        f"{describe} asked for more than {max_calls} queries in one reply; nl2sql runs at most "
        f"{max_calls}. Try a simpler question."
    )


def too_long(describe: str) -> ModelError:
    return ModelError(
        f"{describe} streamed a Query longer than {MAX_ARGUMENT_CHARS:,} characters; stopped "
        "reading it. Try a simpler question."
    )


def completion_from(
    describe: str,
    *,
    id: str,
    model: str,
    created: int,
    text: str,
    refusal: str,
    calls: list[tuple[str, str, str]],
    finish_reason: str,
    usage: dict[str, Any] | None,
) -> ChatCompletion:
    """A ChatCompletion with one choice, from its parts: how every reply the agent did not read
    with the SDK's own parser (a stream, a Responses reply) reaches the conversation."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or None,
        "refusal": refusal or None,
    }
    if calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in calls
        ]
    body = {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
        "usage": usage,
    }
    try:
        return ChatCompletion.model_validate(body)
    except ValidationError as error:
        raise ModelError(
            f"{describe} sent a reply nl2sql cannot read "
            f"({error.errors()[0]['loc']}: {error.errors()[0]['msg']})."
        ) from error
