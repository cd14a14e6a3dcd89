"""nl2sql: plain-English questions about an orders database, answered through a typed tool.

Example:
    >>> from nl2sql import Agent                                   # doctest: +SKIP
    >>> agent = Agent("sqlite:///orders.sqlite3", model="offline")  # doctest: +SKIP
    >>> print(agent.ask("How many orders are in transit?").answer)  # doctest: +SKIP

The names below are imported on first use (PEP 562), so ``import nl2sql.schema`` or the CLI's
``--help`` does not pay for the openai SDK, Alembic or the agent.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Each public name and the module that defines it.
_EXPORTS = {
    "Agent": "nl2sql.agent",
    "AsyncAgent": "nl2sql.agent",
    "Turn": "nl2sql.agent",
    "Compiler": "nl2sql.compiler",
    "ConfigError": "nl2sql.errors",
    "DatabaseError": "nl2sql.errors",
    "DatabaseUnavailableError": "nl2sql.errors",
    "ModelError": "nl2sql.errors",
    "NL2SQLError": "nl2sql.errors",
    "QueryTimeoutError": "nl2sql.errors",
    "QueryValidationError": "nl2sql.errors",
    "RefusedError": "nl2sql.errors",
    "ReadOnlyDatabase": "nl2sql.execute",
    "Result": "nl2sql.execute",
    "run_query": "nl2sql.execute",
    "TOOL": "nl2sql.query",
    "Query": "nl2sql.query",
    "build_tool": "nl2sql.query",
}

__all__ = [
    "TOOL",
    "Agent",
    "AsyncAgent",
    "Compiler",
    "ConfigError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "ModelError",
    "NL2SQLError",
    "Query",
    "QueryTimeoutError",
    "QueryValidationError",
    "ReadOnlyDatabase",
    "RefusedError",
    "Result",
    "Turn",
    "__version__",
    "build_tool",
    "run_query",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nl2sql' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what type checkers and editors see
    from nl2sql.agent import Agent, AsyncAgent, Turn
    from nl2sql.compiler import Compiler
    from nl2sql.errors import (
        ConfigError,
        DatabaseError,
        DatabaseUnavailableError,
        ModelError,
        NL2SQLError,
        QueryTimeoutError,
        QueryValidationError,
        RefusedError,
    )
    from nl2sql.execute import ReadOnlyDatabase, Result, run_query
    from nl2sql.query import TOOL, Query, build_tool
