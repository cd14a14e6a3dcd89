"""Terminal conversation: a spinner while the model thinks, the answer streamed, then the rows.

Used by `nl2sql ask` and `nl2sql chat`; the agent itself knows nothing about terminals.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from nl2sql import database, render
from nl2sql.agent import Agent, Turn
from nl2sql.errors import NL2SQLError, first_line

CHAT_HELP = """Commands: /sql shows the last query's SQL, /reset starts a new conversation,
/quit (or Ctrl-D) leaves. Anything else is a question."""


def answer(agent: Agent, question: str, console: Console) -> Turn:
    """Ask with a spinner; stream the answer as it arrives; then show rows and SQL."""
    status = console.status("Thinking…", spinner="dots")
    status.start()
    streaming = False

    def show(delta: str) -> None:
        nonlocal streaming
        if not streaming:
            status.stop()
            streaming = True
        console.out(delta, end="", highlight=False)

    try:
        turn = agent.ask(question, on_text=show)
    finally:
        status.stop()
    console.out("")
    run = turn.last_result
    if run and run.result:
        render.result(console, run.result)
    return turn


def report(console: Console, turn: Turn) -> None:
    """The -v view: each tool call, its SQL or error, timings and tokens."""
    for index, run in enumerate(turn.tool_runs, start=1):
        console.print(
            f"[bold]tool call {index}[/] ({run.elapsed_ms:.0f} ms): {run.arguments}",
            highlight=False,
        )
        if run.error:
            console.print(f"  error: {run.error}", style="red", highlight=False)
        elif run.result:
            console.print(f"  sql: {run.result.sql}", highlight=False)
            console.print(
                f"  rows: {run.result.row_count}{' (truncated)' if run.result.truncated else ''}"
            )
    console.print(
        f"model calls: {turn.model_calls}, model time: {turn.model_ms:.0f} ms, tokens: "
        f"{turn.prompt_tokens} prompt + {turn.completion_tokens} completion",
        highlight=False,
    )


def chat(agent: Agent, out: Console, err: Console, *, json_output: bool, verbose: bool) -> None:
    """Read questions until /quit or end of input; an error ends the question, not the chat."""
    read = _prompt_reader() if sys.stdin.isatty() else _line_reader()
    if sys.stdin.isatty():
        out.print(f"nl2sql chat ({agent.backend.describe()}). {CHAT_HELP}", highlight=False)
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
                print(json.dumps(agent.ask(text).to_json(), default=str), flush=True)
            else:
                turn = answer(agent, text, out)
                if verbose:
                    report(err, turn)
        except NL2SQLError as error:
            message = first_line(error, type(error).__name__)
            if json_output:
                print(json.dumps({"error": message}), flush=True)
            else:
                err.print(
                    f"[bold red]error:[/] {message} (the conversation is kept; try again)",
                    highlight=False,
                )


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
        out.print(
            run.result.sql if run and run.result else "No query has run yet.", highlight=False
        )
    else:
        out.print(CHAT_HELP)
    return True


def _line_reader() -> Iterator[str]:
    yield from sys.stdin


def _prompt_reader() -> Iterator[str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory

    history = Path(database.default_sqlite_path()).with_name("chat_history")
    history.parent.mkdir(parents=True, exist_ok=True)
    prompt: PromptSession[str] = PromptSession(history=FileHistory(str(history)))
    while True:
        try:
            yield prompt.prompt("? ")
        except (EOFError, KeyboardInterrupt):
            return
