"""What the HTTP API and the MCP server both serve, independent of either transport.

A request is authenticated to a key, the key to its tenant (the request never chooses it),
admitted under the key's limits, and answered by an ``AsyncAgent`` on the shared model for
that tenant, continuing the stored conversation when it names one. Database work runs in
worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nl2sql.agent import ANSWERED, AsyncAgent, TextCallback, Turn
from nl2sql.config import ApiKey
from nl2sql.errors import ConfigError, ConversationBusyError, first_line
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.server.conversations import ConversationStore, Stored
from nl2sql.server.keys import KeyRing
from nl2sql.server.limits import KeyLimits
from nl2sql.server.models import SharedModels
from nl2sql.tooling import tool_definition

MAX_QUESTION_CHARS = 2_000
WARM_TENANTS = 16  # tenants whose model is built at start-up


class AskArguments(BaseModel):
    """What one question carries, over HTTP (which adds `today`) and MCP alike."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        description="The question, in plain English.", min_length=1, max_length=MAX_QUESTION_CHARS
    )
    conversation_id: str | None = Field(
        default=None,
        max_length=100,
        description="The conversation_id of an earlier result, to ask a follow-up in it.",
    )


class Answer(BaseModel):
    """An answered question, as the HTTP API and MCP return it (a refusal is an error)."""

    question: str
    answer: str
    understood: str
    query: dict[str, Any] | None
    sql: str | None
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    conversation_id: str


class QueryResult(BaseModel):
    """What one Query spec returned."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    sql: str
    understood: str


@dataclass
class Reply:
    """An answered or refused question, and the conversation it now belongs to."""

    turn: Turn
    conversation_id: str

    @property
    def answered(self) -> bool:
        return self.turn.status == ANSWERED

    def to_json(self) -> dict[str, Any]:
        """The section-4 object plus `understood` and `conversation_id`; a refusal is
        `{"error", "question", "refused": true, "conversation_id"}` instead."""
        if not self.answered:
            return {
                "error": first_line(self.turn.answer, "The question was not answered."),
                "question": self.turn.question,
                "refused": True,
                "conversation_id": self.conversation_id,
            }
        return self.turn.to_json() | {"conversation_id": self.conversation_id}


class Service:
    """Keys, limits, conversations and the shared models over one read-only database."""

    def __init__(
        self,
        db: ReadOnlyDatabase,
        keys: tuple[ApiKey, ...],
        *,
        model: str | None = None,
        store: ConversationStore | None = None,
        today: date | None = None,
        question_seconds: float | None = None,
    ) -> None:
        self.db = db
        self.keys = KeyRing(keys)
        self.limits = KeyLimits()
        self.store = store or ConversationStore()
        self.models = SharedModels(db, model)
        self.today = today  # None: each question's own day (tests pin one)
        self.question_seconds = question_seconds
        self.answering: set[str] = set()  # conversations with a question running

    def check(self, *, require_keys: bool = True) -> None:
        """Fail at start-up, not on the first request: no keys, or a key's missing tenant."""
        if require_keys and not self.keys.keys:
            raise ConfigError(
                "No API keys: add an [[api_keys]] table to the config (nl2sql new-key prints "
                "one), so that every request says who it is for."
            )
        for key in self.keys.keys:
            self.db.check_customer(key.customer)
        tenants = sorted({key.customer for key in self.keys.keys}, key=lambda c: c or 0)
        # The first few tenants' models now; with many keys the rest load on first use, so
        # start-up does not read every tenant's values.
        self.models.warm(tenants[:WARM_TENANTS], self.day())

    def close(self) -> None:
        self.store.close()

    def day(self, asked: date | None = None) -> date:
        return asked or self.today or date.today()

    def schema(self) -> dict[str, Any]:
        """The strict Query tool, as the model sees it."""
        return tool_definition(self.db.tool)

    async def ask(
        self,
        key: ApiKey,
        question: str,
        *,
        conversation_id: str | None = None,
        today: date | None = None,
        on_text: TextCallback | None = None,
    ) -> Reply:
        """Answer one question for `key`'s tenant, continuing `conversation_id` if given."""
        question = checked_question(question)
        with self.limits.admit(key), self._answering(conversation_id):
            stored = await asyncio.to_thread(
                self.store.load, conversation_id, key.key_sha256, self.day(today)
            )
            agent = await asyncio.to_thread(self._agent, key, today or stored.today)
            agent.conversation.messages[1:] = stored.messages
            turn = await agent.ask(question, on_text=on_text)
            saved = await asyncio.to_thread(self._save, stored, key, agent)
        return Reply(turn, saved)

    async def query(self, key: ApiKey, arguments: str | dict[str, Any]) -> dict[str, Any]:
        """Run one Query tool call's arguments in `key`'s tenant scope."""
        with self.limits.admit(key):
            result = await asyncio.to_thread(self.db.run, arguments, customer_id=key.customer)
        return result.to_json()

    def _agent(self, key: ApiKey, today: date) -> AsyncAgent:
        backend = self.models.backend(key.customer, today)
        return AsyncAgent(
            self.db,
            backend=backend,
            customer_id=key.customer,
            today=today,
            question_seconds=self.question_seconds,
        )

    def _save(self, stored: Stored, key: ApiKey, agent: AsyncAgent) -> str:
        return self.store.save(stored, key.key_sha256, agent.conversation.messages[1:])

    @contextmanager
    def _answering(self, conversation_id: str | None) -> Iterator[None]:
        """One question at a time per conversation: a second would race the first's save."""
        if conversation_id is None:
            yield
            return
        if conversation_id in self.answering:
            raise ConversationBusyError(
                f"Conversation {conversation_id!r} is still answering a question; send the "
                "follow-up when it has finished."
            )
        self.answering.add(conversation_id)
        try:
            yield
        finally:
            self.answering.discard(conversation_id)


def describe_problems(problems: Sequence[Any], lead: str, whole: str) -> str:
    """One line naming each bad field (pydantic's problems) of a request's `whole`."""
    parts = []
    for problem in problems[:4]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        parts.append(f"{where or whole}: {problem.get('msg', 'invalid')}")
    return f"{lead}: " + "; ".join(parts) + "."


def checked_question(question: str) -> str:
    text = question.strip() if isinstance(question, str) else ""
    if not text:
        raise ConfigError("The question is empty; send it as the `question` field.")
    if len(text) > MAX_QUESTION_CHARS:
        raise ConfigError(
            f"The question is {len(text)} characters long; nl2sql takes at most "
            f"{MAX_QUESTION_CHARS}. Ask a shorter one."
        )
    return text
