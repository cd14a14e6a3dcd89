"""How results look in a terminal: a table of rows and the SQL behind them."""

from __future__ import annotations

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from nl2sql.execute import Result, json_value

TERMINAL_ROWS = 50


def result(console: Console, outcome: Result, *, show_sql: bool = True) -> None:
    table = Table(show_header=True, header_style="bold", show_lines=False)
    for name in outcome.columns:
        table.add_column(name, overflow="fold")
    for row in outcome.rows[:TERMINAL_ROWS]:
        table.add_row(*("" if v is None else str(json_value(v)) for v in row))
    console.print(table)
    shown = min(len(outcome.rows), TERMINAL_ROWS)
    more = " (more rows exist; narrow the question or raise the limit)" if outcome.truncated else ""
    console.print(f"{shown} of {outcome.row_count} rows{more}", style="dim", highlight=False)
    if show_sql and console.is_terminal:
        console.print(Syntax(outcome.sql, "sql", word_wrap=True), soft_wrap=False)
    elif show_sql:  # piped or captured: plain text, never cropped to a terminal width
        console.print(outcome.sql, highlight=False, markup=False, soft_wrap=True)
