"""`nl2sql db init` and `db generate`: idempotent, clear about where, clean on bad input."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from nl2sql import schema
from nl2sql.cli import app

runner = CliRunner()


def orders_count(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(schema.orders)).scalar_one()
    engine.dispose()
    return count


def test_init_twice_changes_nothing_the_second_time(blank_url: str) -> None:
    first = runner.invoke(app, ["db", "init", "--db", blank_url])
    assert first.exit_code == 0, first.output
    assert "Sample data loaded" in first.output
    loaded = orders_count(blank_url)
    assert loaded >= 2000
    second = runner.invoke(app, ["db", "init", "--db", blank_url])
    assert second.exit_code == 0
    assert "nothing changed" in second.output
    assert orders_count(blank_url) == loaded


def test_default_database_is_created_in_the_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("NL2SQL_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["db", "init"])
    assert result.exit_code == 0, result.output
    expected = tmp_path / "nl2sql" / "orders.sqlite3"
    assert str(expected) in result.output
    assert orders_count(f"sqlite:///{expected}") >= 2000


def test_environment_variable_chooses_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "from_env.sqlite3"
    monkeypatch.setenv("NL2SQL_DATABASE_URL", f"sqlite:///{target}")
    assert runner.invoke(app, ["db", "init"]).exit_code == 0
    assert target.exists()


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n" * 10)
    result = runner.invoke(app, ["db", "init", "--db", str(notes)])
    assert result.exit_code != 0
    assert "is not an SQLite database" in result.output
    assert "Traceback" not in result.output
    assert notes.read_text() == "shopping list\n" * 10  # nothing written


def test_unreachable_server() -> None:
    result = runner.invoke(app, ["db", "init", "--db", "postgresql://nobody@127.0.0.1:9/orders"])
    assert result.exit_code != 0
    assert "Cannot connect to postgresql+psycopg://nobody@127.0.0.1:9/orders" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_malformed_url() -> None:
    result = runner.invoke(app, ["db", "init", "--db", "nosuchdriver://x/y"])
    assert result.exit_code != 0
    assert "nosuchdriver" in result.output
    assert "Traceback" not in result.output


def test_database_holding_other_tables_is_left_alone(blank_url: str) -> None:
    engine = create_engine(blank_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    result = runner.invoke(app, ["db", "init", "--db", blank_url])
    assert result.exit_code != 0
    assert "already holds tables nl2sql did not create (invoices)" in result.output
    engine = create_engine(blank_url)
    with engine.connect() as connection:
        tables = set(connection.dialect.get_table_names(connection))
    engine.dispose()
    assert tables == {"invoices"}


def test_generate_writes_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "bench.sqlite3"
    result = runner.invoke(app, ["db", "generate", "--sqlite", str(path), "--orders", "5000"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM orders").fetchone()[0] == 5000


def test_console_script_is_installed() -> None:
    executable = shutil.which("nl2sql")
    assert executable, "pip install -e . should put nl2sql on PATH"
    done = subprocess.run([executable, "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    assert "db" in done.stdout
