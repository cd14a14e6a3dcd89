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
