"""Conversations kept server-side, so a follow-up names only its `conversation_id`.

A small SQLite file of its own (the orders database is read-only): each conversation belongs
to the key that started it, idles out after its time-to-live, and holds a bounded number of
questions; the oldest conversations go first when the file is full.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from nl2sql.errors import ConversationBusyError, ConversationNotFoundError, DatabaseError

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,          -- the SHA-256 of the key that started it
    today TEXT NOT NULL,          -- the date its questions are relative to
    questions INTEGER NOT NULL,
    messages TEXT NOT NULL,       -- JSON: the model's messages after the system prompt
    updated REAL NOT NULL         -- unix time of the last question
)
"""


@dataclass(frozen=True)
class StoreLimits:
    ttl_seconds: float = 3600.0  # idle time before a conversation is forgotten
    max_conversations: int = 10_000
    max_questions: int = 50  # per conversation
    max_bytes: int = 1_000_000  # of one conversation's messages


@dataclass
class Stored:
    """A conversation as loaded: what the next question continues from."""

    id: str | None  # None: a new conversation, not saved yet
    today: date
    questions: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)


class ConversationStore:
    """Load and save conversations; safe to call from worker threads."""

    def __init__(self, path: str | Path = ":memory:", limits: StoreLimits | None = None) -> None:
        self.limits = limits or StoreLimits()
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise DatabaseError(
                f"Cannot keep conversations in {self.path}: {error}. Pass --conversations "
                "with a writable file."
            ) from None
        self.lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def load(self, conversation_id: str | None, owner: str, today: date) -> Stored:
        """The conversation to continue (a new one for None); an unknown, expired or other
        key's id is ConversationNotFoundError, a full one ConversationBusyError."""
        if conversation_id is None:
            return Stored(None, today)
        with self.lock:
            self._forget_idle()
            row = self.db.execute(
                "SELECT today, questions, messages FROM conversations WHERE id = ? AND owner = ?",
                (conversation_id, owner),
            ).fetchone()
        if row is None:
            raise ConversationNotFoundError(
                f"No conversation {conversation_id!r}: it expired (after "
                f"{self.limits.ttl_seconds:g} s idle) or never existed. Ask without "
                "conversation_id to start a new one."
            )
        if row[1] >= self.limits.max_questions:
            raise ConversationBusyError(
                f"Conversation {conversation_id!r} holds {row[1]} questions, the most one may. "
                "Ask without conversation_id to start a new one."
            )
        return Stored(conversation_id, date.fromisoformat(row[0]), row[1], json.loads(row[2]))

    def save(self, stored: Stored, owner: str, messages: list[dict[str, Any]]) -> str:
        """Keep the conversation after a question; returns its id (new ones get one)."""
        text = json.dumps(messages, default=str)
        if len(text.encode("utf-8")) > self.limits.max_bytes:
            raise ConversationBusyError(
                "The conversation has grown past its size limit; ask without conversation_id "
                "to start a new one."
            )
        conversation_id = stored.id or secrets.token_urlsafe(18)
        row = (conversation_id, owner, stored.today.isoformat(), stored.questions + 1, text)
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO conversations VALUES (?, ?, ?, ?, ?, ?)",
                (*row, time.time()),
            )
            self._keep_newest()
        return conversation_id

    def count(self) -> int:
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM conversations").fetchone()[0])

    def _forget_idle(self) -> None:
        cutoff = time.time() - self.limits.ttl_seconds
        self.db.execute("DELETE FROM conversations WHERE updated < ?", (cutoff,))

    def _keep_newest(self) -> None:
        self.db.execute(
            "DELETE FROM conversations WHERE id NOT IN "
            "(SELECT id FROM conversations ORDER BY updated DESC LIMIT ?)",
            (self.limits.max_conversations,),
        )
