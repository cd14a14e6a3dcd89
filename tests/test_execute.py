"""The executor: read-only connections, a time limit that cancels cleanly, clear database errors,
bound parameters on the wire and values written in only for display."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from query_builders import INJECTION, cond, field, query, table_counts
from sqlalchemy import Engine, event, func, select, text, true
from sqlalchemy import exc as sa_exc

from nl2sql import schema
from nl2sql.compiler import Compiled
from nl2sql.errors import DatabaseError, QueryTimeoutError
from nl2sql.execute import ReadOnlyDatabase, Result, run_query


@pytest.fixture
def reader(sample_url: str) -> Iterator[ReadOnlyDatabase]:
    """A fresh executor per test (tests here poke at its engine and time limit)."""
    db = ReadOnlyDatabase(sample_url)
    yield db
    db.close()


# -- read-only -------------------------------------------------------------------------------------

WRITES = [
    "INSERT INTO products (id, name, category, price) VALUES (9999, 'x', 'y', 1)",
    "UPDATE orders SET status = 'canceled'",
    "DELETE FROM order_items",
    "CREATE TABLE intruder (id integer)",
    "DROP TABLE orders",
]


@pytest.mark.parametrize("statement", WRITES, ids=lambda s: s.split()[0])
def test_executor_engine_cannot_write(
    reader: ReadOnlyDatabase, sample_engine: Engine, statement: str
) -> None:
    before = table_counts(sample_engine)
    with pytest.raises(sa_exc.DBAPIError) as caught:
        with reader.engine.connect() as connection:
            connection.execute(text(statement))
            connection.commit()
    message = str(caught.value.orig).lower()
    assert "read" in message and ("only" in message or "readonly" in message), message
    after = table_counts(sample_engine)
    assert after == before


def test_connections_are_locked_down(
    reader: ReadOnlyDatabase, sample_engine: Engine, sample_backend: str
) -> None:
    before = table_counts(sample_engine)
    if sample_backend == "sqlite":
        # query_only can be switched off again, but the file itself is opened with mode=ro.
        with pytest.raises(sa_exc.OperationalError, match="readonly"):
            with reader.engine.connect() as connection:
                assert connection.execute(text("PRAGMA query_only")).scalar_one() == 1
                connection.execute(text("PRAGMA query_only = OFF"))
                connection.execute(text(WRITES[0]))
                connection.commit()
    elif sample_backend == "duckdb":
        with reader.engine.connect() as connection:
            mode = connection.execute(text("SELECT current_setting('access_mode')")).scalar_one()
            assert mode == "read_only"
            with pytest.raises(sa_exc.DBAPIError, match="read-only"):
                connection.execute(text(WRITES[0]))
    else:
        with reader.engine.connect() as connection:
            assert connection.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            timeout = connection.execute(text("SHOW statement_timeout")).scalar_one()
            assert timeout in ("10s", "10000ms")
    assert table_counts(sample_engine) == before


def test_a_write_statement_through_execute_is_a_database_error(
    reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    before = table_counts(sample_engine)
    compiled = Compiled(
        statement=schema.order_items.delete(),  # type: ignore[arg-type]
        labels=["n"],
        kinds=["integer"],
        limit=1,
    )
    with pytest.raises(DatabaseError):
        reader.execute(compiled)
    assert table_counts(sample_engine) == before


def test_injection_attempts_change_nothing(reader: ReadOnlyDatabase, sample_engine: Engine) -> None:
    before = table_counts(sample_engine)
    for spec in [
        query("customers", [field("customers.id")], [cond("customers.name", "=", INJECTION)]),
        query(
            "customers", [field("customers.id")], [cond("customers.city", "contains", INJECTION)]
        ),
        query("customers", [field("customers.id")], [cond("customers.email", "in", [INJECTION])]),
    ]:
        assert reader.run(spec).rows == []
    after = table_counts(sample_engine)
    assert after == before


# -- time limit ------------------------------------------------------------------------------------


def runaway() -> Compiled:
    """A deliberately expensive query: order_items cross-joined with itself four times."""
    copies = [schema.order_items.alias(f"copy{i}") for i in range(4)]
    source = copies[0]
    for other in copies[1:]:
        source = source.join(other, true())  # type: ignore[assignment]
    statement = select(func.count()).select_from(source).where(copies[0].c.quantity > 0)
    return Compiled(statement=statement.limit(2), labels=["n"], kinds=["integer"], limit=1)


def test_time_limit_cancels_a_runaway_query(sample_url: str) -> None:
    with ReadOnlyDatabase(sample_url, timeout=0.2) as db:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError) as caught:
            db.execute(runaway())
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"cancelled after {elapsed:.1f} s"
        message = str(caught.value)
        assert "0.2 s" in message and "cancelled" in message
        # The connection is clean afterwards: the next query on the same executor works.
        result = db.run(query("orders", [field("orders.id", "count")]))
        assert result.rows[0][0] >= 2000


def test_time_limit_is_a_database_error_too(sample_url: str) -> None:
    with ReadOnlyDatabase(sample_url, timeout=0.1) as db:
        with pytest.raises(DatabaseError):
            db.execute(runaway())


def test_normal_queries_finish_well_inside_the_limit(sample_url: str) -> None:
    with ReadOnlyDatabase(sample_url, timeout=2) as db:
        result = db.run(
            query(
                "orders",
                [field("products.category"), field("orders.total_amount", "sum")],
                [cond("orders.ordered_at", ">=", "2024-06-01")],
            )
        )
        assert result.row_count > 0
        assert result.elapsed_ms < 2000


# -- database errors -------------------------------------------------------------------------------


def test_missing_sqlite_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "orders.sqlite3"
    with pytest.raises(DatabaseError) as caught:
        ReadOnlyDatabase(f"sqlite:///{missing}")
    message = str(caught.value)
    assert str(missing) in message and "does not exist" in message and "db init" in message
    assert not missing.exists() and not missing.parent.exists(), "nothing was created"


def test_missing_sqlite_file_through_run_query(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite3"
    with pytest.raises(DatabaseError, match="does not exist"):
        run_query(query("orders", [field("orders.id")]), str(missing))
    assert not missing.exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite3"
    bogus.write_text("these are not the orders you are looking for\n" * 10)
    with pytest.raises(DatabaseError, match="not an SQLite database"):
        ReadOnlyDatabase(f"sqlite:///{bogus}")


def test_an_empty_sqlite_file_has_no_tables(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with pytest.raises(DatabaseError) as caught:
        ReadOnlyDatabase(f"sqlite:///{empty}")
    assert "has no tables to query" in str(caught.value) and "nl2sql db init" in str(caught.value)


def test_unreachable_postgresql_server_is_a_clear_error() -> None:
    with pytest.raises(DatabaseError) as caught:  # reading its tables at start-up fails
        ReadOnlyDatabase("postgresql://nobody@127.0.0.1:1/orders")
    message = str(caught.value)
    assert "127.0.0.1:1" in message and "Cannot connect" in message
    assert "\n" not in message.strip()


# -- what is shown and what is sent ----------------------------------------------------------------


@pytest.fixture
def sent(reader: ReadOnlyDatabase) -> Iterator[list[tuple[str, Any]]]:
    """Every statement and parameter set the executor sends to the driver."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(reader.engine, "before_cursor_execute", capture)
    yield captured
    event.remove(reader.engine, "before_cursor_execute", capture)


def test_values_are_bound_parameters_and_written_in_only_for_display(
    reader: ReadOnlyDatabase, sent: list[tuple[str, Any]]
) -> None:
    spec = query(
        "orders",
        [field("orders.id")],
        [
            cond("customers.name", "=", "O'Brien 100%"),
            cond("customers.country", "in", ["Germany", "Japan"]),
            cond("orders.ordered_at", ">=", "2024-03-05"),
            cond("orders.total_amount", ">", 12.5),
        ],
        limit=7,
    )
    result = reader.run(spec)
    statements = [s for s, _ in sent if "orders" in s]
    assert len(statements) == 1
    statement, parameters = sent[-1]
    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
    for literal in ("O'Brien", "Germany", "Japan", "2024-03-05", "12.5"):
        assert literal not in statement
    assert "O'Brien 100%" in values and "Germany" in values and "Japan" in values
    assert 8 in values, "one row more than the page is asked for, as a parameter"
    # The SQL shown to people has the values written in (quotes doubled), and the page as asked.
    shown = result.sql
    assert "'O''Brien 100%'" in shown
    assert "'Germany'" in shown and "'Japan'" in shown
    assert "2024-03-05" in shown and "12.5" in shown
    assert "LIMIT 7" in shown and "LIMIT 8" not in shown
    assert "%%" not in shown


def test_displayed_sql_of_a_contains_shows_the_escaped_pattern(reader: ReadOnlyDatabase) -> None:
    spec = query("products", [field("products.name")], [cond("products.name", "contains", "50%")])
    shown = reader.run(spec).sql
    assert "'50/%'" in shown and "ESCAPE '/'" in shown


# -- results ---------------------------------------------------------------------------------------


def test_result_types_are_the_same_on_every_backend(reader: ReadOnlyDatabase) -> None:
    result = reader.run(
        query(
            "orders",
            [
                field("orders.id"),
                field("orders.status"),
                field("orders.ordered_at"),
                field("orders.expected_delivery_date"),
                field("orders.total_amount"),
                field("order_items.line_total"),
            ],
            [cond("orders.id", "=", 1)],
        )
    )
    assert result.columns == [
        "orders.id",
        "orders.status",
        "orders.ordered_at",
        "orders.expected_delivery_date",
        "orders.total_amount",
        "order_items.line_total",
    ]
    row = result.rows[0]
    assert [type(v) for v in row] == [int, str, datetime, date, float, float]


def test_result_to_json(reader: ReadOnlyDatabase) -> None:
    result = reader.run(
        query(
            "orders",
            [
                field("orders.ordered_at"),
                field("orders.expected_delivery_date"),
                field("orders.total_amount"),
            ],
            [cond("orders.id", "<=", 3)],
        )
    )
    payload = result.to_json()
    assert json.loads(json.dumps(payload)) == payload
    assert set(payload) == {"columns", "rows", "row_count", "truncated", "sql", "understood"}
    assert payload["understood"] == (
        "orders (order date, promised delivery date, order value), order id at most 3"
    )
    first = payload["rows"][0]
    assert isinstance(first[0], str) and datetime.fromisoformat(first[0])
    assert date.fromisoformat(first[1])
    assert isinstance(first[2], float)
    capped = result.to_json(max_rows=1)
    # Showing fewer rows is not truncation: the query itself returned every matching row.
    assert len(capped["rows"]) == 1 and capped["rows_shown"] == 1
    assert capped["truncated"] is False
    assert capped["row_count"] == result.row_count == 3


def test_run_records_the_parsed_query(reader: ReadOnlyDatabase) -> None:
    spec = query(
        "orders", [field("orders.status")], [cond("orders.status", "=", "Shipped")], limit=3
    )
    result: Result = reader.run(json.dumps(spec))
    assert result.query == spec  # the arguments as validated, ready to show or log
    assert {row[0] for row in result.rows} == {"shipped"}


def test_limit_cap_option(reader: ReadOnlyDatabase) -> None:
    result = reader.run(query("orders", [field("orders.id")], limit=500), limit_cap=20)
    assert result.row_count == 20 and result.truncated


# -- one compile per distinct call ---------------------------------------------------------


MY_ORDERS = query("orders", [field("orders.customer_id"), field("orders.id", "count")])
ALL_ORDERS = query("orders", [field("orders.id", "count")])


def test_a_repeated_call_is_compiled_once_and_answers_the_same(
    reader: ReadOnlyDatabase, sample_engine: Engine
) -> None:
    first = reader.run(ALL_ORDERS)
    first.query["table_name"] = "changed by the caller"  # a result's query is its own copy
    second = reader.run(json.dumps(ALL_ORDERS))
    third = reader.run(ALL_ORDERS)
    assert first.rows == second.rows == third.rows and third.query["table_name"] == "orders"
    assert len(reader._prepared_calls) == 2  # the dict and the JSON text of it
    with sample_engine.connect() as connection:
        orders = connection.execute(select(func.count()).select_from(schema.orders)).scalar()
    assert third.rows == [[orders]]


def test_the_cache_keeps_tenants_and_values_apart(reader: ReadOnlyDatabase) -> None:
    assert {row[0] for row in reader.run(MY_ORDERS, customer_id=13).rows} == {13}
    assert {row[0] for row in reader.run(MY_ORDERS, customer_id=7).rows} == {7}
    count = [field("orders.id", "count")]
    shipped = query("orders", count, [cond("orders.status", "=", "shipped")])
    pending = query("orders", count, [cond("orders.status", "=", "pending")])
    counts = reader.run(shipped).rows, reader.run(pending).rows, reader.run(shipped).rows
    assert counts[0] == counts[2] != counts[1]
    assert "'pending'" in reader.run(pending).sql and "'shipped'" in reader.run(shipped).sql


def test_arguments_that_are_not_plain_json_are_never_cached(reader: ReadOnlyDatabase) -> None:
    dated = query("orders", [field("orders.id", "count")], [cond("orders.ordered_at", ">=", "x")])
    dated["conditions"][0]["value"] = date(2026, 1, 1)
    with pytest.raises(Exception):  # noqa: B017 - whatever validation says, every time
        reader.run(dated)
    assert not reader._prepared_calls
