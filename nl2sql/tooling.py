"""The Query tool as the model receives it (a strict Chat Completions function tool)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import openai
from pydantic import BaseModel

from nl2sql.query import TOOL_NAME, QueryTool, configured_tool


def function_tool(tool: QueryTool | None = None) -> Any:
    """`openai.pydantic_function_tool(Query)`, named and described.

    The SDK object itself, so `chat.completions.parse` can parse the arguments with the model.
    Built once per tool and shared by every conversation, which only read it.
    """
    tool = tool or configured_tool()
    return _strict_tool(tool.Query, tool.description)


@lru_cache(maxsize=32)
def _strict_tool(query: type[BaseModel], description: str) -> Any:
    # The strict JSON schema takes ~2 ms to build: a fifth of a served offline answer.
    return openai.pydantic_function_tool(query, name=TOOL_NAME, description=description)


def tool_definition(tool: QueryTool | None = None, *, strict: bool = True) -> dict[str, Any]:
    """The tool as plain JSON (a copy of its own: the caller may change it); non-strict on
    request."""
    return json.loads(json.dumps(as_definition(function_tool(tool), strict=strict)))


def as_definition(function: Any, *, strict: bool = True) -> dict[str, Any]:
    definition: dict[str, Any] = dict(function)
    if not strict:  # for servers that reject strict tools; arguments are still validated
        body = dict(definition["function"])
        body.pop("strict", None)
        definition["function"] = body
    return definition
