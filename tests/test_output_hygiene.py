"""Issue 10's reproductions that this change closes: text from the database or a model is data
on the terminal (never markup, no control sequences), out-of-range dates are a clear error, and
an unsupported database URL is one line. Every case runs the real CLI on a real SQLite file."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nl2sql import database
from nl2sql.cli import app
from nl2sql.render import PlainStream, plain

runner = CliRunner()

HOSTILE_NAMES = {
    1: "[/]",
    2: "[link=https://evil.example]Click me[/link]",
    4: "Bad\x1b[2J\x1b]52;c;aGVsbG8=\x07Name\u202e",
}


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample, with customer names that are markup and terminal escape sequences."""
    folder = tmp_path_factory.mktemp("hostile")
    clean = folder / "clean.sqlite3"
    database.init_database(f"sqlite:///{clean}")
    path = folder / "hostile.sqlite3"
    shutil.copy(clean, path)
    with sqlite3.connect(path) as connection:
        for customer, name in HOSTILE_NAMES.items():
            connection.execute("UPDATE customers SET name = ? WHERE id = ?", (name, customer))
    return f"sqlite:///{path}"


def names_spec() -> str:
    return json.dumps(
        {
            "table_name": "customers",
            "columns": [{"column": "customers.name", "aggregate": None, "time_grain": None}],
            "conditions": [
                {"column": "customers.id", "aggregate": None, "operator": "<", "value": 5}
            ],
            "order_by": [],
            "limit": None,
        }
    )


def assert_clean(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "Traceback" not in output


def test_stored_markup_and_escapes_are_shown_as_text(hostile_db: str) -> None:
    done = runner.invoke(app, ["run", names_spec(), "--db", hostile_db])
    assert done.exit_code == 0, done.output
    assert_clean(done.output)
    assert "[/]" in done.output and "[link=https://evil.example]Click me[/link]" in done.output
    assert "BadName" in done.output


def test_the_offline_answer_and_chat_survive_hostile_names(hostile_db: str) -> None:
    asked = runner.invoke(app, ["ask", "list the customers", "--db", hostile_db])
    assert asked.exit_code == 0, asked.output
    assert_clean(asked.output)
    chat = runner.invoke(
        app, ["chat", "--db", hostile_db], input="list the customers\nhow many customers?\n"
    )
    assert chat.exit_code == 0, chat.output
    assert_clean(chat.output)
    assert "There are 150 customers" in chat.output  # the chat went on after the hostile rows


@pytest.mark.parametrize("value", ["[/]", "[bold]x[/bold]", "\x1b[2Jx"])
def test_a_value_or_flag_that_looks_like_markup(hostile_db: str, value: str) -> None:
    spec = json.loads(names_spec())
    spec["conditions"] = [
        {"column": "customers.name", "aggregate": None, "operator": "=", "value": value}
    ]
    done = runner.invoke(app, ["run", json.dumps(spec), "--db", hostile_db])
    assert done.exit_code == 0, done.output
    assert_clean(done.output)
    flag = runner.invoke(app, ["ask", "how many orders?", "--db", hostile_db, "--customer", value])
    assert flag.exit_code == 2 and flag.output.count("\n") == 1
    assert_clean(flag.output)


def test_the_last_representable_day_is_a_day_and_beyond_it_is_an_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orders.sqlite3'}"
    database.init_database(url)
    spec = {
        "table_name": "orders",
        "columns": [{"column": "orders.id", "aggregate": "count", "time_grain": None}],
        "conditions": [
            {
                "column": "orders.ordered_at",
                "aggregate": None,
                "operator": "=",
                "value": "9999-12-31",
            }
        ],
        "order_by": [],
        "limit": None,
    }
    done = runner.invoke(app, ["run", json.dumps(spec), "--db", url, "--format", "json"])
    assert done.exit_code == 0 and json.loads(done.output)["rows"] == [[0]]
    spec["conditions"][0]["value"] = "9999-12-31T23:00:00-05:00"
    done = runner.invoke(app, ["run", json.dumps(spec), "--db", url, "--format", "json"])
    assert done.exit_code == 2
    assert "outside the dates a timestamp can hold" in json.loads(done.output)["error"]


@pytest.mark.parametrize("command", [["db", "init"], ["ask", "hi"], ["run", "{}"]])
def test_an_unsupported_database_is_one_line_naming_the_supported(command: list[str]) -> None:
    done = runner.invoke(app, [*command, "--db", "mysql://root:secret@localhost/shop"])
    assert done.exit_code == 2, done.output
    assert "supported engines: duckdb, postgresql, sqlite" in done.output
    assert "secret" not in done.output and "Traceback" not in done.output


def test_plain_removes_control_sequences_and_keeps_text() -> None:
    assert plain("Bad\x1b[2J\x1b]52;c;aGVsbG8=\x07Name\u202e x\x00y\ttab\nline") == (
        "BadName xy\ttab\nline"
    )


def test_an_escape_sequence_split_across_streamed_pieces_is_held_back() -> None:
    text = "Bad\x1b[2J\x1b]52;c;aGVsbG8=\x07Name and \x1b[31mred\x1b[0m"
    for size in (1, 2, 3, 5, 8):
        stream = PlainStream()
        pieces = [stream.feed(text[i : i + size]) for i in range(0, len(text), size)]
        assert "".join(pieces) + stream.end() == "BadName and red"


def test_a_nul_in_a_text_value_is_refused_not_a_match_for_everything(hostile_db: str) -> None:
    spec = json.loads(names_spec())
    spec["conditions"] = [
        {"column": "customers.name", "aggregate": None, "operator": "contains", "value": "\x00"}
    ]
    done = runner.invoke(app, ["run", json.dumps(spec), "--db", hostile_db])
    assert done.exit_code == 2 and "NUL character" in done.output


def test_credentials_in_a_model_endpoint_are_masked() -> None:
    from nl2sql.models.backends import masked

    assert masked("http://user:pw@127.0.0.1:9/v1") == "http://***@127.0.0.1:9/v1"
    assert masked("https://example.openai.azure.com/") == "https://example.openai.azure.com/"


def test_db_init_does_not_create_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "deeper" / "orders.sqlite3"
    done = runner.invoke(app, ["db", "init", "--db", str(target)])
    assert done.exit_code == 2 and "does not exist" in done.output
    assert not (tmp_path / "missing").exists()


def test_chat_history_is_kept_per_tenant() -> None:
    from nl2sql.session import history_path

    assert history_path(None).name == "chat_history"
    assert history_path(13).name == "chat_history.customer-13"
    assert history_path(13).parent == history_path(None).parent


def test_the_model_is_never_told_where_the_database_lives(hostile_db: str) -> None:
    from nl2sql.agent import ToolRun, tool_message
    from nl2sql.execute import ReadOnlyDatabase

    with ReadOnlyDatabase(hostile_db) as db:
        path = str(database.sqlite_path(db.url))
        run = ToolRun("c1", "{}", error=f"Database error on sqlite:///{path}: disk I/O error")
        sent = json.loads(tool_message(run, db.locations()))["error"]
    assert path not in sent and "hostile.sqlite3" not in sent
    assert sent == "Database error on the database: disk I/O error"


def test_an_unexpected_failure_at_the_tool_boundary_is_one_line(hostile_db: str) -> None:
    from nl2sql.errors import NL2SQLError
    from nl2sql.execute import ReadOnlyDatabase

    with ReadOnlyDatabase(hostile_db) as db:
        db.execute = None  # type: ignore[assignment, method-assign]  # a bug inside the boundary
        with pytest.raises(NL2SQLError) as caught:
            db.run(json.loads(names_spec()))
    message = str(caught.value)
    assert "This is a bug" in message and "TypeError" in message and "\n" not in message
