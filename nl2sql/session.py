"""Terminal conversation: a spinner while the model thinks, the answer streamed, then the rows.

Used by `nl2sql ask` and `nl2sql chat`; the agent itself knows nothing about terminals.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from nl2sql import database, render
from nl2sql.agent import ANSWERED, Agent, Turn
from nl2sql.errors import NL2SQLError, RefusedError, first_line

CHAT_HELP = """Commands: /sql shows the last query's SQL, /reset starts a new conversation,
/quit (or Ctrl-D) leaves. Anything else is a question."""


def answer(agent: Agent, question: str, console: Console) -> Turn:
    """Ask with a spinner; stream the answer as it arrives; then show rows and SQL."""
    status = console.status("Thinking…", spinner="dots")
    status.start()
    streaming = False
    stream = render.PlainStream()

    def show(delta: str) -> None:
        nonlocal streaming
        if not streaming:
            status.stop()
            streaming = True
        console.out(stream.feed(delta), end="", highlight=False)

    try:
        turn = agent.ask(question, on_text=show)
    finally:
        status.stop()
    if turn.status != ANSWERED:
        return turn  # the caller reports the refusal as one line
    if not streaming:
        console.out(render.plain(turn.answer), highlight=False)
    else:
        console.out(stream.end())
    run = turn.last_result
    if run and run.result:
        console.print(render.shown(f"understood: {turn.understood}", "dim"))
        render.result(console, run.result)
    return turn


@contextmanager
def progress(console: Console, total: int) -> Iterator[Callable[[Any], None]]:
    """A progress bar on a terminal (nothing elsewhere); yields the callback a finished item
    calls. Safe to call from worker threads."""
    from rich.progress import (  # only `nl2sql test` shows one
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("running cases"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task("cases", total=total)
    with bar:
        yield lambda _item: bar.advance(task)


def print_error(console: Console, error: NL2SQLError, *, suffix: str = "") -> None:
    """One line: 'error:' (or 'refused:') and the message, never read as markup."""
    label = "refused:" if isinstance(error, RefusedError) else "error:"
    message = first_line(error, type(error).__name__)
    console.print(Text.assemble((label, "bold red"), " ", render.shown(message), suffix))


def error_object(error: NL2SQLError, question: str | None) -> dict[str, Any]:
    """The `--format json` failure object: the one-line error and the question asked."""
    payload: dict[str, Any] = {"error": first_line(error, type(error).__name__)}
    if question is not None:
        payload["question"] = question
    return payload


def report(console: Console, turn: Turn) -> None:
    """The -v view: each tool call, its SQL or error, timings and tokens."""
    for index, run in enumerate(turn.tool_runs, start=1):
        # Arguments, SQL and errors are data from the model or the database: never markup.
        console.print(
            Text.assemble(
                (f"tool call {index}", "bold"),
                f" ({run.elapsed_ms:.0f} ms): ",
                render.shown(run.arguments),
            )
        )
        if run.error:
            console.print(render.shown(f"  error: {run.error}", "red"))
        elif run.result:
            console.print(render.shown(f"  sql: {run.result.sql}"))
            console.print(render.shown(f"  understood: {run.result.understood}"))
            truncated = " (truncated)" if run.result.truncated else ""
            console.print(Text(f"  rows: {run.result.row_count}{truncated}"))
    tokens = (
        "unknown (the endpoint sent no usage)"
        if turn.prompt_tokens is None
        else f"{turn.prompt_tokens} prompt + {turn.completion_tokens} completion"
    )
    console.print(
        Text(
            f"model calls: {turn.model_calls}, model time: {turn.model_ms:.0f} ms, tokens: {tokens}"
        )
    )
    if turn.tools_mode:
        console.print(render.shown(f"tools: {turn.tools_mode}"))


def chat(agent: Agent, out: Console, err: Console, *, json_output: bool, verbose: bool) -> None:
    """Read questions until /quit or end of input; an error ends the question, not the chat."""
    read = _prompt_reader(agent.customer_id) if sys.stdin.isatty() else _line_reader()
    if sys.stdin.isatty():
        out.print(render.shown(f"nl2sql chat ({agent.backend.describe()}). {CHAT_HELP}"))
    for line in read:
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if not _command(text, agent, out):
                return
            continue
        try:
            if json_output:
                turn = agent.ask(text).raise_for_status()
                print(json.dumps(turn.to_json(), default=str), flush=True)
            else:
                turn = answer(agent, text, out).raise_for_status()
                if verbose:
                    report(err, turn)
        except NL2SQLError as error:
            if json_output:
                print(json.dumps(error_object(error, text)), flush=True)
            else:
                print_error(err, error, suffix=" (the conversation is kept; try again)")
            if verbose and error.turn is not None:
                report(err, error.turn)


def _command(text: str, agent: Agent, out: Console) -> bool:
    """Run a /command; False means leave the chat."""
    name = text.split()[0].lower()
    if name in ("/quit", "/exit", "/q"):
        return False
    if name == "/reset":
        agent.reset()
        out.print("New conversation.")
    elif name == "/sql":
        run = agent.turns[-1].last_result if agent.turns else None
        out.print(render.shown(run.result.sql if run and run.result else "No query has run yet."))
    else:
        out.print(CHAT_HELP)
    return True


def _line_reader() -> Iterator[str]:
    yield from sys.stdin


def history_path(customer_id: int | None) -> Path:
    """Where a chat's prompt history is kept: one file per tenant."""
    name = "chat_history" if customer_id is None else f"chat_history.customer-{customer_id}"
    return Path(database.default_sqlite_path()).with_name(name)


def _prompt_reader(customer_id: int | None) -> Iterator[str]:
    """Questions typed at a prompt with history: one history per tenant, so one customer's
    questions are never offered to another's session."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = history_path(customer_id)
    history.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    while True:
        try:
            yield prompt.prompt("? ")
        except (EOFError, KeyboardInterrupt):
            return
