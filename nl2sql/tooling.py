"""The Query tool as the model receives it (a strict Chat Completions function tool)."""

from __future__ import annotations

from typing import Any

import openai

from nl2sql.query import TOOL_NAME, QueryTool, configured_tool


def tool_definition(tool: QueryTool | None = None, *, strict: bool = True) -> dict[str, Any]:
    """`openai.pydantic_function_tool(Query)`, named and described; non-strict on request."""
    tool = tool or configured_tool()
    definition: dict[str, Any] = dict(
        openai.pydantic_function_tool(tool.Query, name=TOOL_NAME, description=tool.description)
    )
    if not strict:  # for servers that reject strict tools; arguments are still validated
        function = dict(definition["function"])
        function.pop("strict", None)
        definition["function"] = function
    return definition
