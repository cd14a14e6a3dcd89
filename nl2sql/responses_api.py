"""The Responses API as a second transport for the same conversation.

The conversation keeps Chat Completions messages (``agent.Conversation``); here they become
Responses ``input`` items (a message per turn, a ``function_call`` item per tool call, a
``function_call_output`` per result), the Query tool becomes a flat function tool, and a reply
(whole, or streamed as events) comes back as the ``ChatCompletion`` the conversation absorbs, so
the loop's guarantees (validation errors back to the model, step and call limits, refusals) are
the same code for both APIs. Arguments are parsed once, by the tool, as for Chat Completions.

The offline model's transport uses the other direction (``chat_body``, ``response_body``) to
answer ``/responses`` requests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletion

from nl2sql import deadline
from nl2sql.errors import ModelError
from nl2sql.query import MAX_ARGUMENT_CHARS
from nl2sql.streaming import completion_from, too_long, too_many_calls

CHAT = "chat"
RESPONSES = "responses"
APIS = (CHAT, RESPONSES)
API_ENV = "NL2SQL_API"

# Why a Responses reply stopped early, as Chat Completions names it.
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


# -- requests -----------------------------------------------------------------------------------


def request_of(chat_request: dict[str, Any]) -> dict[str, Any]:
    """The Responses request for a Chat Completions request nl2sql built."""
    request = {
        "model": chat_request["model"],
        "input": input_items(chat_request["messages"]),
        "tools": [flat_tool(tool) for tool in chat_request["tools"]],
        "tool_choice": chat_request.get("tool_choice", "auto"),
        "store": False,  # nl2sql keeps the conversation itself
    }
    if "timeout" in chat_request:
        request["timeout"] = chat_request["timeout"]
    for limit in ("max_completion_tokens", "max_tokens"):  # the Responses API has one name
        if limit in chat_request:
            request["max_output_tokens"] = chat_request[limit]
    return request


def input_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "tool":
            output = {"call_id": message["tool_call_id"], "output": message["content"]}
            items.append({"type": "function_call_output", **output})
            continue
        if message.get("content") or not message.get("tool_calls"):
            items.append({"role": role, "content": message.get("content") or ""})
        for call in message.get("tool_calls") or []:
            function = call["function"]
            items.append(
                {
                    "type": "function_call",
                    "call_id": call["id"],
                    "name": function["name"],
                    "arguments": function["arguments"],
                }
            )
    return items


def flat_tool(tool: Any) -> dict[str, Any]:
    """A Chat Completions function tool as Responses takes it (no nested "function")."""
    function = dict(tool["function"])
    return {"type": "function", **function, "strict": bool(function.get("strict", False))}


# -- replies ------------------------------------------------------------------------------------


def completion_of(response: Any, describe: str) -> ChatCompletion:
    """A Responses reply as the ChatCompletion the conversation absorbs."""
    if getattr(response, "status", None) == "failed":
        error = getattr(response, "error", None)
        raise ModelError(f"{describe} failed the request: {getattr(error, 'message', error)}.")
    text, refusal, calls = [], [], []
    for item in response.output or []:
        if item.type == "message":
            for part in item.content or []:
                if part.type == "output_text":
                    text.append(part.text)
                elif part.type == "refusal":
                    refusal.append(part.refusal)
        elif item.type == "function_call":
            calls.append((item.call_id, item.name, item.arguments))
    usage = getattr(response, "usage", None)
    return completion_from(
        describe,
        id=response.id,
        model=response.model,
        created=int(getattr(response, "created_at", 0) or 0),
        text="".join(text),
        refusal="".join(refusal),
        calls=calls,
        finish_reason=_finish_reason(response, calls),
        usage=(
            {
                "prompt_tokens": usage.input_tokens,
                "completion_tokens": usage.output_tokens,
                "total_tokens": usage.input_tokens + usage.output_tokens,
            }
            if usage is not None
            else None
        ),
    )


def _finish_reason(response: Any, calls: list[Any]) -> str:
    if response.status == "incomplete":
        details = getattr(response, "incomplete_details", None)
        return INCOMPLETE_REASONS.get(getattr(details, "reason", None) or "", "length")
    return "tool_calls" if calls else "stop"


@dataclass
class EventReader:
    """A streamed Responses reply, read event by event within the same bounds as a streamed
    Chat Completions reply: the deadline, the calls per reply, each call's argument size."""

    describe: str
    max_calls: int
    on_text: Callable[[str], None] | None = None
    sizes: dict[str, int] = field(default_factory=dict)  # function_call item id -> characters
    final: Any = None

    def add(self, event: Any) -> None:
        deadline.check()
        kind = getattr(event, "type", "")
        if kind == "response.output_text.delta" and event.delta:
            if self.on_text is not None:
                self.on_text(event.delta)
        elif kind == "response.output_item.added" and event.item.type == "function_call":
            if len(self.sizes) >= self.max_calls:
                raise too_many_calls(self.describe, self.max_calls)
            self.sizes[event.item.id or str(len(self.sizes))] = 0
        elif kind == "response.function_call_arguments.delta":
            key = event.item_id or next(reversed(self.sizes), "")
            self.sizes[key] = self.sizes.get(key, 0) + len(event.delta or "")
            if self.sizes[key] > MAX_ARGUMENT_CHARS:
                raise too_long(self.describe)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = event.response
        elif kind == "error":
            raise ModelError(f"{self.describe} reported an error while streaming: {event.message}")

    def completion(self) -> ChatCompletion:
        if self.final is None:
            raise ModelError(
                f"{self.describe} ended its streamed reply before finishing it (no "
                "response.completed event); try again."
            )
        return completion_of(self.final, self.describe)


# -- the other direction: how the offline model answers /responses ------------------------------


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses request as the Chat Completions body the offline model reads."""
    messages: list[dict[str, Any]] = []
    for item in body.get("input") or []:
        kind = item.get("type", "message")
        if kind == "function_call":
            call = {"id": item["call_id"], "type": "function"}
            call["function"] = {"name": item["name"], "arguments": item["arguments"]}
            if messages and messages[-1]["role"] == "assistant" and "tool_calls" in messages[-1]:
                messages[-1]["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]}
            )
        else:
            messages.append({"role": item["role"], "content": _text(item.get("content"))})
    if body.get("instructions"):
        messages.insert(0, {"role": "system", "content": body["instructions"]})
    tools = [
        {"type": "function", "function": {k: v for k, v in t.items() if k != "type"}}
        for t in body.get("tools") or []
    ]
    return {"model": body.get("model"), "messages": messages, "tools": tools}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def response_body(
    body: dict[str, Any], message: dict[str, Any], usage: dict[str, int]
) -> dict[str, Any]:
    """The offline model's reply (a Chat Completions message, its usage) as a `response`."""
    output: list[dict[str, Any]] = []
    if message.get("content"):
        output.append(
            {
                "type": "message",
                "id": f"msg_{uuid.uuid4().hex[:16]}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": message["content"], "annotations": []}],
            }
        )
    for call in message.get("tool_calls") or []:
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{uuid.uuid4().hex[:16]}",
                "call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
                "status": "completed",
            }
        )
    return {
        "id": f"resp_offline_{uuid.uuid4().hex[:12]}",
        "object": "response",
        "created_at": int(time.time()),
        "model": body.get("model", "offline"),
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def response_events(response: dict[str, Any], piece: int = 24) -> Iterator[dict[str, Any]]:
    """The same response as the server-sent events a streamed Responses request receives."""
    start = {**response, "status": "in_progress", "output": []}
    yield {"type": "response.created", "response": start, "sequence_number": 0}
    number = 1
    for index, item in enumerate(response["output"]):
        empty = {**item, "content": []} if item["type"] == "message" else {**item, "arguments": ""}
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": empty,
            "sequence_number": number,
        }
        number += 1
        if item["type"] == "message":
            text = item["content"][0]["text"]
            for at in range(0, len(text), piece):
                yield {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "delta": text[at : at + piece],
                    "logprobs": [],
                    "sequence_number": number,
                }
                number += 1
        else:
            for at in range(0, len(item["arguments"]), 200):
                yield {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "delta": item["arguments"][at : at + 200],
                    "sequence_number": number,
                }
                number += 1
        yield {
            "type": "response.output_item.done",
            "output_index": index,
            "item": item,
            "sequence_number": number,
        }
        number += 1
    yield {"type": "response.completed", "response": response, "sequence_number": number}
