"""Every error nl2sql raises on purpose.

The CLI catches ``NL2SQLError`` and prints its one-line message; nothing else catches broadly.
Messages name the culprit and the fix.
"""

from __future__ import annotations

from typing import Any


def first_line(text: object, fallback: str = "no details") -> str:
    """The first non-empty line of a message: errors are shown as one line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else fallback


class NL2SQLError(Exception):
    """Root of every error nl2sql raises on purpose; its message is one line for a person.

    ``turn`` is the agent's record of the question that failed, when there was one: its
    attempts (tool calls, their SQL or errors), timings and tokens, for ``-v`` and for tests.
    """

    exit_code = 1
    turn: Any = None


class RefusedError(NL2SQLError):
    """A question was not answered from the database: not understood, ambiguous or refused."""

    exit_code = 3


class ConfigError(NL2SQLError):
    """A flag, environment variable or setting is missing or malformed."""

    exit_code = 2


class DatabaseError(NL2SQLError):
    """The database cannot be reached, is not a database, or refused a statement."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached, is not a database, or lacks the orders tables.

    No query can succeed, so the agent stops instead of letting the model retry.
    """


class DatabaseNotEmptyError(DatabaseError):
    """`db init` was pointed at a database that holds tables nl2sql did not create."""


class QueryValidationError(NL2SQLError):
    """A Query tool call does not fit the schema or its rules.

    ``problems`` holds one entry per problem, each naming the field, so the model (or a test)
    can see every mistake at once, not just the first.
    """

    exit_code = 2

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [{"message": message}]

    @classmethod
    def from_problems(cls, problems: list[dict[str, Any]]) -> QueryValidationError:
        """One line naming each problem's field (the first six), all of them kept in `problems`."""
        unique = list({(p["field"], p["message"]): p for p in problems}.values())
        text = "; ".join(f"{p['field']}: {p['message'].rstrip('.')}" for p in unique[:6])
        end = "" if text.endswith("?") else "."  # a closing "Did you mean ...?" is its own end
        return cls(f"Invalid query: {text}{end}", unique)


class QueryTimeoutError(DatabaseError):
    """A query ran past its time limit and was cancelled."""


class ModelError(NL2SQLError):
    """The model endpoint failed, or its reply could not be used."""


class AgentStepLimitError(ModelError):
    """The model kept calling the tool without answering, past the agent's step limit."""


class AuthError(NL2SQLError):
    """A request to the HTTP API or the MCP server came without a key the config lists."""

    exit_code = 2


class LimitError(NL2SQLError):
    """A key went past its requests per minute or its concurrent questions; `retry_after`
    says in how many seconds to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConversationNotFoundError(NL2SQLError):
    """A conversation id that is unknown, expired, or another key's (they look the same)."""


class ConversationBusyError(NL2SQLError):
    """A follow-up to a conversation that is still answering, or that is full."""
