"""nl2sql: plain-English questions about an orders database, answered through a typed tool.

Example:
    >>> from nl2sql import Agent                                   # doctest: +SKIP
    >>> agent = Agent("sqlite:///orders.sqlite3", model="offline")  # doctest: +SKIP
    >>> print(agent.ask("How many orders are in transit?").answer)  # doctest: +SKIP
"""

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

__version__ = "0.1.0"

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
