"""The offline model: a deterministic English question parser behind the Chat Completions API.

It is stateless: every ``reply(body)`` reads the whole conversation. A user message last -> parse
it (with the date it was given and the previous Query call for follow-ups) and
return one Query tool call. Tool results last -> write the answer from the rows and from the
Query arguments, which carry everything it understood.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from datetime import date
from typing import Any

from nl2sql.models.offline.answers import answer, not_understood
from nl2sql.models.offline.any_followups import follow_up_any
from nl2sql.models.offline.any_schema import NotRead, understand_any
from nl2sql.models.offline.grammar import Context, Inexpressible, NotUnderstood, understand
from nl2sql.models.offline.schema_words import SchemaWords, load_values
from nl2sql.models.offline.values import ValueIndex
from nl2sql.query import configured_tool

log = logging.getLogger(__name__)


class OfflineModel:
    """Reads the database's values once at start-up; answers each request from its messages.

    `today` and `customer_id` are what the agent was given (the date questions are relative to,
    the tenant whose values it may see); they are arguments, never read from the prompt.
    On nl2sql's own schema the tuned grammar answers; on any other, the schema's words do.
    """

    def __init__(
        self, db: Any, *, today: date | None = None, customer_id: int | None = None
    ) -> None:
        self.db = db
        self.today = today
        self.customer_id = customer_id
        self.tool = db.tool if db is not None else configured_tool()
        self.schema_words: SchemaWords | None = None
        if not self.tool.catalog.builtin:
            values = load_values(db, self.tool, customer_id)
            self.schema_words = SchemaWords.build(self.tool, values)
            self.values = ValueIndex.build({})
            return
        try:
            self.values = ValueIndex.load(db, customer_id)
        except Exception as error:  # noqa: BLE001 - a model without value lookup still works
            first_line = str(error).splitlines()[0]
            log.info("offline model: could not read values from the database: %s", first_line)
            self.values = ValueIndex.build({})

    def on_day(self, today: date) -> OfflineModel:
        """The same model (the same value index, read once) answering as of `today`."""
        model = copy.copy(self)
        model.today = today
        return model

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        messages: list[dict[str, Any]] = body.get("messages", [])
        if not messages:
            return {"content": not_understood("")}
        last = messages[-1]
        if last.get("role") == "tool":
            return {"content": self._answer(messages)}
        if last.get("role") != "user":
            return {"content": "I am ready for a question about the orders database."}
        question = _text(last.get("content"))
        today = self.today or date.today()
        if self.schema_words is not None:
            previous = _previous_query(messages[:-1]) if _last_turn_ran(messages) else None
            try:
                query = understand_on_schema(question, today, self.schema_words, previous)
            except NotRead as error:
                return {"content": not_understood(question, str(error))}
            return _tool_call(query)
        context = Context(
            today=today,
            scoped=self.customer_id is not None,
            previous=_previous_query(messages[:-1]) if _last_turn_ran(messages) else None,
        )
        try:
            query = understand(question, context, self.values)
        except NotUnderstood as error:
            return {"content": not_understood(question, error.reason)}
        except Inexpressible as error:
            return {"content": str(error)}
        hidden = sorted(referenced_columns(query) - set(self.tool.columns))
        if hidden:  # the grammar knows the sample's columns; this database hides some of them
            return {
                "content": f"I cannot answer that here: it needs {', '.join(hidden)}, which this "
                "database does not show."
            }
        return _tool_call(query)

    def _answer(self, messages: list[dict[str, Any]]) -> str:
        tool = messages[-1]
        try:
            result = json.loads(_text(tool.get("content")))
        except (TypeError, ValueError):
            result = {"error": _text(tool.get("content"))}
        if not isinstance(result, dict) or "error" in result:
            error = result.get("error") if isinstance(result, dict) else result
            return f"The query failed, so I cannot answer: {error}"
        query = _previous_query(messages) or {}
        return answer(query, result, self.tool, _last_question(messages))


def understand_on_schema(
    question: str, today: date, words: SchemaWords, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """A whole question first; failing that, with a previous query, a follow-up of it."""
    try:
        return understand_any(question, today, words)
    except NotRead:
        if previous is None:
            raise
        return follow_up_any(question, today, words, previous)


def referenced_columns(query: dict[str, Any]) -> set[str]:
    """Every column a Query names: fields (and their filters, days_from, average_per),
    conditions (and the columns they compare with or count days from), sorts, per-group limits."""
    conditions = [*query.get("conditions", []), *query.get("any_of", [])]
    fields = query.get("columns", [])
    for field in fields:
        conditions += field.get("filter") or []
    items = [*fields, *conditions, *query.get("order_by", [])]
    if query.get("per_group_limit"):
        items.append(query["per_group_limit"])
    names = {str(item.get("column")) for item in items}
    for item in [*fields, *conditions]:
        names |= {str(item[k]) for k in ("days_from", "average_per") if item.get(k)}
    for item in conditions:
        value = item.get("value")
        if isinstance(value, dict):
            names |= {str(value[k]) for k in ("column_name", "within") if value.get(k)}
    return names


def _tool_call(query: dict[str, Any]) -> dict[str, Any]:
    arguments = json.dumps(query)
    return {
        "tool_calls": [
            {
                "id": f"call_{uuid.uuid4().hex[:16]}",
                "function": {"name": "Query", "arguments": arguments},
            }
        ]
    }


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _last_question(messages: list[dict[str, Any]]) -> str:
    """The latest user message: what the rows answer."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _last_turn_ran(messages: list[dict[str, Any]]) -> bool:
    """Whether the turn before this question ran a query. After a refusal or a question back
    ("which Mia Schneider?"), a follow-up must not edit some older, unrelated query."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if len(users) < 2:
        return True  # nothing before: no previous query either
    previous_turn = messages[users[-2] + 1 : users[-1]]
    return any(m.get("tool_calls") for m in previous_turn)


def _previous_query(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The arguments of the latest Query tool call in the conversation."""
    for message in reversed(messages):
        for call in reversed(message.get("tool_calls") or []):
            function = call.get("function") or {}
            if function.get("name") != "Query":
                continue
            try:
                parsed = json.loads(function.get("arguments") or "")
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None
