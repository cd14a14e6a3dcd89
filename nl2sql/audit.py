"""The audit log: one JSON line per query nl2sql ran or refused, opt-in with NL2SQL_AUDIT_LOG.

Each line says when, for which tenant, which question, the tool call as the model made it, the
SQL that ran (parameters written in, as shown to users), how many rows came back, how long it
took and how it ended. It never holds a secret: no password, key or token is in any field (the
database is named as ``display_url`` shows it). A log that cannot be written stops the query:
an audit that silently misses entries is worse than none.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from nl2sql.errors import ConfigError

AUDIT_LOG_ENV = "NL2SQL_AUDIT_LOG"
MAX_RECORDED_CHARS = 64_000  # a tool call longer than a Query may be is cut, not logged whole

_lock = threading.Lock()  # one line at a time, whole, from every thread


@dataclass(frozen=True)
class Entry:
    database: str
    tenant: int | None
    question: str | None
    tool_call: Any  # the arguments as JSON when they parse, else the text as sent
    sql: str | None
    row_count: int | None
    duration_ms: float
    outcome: str  # "ok", or the error's kind: "invalid", "refused", "timeout", "error"
    error: str | None = None


def enabled() -> bool:
    return bool(os.environ.get(AUDIT_LOG_ENV))


def record(entry: Entry) -> None:
    """Append the entry to the audit log, if one is set."""
    path = os.environ.get(AUDIT_LOG_ENV)
    if not path:
        return
    line = json.dumps(
        {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **asdict(entry)},
        ensure_ascii=True,  # control characters and markup from a model stay escaped text
        default=str,
    )
    try:
        with _lock, open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
    except OSError as error:
        raise ConfigError(
            f"Cannot write the audit log {path} ({AUDIT_LOG_ENV}): {error.strerror}. Fix the "
            f"path or unset {AUDIT_LOG_ENV}."
        ) from error


def tool_call(arguments: Any) -> Any:
    """The tool call as it can be logged: parsed JSON, or its text (cut when huge)."""
    if hasattr(arguments, "model_dump"):
        return arguments.model_dump(mode="json")
    if isinstance(arguments, str):
        if len(arguments) > MAX_RECORDED_CHARS:
            return arguments[:MAX_RECORDED_CHARS]
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def outcome_of(error: Exception) -> str:
    """An error's kind, in one word a log reader can filter on."""
    from nl2sql.deadline import QuestionTimeoutError
    from nl2sql.errors import QueryTimeoutError, QueryValidationError, RefusedError

    if isinstance(error, QueryValidationError):
        return "invalid"
    if isinstance(error, RefusedError):
        return "refused"
    if isinstance(error, QueryTimeoutError | QuestionTimeoutError):
        return "timeout"
    return "error"
