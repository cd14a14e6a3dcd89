"""The Query tool as the model receives it (a strict Chat Completions function tool)."""

from __future__ import annotations

from typing import Any

import openai

from nl2sql.query import TOOL_NAME, QueryTool, configured_tool


def function_tool(tool: QueryTool | None = None) -> Any:
    """`openai.pydantic_function_tool(Query)`, named and described.

    The SDK object itself, so `chat.completions.parse` can parse the arguments with the model.
    """
    tool = tool or configured_tool()
    return openai.pydantic_function_tool(tool.Query, name=TOOL_NAME, description=tool.description)


def tool_definition(tool: QueryTool | None = None, *, strict: bool = True) -> dict[str, Any]:
    """The tool as plain JSON; non-strict on request."""
    return as_definition(function_tool(tool), strict=strict)


def as_definition(function: Any, *, strict: bool = True) -> dict[str, Any]:
    definition: dict[str, Any] = dict(function)
    if not strict:  # for servers that reject strict tools; arguments are still validated
        body = dict(definition["function"])
        body.pop("strict", None)
        definition["function"] = body
    return definition
