"""`nl2sql run SPEC` (JSON text, @file or -) and `nl2sql schema`, through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from query_builders import INJECTION, cond, field, query, sort, table_counts
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from nl2sql.cli import app
from nl2sql.tooling import tool_definition

runner = CliRunner()


def spec_json(
    table: str = "orders",
    columns: list[tuple[str, str | None]] | None = None,
    conditions: list[tuple[str, str, Any]] | None = None,
    limit: int | None = None,
) -> str:
    """Query arguments as JSON text; by default the number of orders of each status."""
    if columns is None:
        fields = [field("orders.status"), field("orders.id", "count")]
        order_by = [sort("orders.status")]
    else:
        fields, order_by = [field(c, a) for c, a in columns], []
    wheres = [cond(c, o, v) for c, o, v in conditions or []]
    return json.dumps(query(table, fields, wheres, order_by, limit))


def status_counts(engine: Engine, customer: int | None = None) -> list[list[Any]]:
    sql = "SELECT status, count(*) FROM orders"
    if customer is not None:
        sql += " WHERE customer_id = :c"
    sql += " GROUP BY status ORDER BY status"
    with engine.connect() as connection:
        return [list(row) for row in connection.execute(text(sql), {"c": customer})]


def run_json(*args: str, stdin: str | None = None) -> tuple[int, dict[str, Any], str]:
    result = runner.invoke(app, ["run", *args, "--format", "json"], input=stdin)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"one JSON object on stdout, got: {result.stdout!r}"
    return result.exit_code, json.loads(lines[0]), result.output


# -- good input ------------------------------------------------------------------------------------


def test_json_text_argument(sample_url: str, sample_engine: Engine) -> None:
    spec = spec_json()
    code, payload, _ = run_json(spec, "--db", sample_url)
    assert code == 0
    assert set(payload) == {
        "query",
        "sql",
        "understood",
        "columns",
        "rows",
        "row_count",
        "truncated",
    }
    assert payload["understood"] == "count of orders, grouped by status, sorted by status A to Z"
    assert payload["query"] == json.loads(spec)
    assert payload["columns"] == ["orders.status", "count(orders.id)"]
    assert payload["rows"] == status_counts(sample_engine)
    assert payload["row_count"] == 6 and payload["truncated"] is False
    assert payload["sql"].startswith("SELECT") and "GROUP BY" in payload["sql"]


def test_spec_from_a_file(sample_url: str, sample_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(spec_json())
    code, payload, _ = run_json(f"@{path}", "--db", sample_url)
    assert code == 0
    assert payload["rows"] == status_counts(sample_engine)


def test_spec_from_stdin(sample_url: str, sample_engine: Engine) -> None:
    code, payload, _ = run_json("-", "--db", sample_url, stdin=spec_json())
    assert code == 0
    assert payload["rows"] == status_counts(sample_engine)


def test_customer_scope(sample_url: str, sample_engine: Engine) -> None:
    with sample_engine.connect() as connection:
        customer = connection.execute(
            text("SELECT customer_id FROM orders GROUP BY customer_id ORDER BY count(*) DESC")
        ).first()[0]  # type: ignore[index]
    code, payload, _ = run_json(spec_json(), "--db", sample_url, "--customer", str(customer))
    assert code == 0
    assert payload["rows"] == status_counts(sample_engine, customer)
    assert sum(r[1] for r in payload["rows"]) < sum(r[1] for r in status_counts(sample_engine))


def test_rows_are_plain_json_values(sample_url: str) -> None:
    spec = spec_json(
        columns=[
            ("orders.ordered_at", None),
            ("orders.expected_delivery_date", None),
            ("orders.total_amount", None),
        ],
        conditions=[("orders.id", "=", 1)],
    )
    code, payload, _ = run_json(spec, "--db", sample_url)
    assert code == 0
    ordered_at, expected, amount = payload["rows"][0]
    assert isinstance(ordered_at, str) and ordered_at.startswith("20")
    assert isinstance(expected, str) and len(expected) == 10
    assert isinstance(amount, float)


def test_truncated_flag(sample_url: str) -> None:
    code, payload, _ = run_json(
        spec_json(columns=[("orders.id", None)], limit=5), "--db", sample_url
    )
    assert code == 0
    assert payload["row_count"] == 5 and payload["truncated"] is True


def test_text_format(sample_url: str, sample_engine: Engine) -> None:
    result = runner.invoke(app, ["run", spec_json(), "--db", sample_url])
    assert result.exit_code == 0, result.output
    assert "count(orders.id)" in result.stdout
    for status, count in status_counts(sample_engine):
        assert status in result.stdout and str(count) in result.stdout
    assert "6 of 6 rows" in result.stdout
    assert "SELECT" in result.stdout


# -- bad input -------------------------------------------------------------------------------------

BAD_SPECS = {
    "malformed JSON": ('{"table_name": "orders", "columns": [', "not valid JSON"),
    "unknown column": (
        spec_json(columns=[("orders.amount", None)]),
        "unknown column 'orders.amount'",
    ),
    "bad status": (
        spec_json(conditions=[("orders.status", "=", "deliverd")]),
        "Did you mean 'delivered'",
    ),
    "injection attempt as a status": (
        spec_json(conditions=[("orders.status", "=", INJECTION)]),
        "is not a valid orders.status",
    ),
    "injection attempt as a table": (
        spec_json(table="orders; DROP TABLE orders"),
        "table_name",
    ),
    "injection attempt as a column": (
        spec_json(columns=[("orders.id; DROP TABLE orders", None)]),
        "unknown column",
    ),
    "a string for a number": (
        spec_json(conditions=[("orders.total_amount", ">", "lots")]),
        "orders.total_amount is a number",
    ),
    "zero limit": (spec_json(limit=0), "limit"),
}


@pytest.mark.parametrize(("spec", "expected"), list(BAD_SPECS.values()), ids=list(BAD_SPECS))
def test_bad_spec_gives_a_json_error(
    sample_url: str, sample_engine: Engine, spec: str, expected: str
) -> None:
    before = table_counts(sample_engine)
    code, payload, output = run_json(spec, "--db", sample_url)
    assert code != 0
    assert list(payload) == ["error"]
    assert expected in payload["error"]
    assert "\n" not in payload["error"]
    assert "Traceback" not in output
    assert table_counts(sample_engine) == before


@pytest.mark.parametrize(("spec", "expected"), list(BAD_SPECS.values()), ids=list(BAD_SPECS))
def test_bad_spec_in_text_format(sample_url: str, spec: str, expected: str) -> None:
    result = runner.invoke(app, ["run", spec, "--db", sample_url])
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "error:" in result.stderr and expected in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_injection_is_harmless_where_it_is_a_valid_value(
    sample_url: str, sample_engine: Engine
) -> None:
    before = table_counts(sample_engine)
    spec = spec_json(
        columns=[("customers.name", None)], conditions=[("customers.name", "=", INJECTION)]
    )
    code, payload, _ = run_json(spec, "--db", sample_url)
    assert code == 0 and payload["rows"] == []
    assert table_counts(sample_engine) == before


def test_unreadable_spec_file(sample_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    code, payload, output = run_json(f"@{missing}", "--db", sample_url)
    assert code != 0
    assert list(payload) == ["error"]
    assert str(missing) in payload["error"] and "Cannot read" in payload["error"]
    assert "Traceback" not in output


def test_spec_file_that_is_a_folder(sample_url: str, tmp_path: Path) -> None:
    code, payload, _ = run_json(f"@{tmp_path}", "--db", sample_url)
    assert code != 0 and "Cannot read" in payload["error"]


def test_empty_stdin(sample_url: str) -> None:
    code, payload, _ = run_json("-", "--db", sample_url, stdin="")
    assert code != 0 and "JSON" in payload["error"]


def test_missing_database_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite3"
    code, payload, output = run_json(spec_json(), "--db", str(missing))
    assert code != 0
    assert "does not exist" in payload["error"]
    assert "Traceback" not in output
    assert not missing.exists()


def test_validation_errors_exit_with_code_2(sample_url: str) -> None:
    code, _, _ = run_json('{"table_name": ', "--db", sample_url)
    assert code == 2


# -- schema ----------------------------------------------------------------------------------------


def test_schema_prints_the_tool_definition() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == tool_definition()
