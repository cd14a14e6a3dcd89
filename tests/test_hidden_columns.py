"""Hiding columns by configuration removes them from what the model sees and can ask for."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nl2sql import database
from nl2sql.cli import app
from nl2sql.query import HIDDEN_COLUMNS_ENV

runner = CliRunner()
EMAIL_QUERY = json.dumps(
    {
        "table_name": "customers",
        "columns": [{"column": "customers.email", "aggregate": None, "time_grain": None}],
        "conditions": [],
        "order_by": [],
        "limit": 1,
    }
)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('hidden') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


def test_hidden_column_leaves_the_tool_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "customers.email" in runner.invoke(app, ["schema"]).stdout
    monkeypatch.setenv(HIDDEN_COLUMNS_ENV, "customers.email, orders.canceled_at")
    shown = runner.invoke(app, ["schema"]).stdout
    assert "customers.email" not in shown and "orders.canceled_at" not in shown
    assert "customers.name" in shown


def test_hidden_column_cannot_be_queried(sample_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    visible = runner.invoke(app, ["run", EMAIL_QUERY, "--db", sample_db, "--format", "json"])
    assert visible.exit_code == 0 and "@example.com" in visible.stdout
    monkeypatch.setenv(HIDDEN_COLUMNS_ENV, "customers.email")
    hidden = runner.invoke(app, ["run", EMAIL_QUERY, "--db", sample_db, "--format", "json"])
    assert hidden.exit_code != 0
    assert "unknown column 'customers.email'" in json.loads(hidden.stdout)["error"]


def test_a_misspelt_hidden_column_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HIDDEN_COLUMNS_ENV, "customers.emial")
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 2
    assert "cannot hide unknown columns: customers.emial" in result.output


# -- the offline model sees what the tool shows, and under a scope only the tenant's values ------


def test_the_offline_model_never_reads_a_hidden_columns_values(
    sample_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HIDDEN_COLUMNS_ENV, "customers.city")
    done = runner.invoke(app, ["ask", "how many customers live in Tokyo?", "--db", sample_db])
    assert done.exit_code == 3
    assert "customers.city" in done.output and "Tokyo)" not in done.output


def test_a_scoped_model_cannot_match_another_customers_name(sample_db: str) -> None:
    from datetime import date

    from sqlalchemy import create_engine, text

    from nl2sql.agent import Agent

    engine = create_engine(sample_db)
    with engine.connect() as connection:
        other = connection.execute(text("SELECT name FROM customers WHERE id = 3")).scalar_one()
    engine.dispose()
    first, last = other.split(" ", 1)
    typo = f"{first[0]}{first[2]}{first[1]}{first[3:]} {last}"  # one swapped pair of letters
    with Agent(sample_db, model="offline", customer_id=13, today=date(2026, 11, 28)) as agent:
        turn = agent.ask(f"how many orders did {typo} place?")
    assert other not in turn.answer and other not in turn.understood
    with Agent(sample_db, model="offline", today=date(2026, 11, 28)) as agent:
        assert other in agent.ask(f"how many orders did {typo} place?").understood  # unscoped


@pytest.mark.parametrize(
    ("hidden", "also_hidden"),
    [
        # quantity 1: line_total is the price, and a one-line order's total is its line total
        ("order_items.unit_price", {"order_items.line_total", "orders.total_amount"}),
        ("customers.id", {"orders.customer_id"}),  # the same value, one join away
        ("orders.customer_id", {"customers.id"}),
        # the total is the sum of the line totals (declared: derived_from), and back
        ("orders.total_amount", {"order_items.line_total"}),
        ("order_items.line_total", {"orders.total_amount"}),
    ],
)
def test_a_hidden_column_hides_what_would_rebuild_it(hidden: str, also_hidden: set[str]) -> None:
    from nl2sql.query import build_tool, builtin_tool

    gone = set(builtin_tool().columns) - set(build_tool(hidden=[hidden]).columns)
    assert gone == {hidden} | also_hidden


def test_derived_from_an_unknown_column_is_a_clear_error() -> None:
    from sqlalchemy import Column, Integer, MetaData, Table

    from nl2sql.catalog import Catalog, without
    from nl2sql.errors import ConfigError

    metadata = MetaData()
    Table("t", metadata, Column("a", Integer, info={"derived_from": ("t.nope",)}))
    with pytest.raises(ConfigError, match=r"t.a is derived_from unknown columns \(t.nope\)"):
        without(Catalog(metadata), ["t.a"])
