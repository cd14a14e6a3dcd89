"""How results look in a terminal: a table of rows and the SQL behind them.

Every string from the database or a model is data: shown as plain text (never Rich markup) with
terminal control sequences removed, so a stored name cannot clear the screen, write the
clipboard or become a link.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nl2sql.execute import Result, json_value

TERMINAL_ROWS = 50

# Escape sequences (CSI ..., OSC ... BEL/ST, and two-byte ESC forms), then any other control
# character but newline and tab, and the bidirectional overrides that reorder text on screen.
ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, links, clipboard writes
    r"|\x1b[@-Z\\-_]"  # two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # the one-byte CSI
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """`text` with terminal control sequences and characters removed."""
    return CONTROL.sub("", ESCAPE_SEQUENCE.sub("", text))


class PlainStream:
    """`plain` for text that arrives in pieces: an escape sequence split across two pieces is
    held back until it ends (or the stream does), so none of it reaches the terminal."""

    HOLD = 256  # longest unfinished sequence held; longer ones are cut as they stand

    def __init__(self) -> None:
        self.held = ""

    def feed(self, piece: str) -> str:
        text = self.held + piece
        start = max(text.rfind("\x1b"), text.rfind("\x9b"))
        tail = text[start:] if start >= 0 else ""
        if tail and len(tail) < self.HOLD and not ESCAPE_SEQUENCE.fullmatch(tail):
            self.held, text = tail, text[:start]
        elif tail and tail.startswith("\x1b]") and not tail.endswith(("\x07", "\x1b\\")):
            self.held, text = (tail, text[:start]) if len(tail) < self.HOLD else ("", text)
        else:
            self.held = ""
        return plain(text)

    def end(self) -> str:
        text, self.held = self.held, ""
        return plain(text)


def shown(text: str, style: str = "") -> Text:
    """Data for the terminal: plain, and a Text, so `[...]` is never read as markup."""
    return Text(plain(text), style=style)


def result(console: Console, outcome: Result, *, show_sql: bool = True) -> None:
    table = Table(show_header=True, header_style="bold", show_lines=False)
    for name in outcome.columns:
        table.add_column(shown(name), overflow="fold")
    for row in outcome.rows[:TERMINAL_ROWS]:
        table.add_row(*(shown("" if v is None else str(json_value(v))) for v in row))
    console.print(table)
    count = min(len(outcome.rows), TERMINAL_ROWS)
    more = " (more rows exist; narrow the question or raise the limit)" if outcome.truncated else ""
    console.print(f"{count} of {outcome.row_count} rows{more}", style="dim", highlight=False)
    if show_sql and console.is_terminal:
        from rich.syntax import Syntax  # with Pygments: only a terminal shows colours

        console.print(Syntax(plain(outcome.sql), "sql", word_wrap=True), soft_wrap=False)
    elif show_sql:  # piped or captured: plain text, never cropped to a terminal width
        console.print(shown(outcome.sql), highlight=False, soft_wrap=True)
