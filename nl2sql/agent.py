"""The conversation: question -> model -> Query tool calls -> rows -> model -> answer.

``Agent`` (sync, ``OpenAI``) and ``AsyncAgent`` (``AsyncOpenAI``) share one ``Conversation``
that builds requests and absorbs replies; they differ only in how they wait for the model.
Errors meant for the model (a bad tool call, a query the database refused) go back as the
``tool`` message so it can try again, up to ``max_tool_errors`` in a row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Self

import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from nl2sql import deadline, responses_api
from nl2sql.config import Config
from nl2sql.errors import (
    AgentStepLimitError,
    DatabaseError,
    DatabaseUnavailableError,
    ModelError,
    NL2SQLError,
    QueryTimeoutError,
    QueryValidationError,
    RefusedError,
    first_line,
)
from nl2sql.execute import ReadOnlyDatabase, Result
from nl2sql.models.backends import (
    MAX_OUTPUT_TOKENS_ENV,
    Backend,
    choose_backend,
    describe_api_error,
    resolve_api,
)
from nl2sql.query import TOOL_NAME
from nl2sql.streaming import ReplyBuilder
from nl2sql.tooling import as_definition, function_tool

MAX_STEPS = 8  # model calls per question
MAX_TOOL_ERRORS = 3  # failed tool calls in a row before giving up
MAX_CALLS_PER_REPLY = 8  # tool calls one model reply may make
TOOL_RESULT_ROWS = 30  # rows of a result the model sees; the user sees them all

TextCallback = Callable[[str], None]


@dataclass
class ToolRun:
    """One tool call the model made and what came of it."""

    call_id: str
    arguments: str
    result: Result | None = None
    error: str | None = None
    elapsed_ms: float = 0.0


ANSWERED = "answered"
REFUSED = "refused"


@dataclass
class Turn:
    """Everything that happened answering one question (shown with -v).

    `status` is "answered" when the answer rests on a query that ran (the last one the model
    made succeeded), else "refused": the model did not understand, asked back, or answered
    from nothing. A refused turn's `answer` is the model's reason.
    """

    question: str
    answer: str = ""
    status: str = ANSWERED
    tool_runs: list[ToolRun] = field(default_factory=list)
    model_calls: int = 0
    prompt_tokens: int | None = 0  # None: the endpoint did not report usage
    completion_tokens: int | None = 0
    model_ms: float = 0.0
    tools_mode: str = ""  # how the tool was sent: "strict", or why not (shown with -v)

    @property
    def last_result(self) -> ToolRun | None:
        return next((run for run in reversed(self.tool_runs) if run.result), None)

    @property
    def understood(self) -> str:
        """What the answer counted or listed, rendered by nl2sql from the query that ran."""
        run = self.last_result
        return run.result.understood if run and run.result and self.status == ANSWERED else ""

    @property
    def grounded(self) -> bool:
        """Whether the latest tool call ran: an answer after it rests on real rows."""
        return bool(self.tool_runs) and self.tool_runs[-1].result is not None

    def raise_for_status(self) -> Turn:
        """The turn itself when answered; RefusedError with the model's reason otherwise."""
        if self.status != ANSWERED:
            error = RefusedError(first_line(self.answer, "The question was not answered."))
            error.turn = self
            raise error
        return self

    def to_json(self) -> dict[str, Any]:
        """The pinned `--format json` object (the last query the agent ran)."""
        run = self.last_result
        result = run.result.to_json() if run and run.result else {}
        return {
            "question": self.question,
            "answer": self.answer,
            "understood": self.understood,
            "query": json.loads(run.arguments) if run else None,
            "sql": result.get("sql"),
            "columns": result.get("columns", []),
            "rows": result.get("rows", []),
            "row_count": result.get("row_count", 0),
            "truncated": result.get("truncated", False),
        }


def system_prompt(today: date, customer_id: int | None) -> str:
    lines = [
        "You answer questions about a shop's orders database by calling the Query tool; "
        "never write SQL. Today is " + today.isoformat() + " (use it for relative dates).",
        "Call Query, read the rows it returns, then answer briefly in plain English, stating "
        "what you counted or listed (filters, date range). If a call returns an error, fix "
        "the arguments and call again. Ask the user when the question is ambiguous.",
    ]
    if customer_id is not None:
        lines.append(
            f"You are helping customer #{customer_id}: 'my orders' means their orders, and the "
            "database only shows their rows."
        )
    return "\n".join(lines)


class Conversation:
    """Messages and bookkeeping shared by the sync and async agents."""

    def __init__(
        self,
        db: ReadOnlyDatabase,
        backend: Backend,
        *,
        customer_id: int | None,
        today: date,
        max_steps: int,
        max_tool_errors: int,
    ) -> None:
        self.db = db
        self.backend = backend
        self.customer_id = customer_id
        self.today = today
        self.max_steps = max_steps
        self.max_tool_errors = max_tool_errors
        self.strict = backend.strict_tools
        self.strict_dropped = "turned off by NL2SQL_STRICT_TOOLS"  # or why the server refused
        self.strict_ignored = False  # a server that takes strict tools but does not enforce them
        self.strict_tool = function_tool(db.tool)
        self.messages: list[dict[str, Any]] = []
        self.reset()

    def reset(self) -> None:
        instructions = system_prompt(self.today, self.customer_id)
        self.messages = [{"role": self.backend.system_role, "content": instructions}]

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.backend.model,
            "messages": self.messages,
            "tools": [self._tool()],
            # Said outright: without it some servers (llama-cpp-python) leave the tools out of
            # the prompt, and the model can only answer from nothing.
            "tool_choice": "auto",
        }
        limit = self.backend.output_limit
        if limit is not None:
            request[limit[0]] = limit[1]
        left, timeout = deadline.seconds_left(), self.backend.client.timeout
        if left is not None and isinstance(timeout, int | float) and left < timeout:
            request["timeout"] = max(left, 0.001)  # a request never outlives the question
        return request

    def reply_builder(self, on_text: TextCallback | None) -> ReplyBuilder:
        return ReplyBuilder(self.backend.describe(), MAX_CALLS_PER_REPLY, on_text)

    def _tool(self) -> Any:
        # Built once per conversation: the JSON schema takes ~2 ms, more than an offline answer.
        return self.strict_tool if self.strict else as_definition(self.strict_tool, strict=False)

    def absorb(self, turn: Turn, completion: ChatCompletion) -> bool:
        """Take one model reply; True when the model has answered in text."""
        turn.model_calls += 1
        turn.tools_mode = self.tools_mode()
        count_usage(turn, completion)
        if not completion.choices:
            raise ModelError(f"{self.backend.describe()} returned no choices.")
        choice = completion.choices[0]
        check_finish(choice.finish_reason, self.backend)
        message = choice.message
        calls = message.tool_calls or []
        if not calls:
            turn.answer = message.content or message.refusal or ""
            self.messages.append({"role": "assistant", "content": turn.answer})
            if not turn.grounded:
                turn.status = REFUSED
            return True
        if len(calls) > MAX_CALLS_PER_REPLY:
            raise ModelError(
                f"The model asked for {len(calls)} queries in one reply; nl2sql runs at most "
                f"{MAX_CALLS_PER_REPLY}. Try a simpler question."
            )
        self.messages.append(assistant_with_calls(message))
        for call in calls:
            function: Any = getattr(call, "function", None)  # custom tool calls have none
            run = ToolRun(call_id=call.id, arguments=getattr(function, "arguments", "") or "")
            turn.tool_runs.append(run)  # before it runs: a failure that ends the turn keeps it
            self._run_tool(function, run, turn.question)
            content = tool_message(run, self.db.locations())
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        turn.tools_mode = self.tools_mode()  # a call that broke the schema says strict was ignored
        self._check_error_streak(turn)
        return False

    def tools_mode(self) -> str:
        if not self.strict:
            return f"not strict ({self.strict_dropped})"
        if self.strict_ignored:
            return "strict requested, not enforced by the server (arguments broke the schema)"
        return "strict"

    def _run_tool(self, function: Any, run: ToolRun, question: str) -> None:
        started = time.perf_counter()
        try:
            name = getattr(function, "name", None)
            if name != TOOL_NAME:
                raise QueryValidationError(f"Unknown tool '{name}'; the only tool is {TOOL_NAME}.")
            parsed = getattr(function, "parsed_arguments", None)
            query = parsed if isinstance(parsed, BaseModel) else run.arguments  # run() parses
            run.result = self.db.run(
                query,
                customer_id=self.customer_id,
                deadline=deadline.current(),
                question=question,
            )
        except (DatabaseUnavailableError, QueryTimeoutError) as error:
            run.error = str(error)
            raise  # no retry can help: the user must fix the database or narrow the question
        except QueryValidationError as error:
            run.error = str(error)
            if self.strict and not self._fits_schema(run.arguments):
                self.strict_ignored = True  # strict decoding would not have let it through
        except DatabaseError as error:
            run.error = str(error)
        finally:
            run.elapsed_ms = (time.perf_counter() - started) * 1000

    def _fits_schema(self, arguments: str) -> bool:
        """Whether the arguments parse as a Query (the compiler may still refuse them)."""
        try:
            self.db.tool.parse(arguments)
        except QueryValidationError:
            return False
        return True

    def _check_error_streak(self, turn: Turn) -> None:
        streak = 0
        for run in reversed(turn.tool_runs):
            if run.error is None:
                break
            streak += 1
        if streak >= self.max_tool_errors:
            last = turn.tool_runs[-1].error
            raise ModelError(
                f"The model could not form a valid query after {streak} attempts. "
                f"Last error: {last} Try rephrasing the question."
            )

    @staticmethod
    def gate(turn: Turn, on_text: TextCallback | None) -> TextCallback | None:
        """Pass text on only once a query has run: a reply before that is not an answer
        (a refusal, a question back), and is reported as one instead of streamed."""
        if on_text is None:
            return None
        return lambda delta: on_text(delta) if turn.grounded else None

    @staticmethod
    def emit(completion: ChatCompletion, on_text: TextCallback | None) -> ChatCompletion:
        """Hand a whole (unstreamed) answer to the text callback at once."""
        if on_text is not None and completion.choices and completion.choices[0].message.content:
            if not completion.choices[0].message.tool_calls:
                on_text(completion.choices[0].message.content)
        return completion

    def step_limit(self) -> AgentStepLimitError:
        return AgentStepLimitError(
            f"The model made {self.max_steps} calls without answering; stopped. Try a simpler "
            "or more specific question."
        )


# What the SDK raises (rather than an OpenAIError) on a reply it cannot read, e.g. a plain JSON
# completion sent back to a streaming request.
UNREADABLE_REPLY = (AssertionError, AttributeError, KeyError, TypeError, IndexError)


def unreadable_reply(backend: Backend, error: Exception) -> ModelError:
    return ModelError(
        f"{backend.describe()} sent a reply nl2sql cannot read ({type(error).__name__} in the "
        "openai SDK): a plain answer to a streaming request, or broken chunks. Check the server "
        "supports streaming (or use --format json, which does not stream)."
    )


def count_usage(turn: Turn, completion: ChatCompletion) -> None:
    """Add a reply's tokens; once a reply comes without usage, the totals are unknown."""
    usage = completion.usage
    if usage is None or turn.prompt_tokens is None or turn.completion_tokens is None:
        turn.prompt_tokens = turn.completion_tokens = None
        return
    turn.prompt_tokens += usage.prompt_tokens
    turn.completion_tokens += usage.completion_tokens


def check_finish(reason: str | None, backend: Backend) -> None:
    if reason == "length":
        raise ModelError(
            f"The reply from {backend.describe()} was cut off by its length limit. "
            f"Ask a narrower question, or raise {MAX_OUTPUT_TOKENS_ENV} (or the server's own "
            "limit)."
        )
    if reason == "content_filter":
        raise ModelError(f"The reply from {backend.describe()} was blocked by its content filter.")


def assistant_with_calls(message: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        # "" rather than null: some servers (llama-cpp-python) reject a null content with 500
        "content": message.content or "",
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.function.name, "arguments": c.function.arguments},
            }
            for c in message.tool_calls
        ],
    }


def tool_message(run: ToolRun, locations: tuple[str, ...] = ()) -> str:
    """What the model reads back: a capped result, or the error to fix. Where the database
    lives (its URL, its file) is not the model's business: `locations` are written out."""
    if run.result is None:
        error = run.error or ""
        for location in locations:
            error = error.replace(location, "the database")
        return json.dumps({"error": error, "hint": "Fix the arguments and call Query again."})
    return json.dumps(run.result.to_json(max_rows=TOOL_RESULT_ROWS) | {"sql": None})


def unparsed(text: str) -> ChatCompletion:
    """A completion read without tool-argument parsing (the arguments failed the model)."""
    return ChatCompletion.model_validate_json(text)


class _AgentBase:
    """What both agents share: the database, the backend, the conversation and its turns."""

    asynchronous = False

    def __init__(
        self,
        db: ReadOnlyDatabase | str | None = None,
        *,
        model: str | None = None,
        backend: Backend | None = None,
        customer_id: int | None = None,
        today: date | None = None,
        max_steps: int = MAX_STEPS,
        max_tool_errors: int = MAX_TOOL_ERRORS,
        timeout: float | None = None,
        max_retries: int | None = None,
        config: Config | str | Path | None = None,
        question_seconds: float | None = None,
        api: str | None = None,
    ) -> None:
        self.question_seconds = question_seconds  # None: NL2SQL_QUESTION_TIMEOUT or 120 s
        self.owns_db = not isinstance(db, ReadOnlyDatabase)  # opened here: closed by close()
        self.db = db if isinstance(db, ReadOnlyDatabase) else ReadOnlyDatabase(db, config=config)
        customer_id = self.db.check_customer(customer_id)
        today = today or date.today()
        self.backend = backend or choose_backend(
            model,
            db=self.db,
            today=today,
            customer_id=customer_id,
            timeout=timeout,
            max_retries=max_retries,
            asynchronous=self.asynchronous,
            api=api,
        )
        if backend is not None and api is not None:
            self.backend.api = resolve_api(api)
        self.conversation = Conversation(
            self.db,
            self.backend,
            customer_id=customer_id,
            today=today,
            max_steps=max_steps,
            max_tool_errors=max_tool_errors,
        )
        self.turns: list[Turn] = []

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.conversation.messages

    @property
    def customer_id(self) -> int | None:
        """The tenant the agent answers for (None: unscoped)."""
        return self.conversation.customer_id

    def close(self) -> None:
        """Close the database connections, when the agent opened the database itself."""
        if self.owns_db:
            self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        self.conversation.reset()
        self.turns.clear()

    def _model_error(self, error: Exception) -> NL2SQLError:
        if deadline.expired():
            return deadline.timed_out()  # whatever the SDK made of the cut-off reply
        if isinstance(error, openai.OpenAIError):
            return ModelError(describe_api_error(error, self.backend))
        # ValueError: a body that is not a Chat Completions reply.
        return ModelError(
            f"{self.backend.describe()} sent an unreadable reply: {first_line(error)}"
        )

    def _should_drop_strict(self, error: openai.APIStatusError) -> bool:
        """Whether the server refused strict tools, read from what it said, whatever the
        status: some answer a request they cannot validate with 500, not 400."""
        if self.conversation.strict and mentions_strict(error):
            self.conversation.strict = False  # a server without strict tools: fall back
            self.conversation.strict_dropped = (
                f"the server refused them: HTTP {error.status_code}, "
                f"{first_line(error.message)[:120]}"
            )
            return True
        return False


class Agent(_AgentBase):
    """Answers questions about the orders database; keeps the conversation for follow-ups.

    Example:
        >>> agent = Agent(model="offline")                        # doctest: +SKIP
        >>> agent.ask("How many orders were shipped to Canada last month?").answer  # doctest: +SKIP
    """

    def ask(self, question: str, *, on_text: TextCallback | None = None) -> Turn:
        """Answer one question; `on_text` receives the answer as it streams in."""
        turn = Turn(question)
        saved = len(self.messages)
        self.messages.append({"role": "user", "content": question})
        try:
            with deadline.question_deadline(self.question_seconds):
                for _ in range(self.conversation.max_steps):
                    text = self.conversation.gate(turn, on_text)
                    if self.conversation.absorb(turn, self._complete(turn, text)):
                        self.turns.append(turn)
                        return turn
                raise self.conversation.step_limit()
        except NL2SQLError as error:
            error.turn = error.turn or turn
            del self.messages[saved:]  # keep the conversation as it was before this question
            raise
        except BaseException:
            del self.messages[saved:]  # keep the conversation as it was before this question
            raise

    def _complete(self, turn: Turn, on_text: TextCallback | None) -> ChatCompletion:
        started = time.perf_counter()
        try:
            try:
                return self._call_model(on_text)
            except STRICT_REFUSALS as error:
                if not self._should_drop_strict(error):
                    raise
                return self._call_model(on_text)
        except (openai.OpenAIError, ValueError) as error:
            raise self._model_error(error) from error
        except UNREADABLE_REPLY as error:  # the SDK tripped on what the server sent
            raise unreadable_reply(self.backend, error) from error
        finally:
            turn.model_ms += (time.perf_counter() - started) * 1000

    def _call_model(self, on_text: TextCallback | None) -> ChatCompletion:
        if self.backend.api == responses_api.RESPONSES:
            return self._call_responses(on_text)
        completions = self.backend.client.chat.completions
        request = self.conversation.request()
        if not self.conversation.strict:
            # The SDK only parses strict tools; without them, read the plain reply (not
            # streamed) and validate the arguments with the same models.
            completion: ChatCompletion = completions.create(**request)
            return self.conversation.emit(completion, on_text)
        if on_text is None:
            raw = completions.with_raw_response.parse(**request)
            try:
                return raw.parse()
            except (ValidationError, ValueError):
                return unparsed(raw.text)
        reply = self.conversation.reply_builder(on_text)
        stream = completions.create(**request, stream=True, stream_options={"include_usage": True})
        with stream:
            for chunk in stream:
                reply.add(chunk)
        return reply.completion()

    def _call_responses(self, on_text: TextCallback | None) -> ChatCompletion:
        responses = self.backend.client.responses
        request = responses_api.request_of(self.conversation.request())
        describe = self.backend.describe()
        if on_text is None:
            return responses_api.completion_of(responses.create(**request), describe)
        reader = responses_api.EventReader(describe, MAX_CALLS_PER_REPLY, on_text)
        with responses.create(**request, stream=True) as stream:
            for event in stream:
                reader.add(event)
        return reader.completion()


class AsyncAgent(_AgentBase):
    """The same agent on ``AsyncOpenAI``: for web apps and other async code."""

    asynchronous = True

    async def ask(self, question: str, *, on_text: TextCallback | None = None) -> Turn:
        turn = Turn(question)
        saved = len(self.messages)
        self.messages.append({"role": "user", "content": question})
        try:
            with deadline.question_deadline(self.question_seconds):
                for _ in range(self.conversation.max_steps):
                    text = self.conversation.gate(turn, on_text)
                    if self.conversation.absorb(turn, await self._complete(turn, text)):
                        self.turns.append(turn)
                        return turn
                raise self.conversation.step_limit()
        except NL2SQLError as error:
            error.turn = error.turn or turn
            del self.messages[saved:]  # keep the conversation as it was before this question
            raise
        except BaseException:
            del self.messages[saved:]
            raise

    async def _complete(self, turn: Turn, on_text: TextCallback | None) -> ChatCompletion:
        started = time.perf_counter()
        try:
            try:
                return await self._call_model(on_text)
            except STRICT_REFUSALS as error:
                if not self._should_drop_strict(error):
                    raise
                return await self._call_model(on_text)
        except (openai.OpenAIError, ValueError) as error:
            raise self._model_error(error) from error
        except UNREADABLE_REPLY as error:  # the SDK tripped on what the server sent
            raise unreadable_reply(self.backend, error) from error
        finally:
            turn.model_ms += (time.perf_counter() - started) * 1000

    async def _call_model(self, on_text: TextCallback | None) -> ChatCompletion:
        if self.backend.api == responses_api.RESPONSES:
            return await self._call_responses(on_text)
        completions = self.backend.client.chat.completions
        request = self.conversation.request()
        if not self.conversation.strict:
            completion: ChatCompletion = await completions.create(**request)
            return self.conversation.emit(completion, on_text)
        if on_text is None:
            raw = await completions.with_raw_response.parse(**request)
            try:
                return raw.parse()  # type: ignore[no-any-return]
            except (ValidationError, ValueError):
                return unparsed(raw.text)
        reply = self.conversation.reply_builder(on_text)
        stream = await completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        async with stream:
            async for chunk in stream:
                reply.add(chunk)
        return reply.completion()

    async def _call_responses(self, on_text: TextCallback | None) -> ChatCompletion:
        responses = self.backend.client.responses
        request = responses_api.request_of(self.conversation.request())
        describe = self.backend.describe()
        if on_text is None:
            return responses_api.completion_of(await responses.create(**request), describe)
        reader = responses_api.EventReader(describe, MAX_CALLS_PER_REPLY, on_text)
        stream = await responses.create(**request, stream=True)
        async with stream:
            async for event in stream:
                reader.add(event)
        return reader.completion()


# How servers refuse a request they cannot take (strict tools among them): 400, 422, or 500.
STRICT_REFUSALS = (
    openai.BadRequestError,
    openai.UnprocessableEntityError,
    openai.InternalServerError,
)


def mentions_strict(error: openai.APIStatusError) -> bool:
    """A 400 that rejects strict tools or their schema (servers without Structured Outputs)."""
    text = str(error).lower()
    return "strict" in text or "additionalproperties" in text or "json_schema" in text
