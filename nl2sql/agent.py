"""The conversation: question -> model -> Query tool calls -> rows -> model -> answer.

``Conversation`` is the sans-IO core: it says which model call to make next (``ModelCall``, a
request as data), absorbs the reply, and hands back the tool calls to run. ``Agent`` (sync,
``OpenAI``) and ``AsyncAgent`` (``AsyncOpenAI``) are thin drivers around it; the async one
runs the SQL in a worker thread, never on the event loop. Errors meant for the model (a bad
tool call, a query the database refused) go back as the ``tool`` message so it can try again,
up to ``max_tool_errors`` in a row.
"""

from __future__ import annotations

import asyncio
import json
import operator
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@dataclass
class ModelCall:
    """One request to the model, as data: the SDK method (a dotted path on the client), its
    arguments, and how to read what comes back (a whole reply, or a stream's events)."""

    method: str
    arguments: dict[str, Any]
    read: Callable[[Any], ChatCompletion] | None = None  # a whole reply -> the completion
    reader: Any = None  # a stream's accumulator: add(event) for each event, then completion()

    def endpoint(self, client: Any) -> Callable[..., Any]:
        return operator.attrgetter(self.method)(client)  # type: ignore[no-any-return]


@dataclass
class ToolCall:
    """A tool call the model asked for, waiting to run (its outcome lands on `run`)."""

    run: ToolRun
    name: str | None
    parsed: BaseModel | None  # the SDK's parse of the arguments, under strict tools


class Conversation:
    """The sans-IO core both agents drive: messages, the next model call, what a reply
    means, and running the tool calls it asked for. It does no waiting of its own."""

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

    @contextmanager
    def question(self, text: str, seconds: float | None) -> Iterator[Turn]:
        """One question under its deadline; on any failure the messages go back to how they
        were before it, and an NL2SQLError carries the turn so far."""
        turn = Turn(text)
        saved = len(self.messages)
        self.messages.append({"role": "user", "content": text})
        try:
            with deadline.question_deadline(seconds):
                yield turn
        except NL2SQLError as error:
            error.turn = error.turn or turn
            del self.messages[saved:]
            raise
        except BaseException:
            del self.messages[saved:]
            raise

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

    def next_call(self, turn: Turn, on_text: TextCallback | None) -> ModelCall:
        """The model call to make now; streamed when someone is waiting for the text."""
        if turn.model_calls >= self.max_steps:
            raise self.step_limit()
        text = self.gate(turn, on_text)
        if self.backend.api == responses_api.RESPONSES:
            return self._responses_call(responses_api.request_of(self.request()), text)
        return self._chat_call(self.request(), text)

    def _chat_call(self, request: dict[str, Any], on_text: TextCallback | None) -> ModelCall:
        if not self.strict:
            # The SDK only parses strict tools; without them, read the plain reply (not
            # streamed) and validate the arguments with the same models.
            return ModelCall(
                "chat.completions.create", request, read=lambda reply: emit(reply, on_text)
            )
        if on_text is None:
            return ModelCall("chat.completions.with_raw_response.parse", request, read=parsed)
        streamed = request | {"stream": True, "stream_options": {"include_usage": True}}
        reader = ReplyBuilder(self.backend.describe(), MAX_CALLS_PER_REPLY, on_text)
        return ModelCall("chat.completions.create", streamed, reader=reader)

    def _responses_call(self, request: dict[str, Any], on_text: TextCallback | None) -> ModelCall:
        describe = self.backend.describe()
        if on_text is None:
            read = lambda reply: responses_api.completion_of(reply, describe)  # noqa: E731
            return ModelCall("responses.create", request, read=read)
        reader = responses_api.EventReader(describe, MAX_CALLS_PER_REPLY, on_text)
        return ModelCall("responses.create", request | {"stream": True}, reader=reader)

    @contextmanager
    def model_time(self, turn: Turn) -> Iterator[None]:
        """Around one model call: its time on the turn, and whatever the SDK raised as one
        ModelError (or the question's timeout, when that is what cut the reply off)."""
        started = time.perf_counter()
        try:
            yield
        except (openai.OpenAIError, ValueError) as error:
            raise self._model_error(error) from error
        except UNREADABLE_REPLY as error:  # the SDK tripped on what the server sent
            raise unreadable_reply(self.backend, error) from error
        finally:
            turn.model_ms += (time.perf_counter() - started) * 1000

    def _model_error(self, error: Exception) -> NL2SQLError:
        if deadline.expired():
            return deadline.timed_out()  # whatever the SDK made of the cut-off reply
        if isinstance(error, openai.OpenAIError):
            return ModelError(describe_api_error(error, self.backend))
        # ValueError: a body that is not a Chat Completions reply.
        return ModelError(
            f"{self.backend.describe()} sent an unreadable reply: {first_line(error)}"
        )

    def drop_strict(self, error: openai.APIStatusError) -> bool:
        """Whether the server refused strict tools (then the next call goes without them),
        read from what it said, whatever the status: some answer with 500, not 400."""
        if self.strict and mentions_strict(error):
            self.strict = False
            self.strict_dropped = (
                f"the server refused them: HTTP {error.status_code}, "
                f"{first_line(error.message)[:120]}"
            )
            return True
        return False

    def _tool(self) -> Any:
        # Built once per tool (tooling.function_tool); without strict, a copy drops the flag.
        return self.strict_tool if self.strict else as_definition(self.strict_tool, strict=False)

    def absorb(self, turn: Turn, completion: ChatCompletion) -> list[ToolCall] | None:
        """Take one model reply: None when the model has answered in text, else the tool
        calls to run (then `finish_tools`) before the next model call."""
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
            return None
        if len(calls) > MAX_CALLS_PER_REPLY:
            raise ModelError(
                f"The model asked for {len(calls)} queries in one reply; nl2sql runs at most "
                f"{MAX_CALLS_PER_REPLY}. Try a simpler question."
            )
        self.messages.append(assistant_with_calls(message))
        return [self._pending(turn, call) for call in calls]

    @staticmethod
    def _pending(turn: Turn, call: Any) -> ToolCall:
        function: Any = getattr(call, "function", None)  # custom tool calls have none
        run = ToolRun(call_id=call.id, arguments=getattr(function, "arguments", "") or "")
        turn.tool_runs.append(run)  # before it runs: a failure that ends the turn keeps it
        parsed = getattr(function, "parsed_arguments", None)
        return ToolCall(run, getattr(function, "name", None), parsed)

    def run_tools(self, turn: Turn, calls: list[ToolCall]) -> None:
        """Run the SQL (the blocking part: the async driver calls this in a worker thread).
        It touches only the turn's runs, never the messages."""
        for call in calls:
            self._run_tool(call, turn.question)

    def finish_tools(self, turn: Turn, calls: list[ToolCall]) -> None:
        """Give the model what came of its calls; stop after too many failures in a row."""
        for call in calls:
            content = tool_message(call.run, self.db.locations())
            message = {"role": "tool", "tool_call_id": call.run.call_id, "content": content}
            self.messages.append(message)
        turn.tools_mode = self.tools_mode()  # a call that broke the schema says strict was ignored
        self._check_error_streak(turn)

    def tools_mode(self) -> str:
        if not self.strict:
            return f"not strict ({self.strict_dropped})"
        if self.strict_ignored:
            return "strict requested, not enforced by the server (arguments broke the schema)"
        return "strict"

    def _run_tool(self, call: ToolCall, question: str) -> None:
        run, started = call.run, time.perf_counter()
        try:
            if call.name != TOOL_NAME:
                raise QueryValidationError(
                    f"Unknown tool '{call.name}'; the only tool is {TOOL_NAME}."
                )
            run.result = self.db.run(
                call.parsed if isinstance(call.parsed, BaseModel) else run.arguments,
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

    def step_limit(self) -> AgentStepLimitError:
        return AgentStepLimitError(
            f"The model made {self.max_steps} calls without answering; stopped. Try a simpler "
            "or more specific question."
        )


def emit(completion: ChatCompletion, on_text: TextCallback | None) -> ChatCompletion:
    """Hand a whole (unstreamed) answer to the text callback at once."""
    if on_text is not None and completion.choices and completion.choices[0].message.content:
        if not completion.choices[0].message.tool_calls:
            on_text(completion.choices[0].message.content)
    return completion


def parsed(raw: Any) -> ChatCompletion:
    """A strict reply with its tool arguments parsed by the SDK; read as sent when they do
    not parse (then the arguments go back to the model as an error)."""
    try:
        return raw.parse()  # type: ignore[no-any-return]
    except (ValidationError, ValueError):
        return ChatCompletion.model_validate_json(raw.text)


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
    return json.dumps(run.result.to_json(max_rows=TOOL_RESULT_ROWS, with_sql=False))


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


class Agent(_AgentBase):
    """Answers questions about the orders database; keeps the conversation for follow-ups.

    Example:
        >>> agent = Agent(model="offline")                        # doctest: +SKIP
        >>> agent.ask("How many orders were shipped to Canada last month?").answer  # doctest: +SKIP
    """

    def ask(self, question: str, *, on_text: TextCallback | None = None) -> Turn:
        """Answer one question; `on_text` receives the answer as it streams in."""
        core = self.conversation
        with core.question(question, self.question_seconds) as turn:
            while (calls := core.absorb(turn, self._complete(turn, on_text))) is not None:
                core.run_tools(turn, calls)
                core.finish_tools(turn, calls)
        self.turns.append(turn)
        return turn

    def _complete(self, turn: Turn, on_text: TextCallback | None) -> ChatCompletion:
        core = self.conversation
        with core.model_time(turn):
            try:
                return self._send(core.next_call(turn, on_text))
            except STRICT_REFUSALS as error:
                if not core.drop_strict(error):
                    raise
                return self._send(core.next_call(turn, on_text))

    def _send(self, call: ModelCall) -> ChatCompletion:
        reply = call.endpoint(self.backend.client)(**call.arguments)
        if call.reader is None:
            assert call.read is not None
            return call.read(reply)
        with reply:
            for event in reply:
                call.reader.add(event)
        return call.reader.completion()  # type: ignore[no-any-return]


class AsyncAgent(_AgentBase):
    """The same agent on ``AsyncOpenAI``, for web apps and other async code: the SQL runs in
    a worker thread, so a slow query never holds up the event loop."""

    asynchronous = True

    async def ask(self, question: str, *, on_text: TextCallback | None = None) -> Turn:
        """Answer one question; `on_text` receives the answer as it streams in."""
        core = self.conversation
        with core.question(question, self.question_seconds) as turn:
            while (calls := core.absorb(turn, await self._complete(turn, on_text))) is not None:
                await asyncio.to_thread(core.run_tools, turn, calls)  # copies the deadline
                core.finish_tools(turn, calls)
        self.turns.append(turn)
        return turn

    async def _complete(self, turn: Turn, on_text: TextCallback | None) -> ChatCompletion:
        core = self.conversation
        with core.model_time(turn):
            try:
                return await self._send(core.next_call(turn, on_text))
            except STRICT_REFUSALS as error:
                if not core.drop_strict(error):
                    raise
                return await self._send(core.next_call(turn, on_text))

    async def _send(self, call: ModelCall) -> ChatCompletion:
        reply = await call.endpoint(self.backend.client)(**call.arguments)
        if call.reader is None:
            assert call.read is not None
            return call.read(reply)
        async with reply:
            async for event in reply:
                call.reader.add(event)
        return call.reader.completion()  # type: ignore[no-any-return]


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
