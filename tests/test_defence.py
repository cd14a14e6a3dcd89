"""Defence in depth: what holds when the compiler's scope is not the one in charge.

Raw SQL through `ReadOnlyDatabase.connect(customer_id)`: on PostgreSQL the SELECT-only role and
the row-level security policies keep a tenant to their own rows whatever the SQL (a hypothesis
property compares each random statement with the same statement over hand-scoped tables);
SQLite's authorizer and DuckDB's locked configuration refuse anything but reading; pooled
connections forget what a session changed; many tenants at once never see each other's rows.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import new_database_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_builders import cond, field, query
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

from nl2sql import database
from nl2sql.errors import ConfigError, NL2SQLError
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.row_security import READER_ROLE

ME = 13

# How each table's rows belong to a customer: the reference SQL scopes them by hand.
HAND_SCOPED = {
    "customers": "SELECT * FROM customers WHERE id = {c}",
    "orders": "SELECT * FROM orders WHERE customer_id = {c}",
    "order_items": (
        "SELECT * FROM order_items WHERE order_id IN "
        "(SELECT id FROM orders WHERE customer_id = {c})"
    ),
    "products": "SELECT * FROM products",  # shared: every tenant sees them all
}


def owner_rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


# -- PostgreSQL: the role and the policies ------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url(postgres_databases: Any) -> str:
    url = postgres_databases.create()
    database.init_database(url)  # migrates, loads, and secures
    return url


@pytest.fixture(scope="module")
def pg(pg_url: str) -> Iterator[ReadOnlyDatabase]:
    with ReadOnlyDatabase(pg_url) as db:
        yield db


def test_raw_count_through_the_door_is_the_tenants_own(pg: ReadOnlyDatabase, pg_url: str) -> None:
    with pg.connect(customer_id=ME) as connection:
        seen = connection.execute(text("SELECT count(*) FROM orders")).scalar_one()
        user = connection.execute(text("SELECT current_user")).scalar_one()
    mine = owner_rows(pg_url, "SELECT count(*) FROM orders WHERE customer_id = :c", c=ME)[0][0]
    everyone = owner_rows(pg_url, "SELECT count(*) FROM orders")[0][0]
    assert seen == mine and 0 < mine < everyone
    assert user == READER_ROLE


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO products (name, category, price) VALUES ('x', 'y', 1)",
        "UPDATE orders SET status = 'canceled'",
        "DELETE FROM order_items",
        "TRUNCATE orders",
        "CREATE TABLE stolen (x int)",
    ],
)
def test_any_write_fails_even_once_read_only_is_undone(
    pg: ReadOnlyDatabase, pg_url: str, statement: str
) -> None:
    before = owner_rows(pg_url, "SELECT count(*), min(status) FROM orders")
    with pg.connect(customer_id=ME) as connection:
        connection.exec_driver_sql("COMMIT")  # leave the read-only transaction...
        connection.exec_driver_sql("SET default_transaction_read_only = off")  # ...and the default
        connection.exec_driver_sql("COMMIT")  # so this one may write, as far as settings go
        assert connection.execute(text("SHOW transaction_read_only")).scalar_one() == "off"
        with pytest.raises(sa_exc.DBAPIError, match="permission denied|must be owner"):
            connection.exec_driver_sql(statement)
    assert owner_rows(pg_url, "SELECT count(*), min(status) FROM orders") == before


def test_without_the_setting_the_reader_sees_no_rows(pg_url: str) -> None:
    reader = create_engine(make_reader_url(pg_url))
    try:
        with reader.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM orders")).scalar_one() == 0
            assert connection.execute(text("SELECT count(*) FROM products")).scalar_one() > 0
    finally:
        reader.dispose()


def make_reader_url(url: str) -> str:
    from nl2sql.row_security import reader_url

    return reader_url(url)


def test_the_reader_url_itself_serves_tenants_only(pg_url: str) -> None:
    with ReadOnlyDatabase(make_reader_url(pg_url)) as db:
        assert db.run(query("orders", [field("orders.id", "count")]), customer_id=ME).rows
        with pytest.raises(ConfigError, match="sees one customer's rows at a time"):
            db.run(query("orders", [field("orders.id", "count")]))


def test_a_pooled_connection_forgets_what_the_last_session_changed(pg: ReadOnlyDatabase) -> None:
    with pg.connect(customer_id=3) as connection:
        first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.exec_driver_sql("COMMIT")
        connection.exec_driver_sql("SET default_transaction_read_only = off")
        connection.exec_driver_sql("SET statement_timeout = 0")
        connection.execute(text("SELECT set_config('nl2sql.customer_id', '3', false)"))
        connection.exec_driver_sql("SET application_name = 'left behind'")
    for _ in range(3):  # the pool hands the same connection back (checked by its pid)
        with pg.connect(customer_id=ME) as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            read_only = connection.execute(text("SHOW transaction_read_only")).scalar_one()
            default = connection.execute(text("SHOW default_transaction_read_only")).scalar_one()
            name = connection.execute(text("SHOW application_name")).scalar_one()
            owners = connection.execute(text("SELECT DISTINCT customer_id FROM orders")).all()
        if pid == first:
            break
    assert pid == first, "the pool did not reuse the connection; the test proves nothing"
    assert (read_only, default, name) == ("on", "on", "")
    assert owners == [(ME,)]


@pytest.fixture
def unsecured_pg_url(postgres_databases: Any) -> str:
    """A sample database migrated and loaded, but never secured (as before `db secure`)."""
    url = postgres_databases.create()
    engine = database.make_engine(url)
    try:
        database.upgrade(engine)
        database.load_sample_data(engine)
    finally:
        engine.dispose()
    return url


def test_the_self_check_refuses_tables_without_policies(unsecured_pg_url: str) -> None:
    with ReadOnlyDatabase(unsecured_pg_url) as db:
        assert db.run(query("orders", [field("orders.id", "count")])).rows  # unscoped: fine
        with pytest.raises(NL2SQLError, match="db secure") as refused:
            db.run(query("orders", [field("orders.id", "count")]), customer_id=ME)
    assert "no forced nl2sql_tenant row-level security policy" in str(refused.value) or (
        f"as {READER_ROLE}" in str(refused.value)  # a server where the role was never made
    )


def test_the_self_check_refuses_a_reader_that_can_write(postgres_databases: Any) -> None:
    url = postgres_databases.create()
    database.init_database(url)
    owner_engine = create_engine(url)
    with owner_engine.begin() as connection:
        connection.exec_driver_sql(f"GRANT INSERT ON orders TO {READER_ROLE}")
    owner_engine.dispose()
    with ReadOnlyDatabase(url) as db, pytest.raises(ConfigError, match="can write to orders"):
        db.run(query("orders", [field("orders.id", "count")]), customer_id=ME)
    assert database.init_database(url).changed is False  # db init again repairs it...
    with ReadOnlyDatabase(url) as db:  # ...and the check passes
        assert db.run(query("orders", [field("orders.id", "count")]), customer_id=ME).rows


# -- PostgreSQL: random raw SQL never reaches another tenant's rows -----------------------------

TENANT_TABLES = ["customers", "orders", "order_items"]
PREDICATES = {
    "customers": ["TRUE", "c.id <> {c}", "c.country = 'Brazil'", "c.id IN (1, 2, 3, {c})"],
    "orders": ["TRUE", "o.customer_id <> {c}", "o.status = 'shipped'", "o.total_amount > 100"],
    "order_items": ["TRUE", "i.quantity > 1", "i.order_id < 500", "i.unit_price < 50"],
}
ALIASES = {"customers": "c", "orders": "o", "order_items": "i"}
KEYS = {"customers": "c.id", "orders": "o.customer_id", "order_items": "i.order_id"}


@st.composite
def raw_statements(draw: Any) -> str:
    """A SELECT in one of the shapes hand-written SQL takes; tables appear as {name} slots."""
    table = draw(st.sampled_from(TENANT_TABLES))
    alias, key = ALIASES[table], KEYS[table]
    where = draw(st.sampled_from(PREDICATES[table]))
    source = f"{{{table}}} {alias}"
    shapes = [
        f"SELECT {key} FROM {source} WHERE {where}",
        f"SELECT count(*), count(DISTINCT {key}) FROM {source} WHERE {where}",
        f"SELECT (SELECT count(*) FROM {source} WHERE {where})",
        f"WITH x AS (SELECT {key} AS k FROM {source} WHERE {where}) SELECT k FROM x",
        f"SELECT {key}, count(*) OVER () FROM {source} WHERE {where}",
        f"SELECT {key} FROM {source} WHERE {where} UNION ALL SELECT id FROM {{customers}} cc",
        "SELECT p.id, i.order_id FROM {products} p LEFT JOIN {order_items} i "
        "ON i.product_id = p.id",
        "SELECT o.id, c.name FROM {orders} o JOIN {customers} c ON c.id = o.customer_id",
        f"SELECT {key} FROM {source} WHERE EXISTS (SELECT 1 FROM {{orders}} oo "
        f"WHERE oo.customer_id <> {{c}})",
        "SELECT max(oo.total_amount) FROM {orders} oo WHERE oo.customer_id = "
        "(SELECT max(cc.id) FROM {customers} cc)",
    ]
    return draw(st.sampled_from(shapes))


def raw(template: str, tables: dict[str, str], customer: int) -> str:
    return template.format(c=customer, **tables)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(template=raw_statements(), customer=st.sampled_from([1, 3, ME, 77, 150]))
def test_raw_sql_sees_what_it_would_over_the_tenants_rows_only(
    pg: ReadOnlyDatabase, pg_url: str, template: str, customer: int
) -> None:
    plain = {name: name for name in HAND_SCOPED}
    scoped = {name: f"({sql.format(c=customer)})" for name, sql in HAND_SCOPED.items()}
    with pg.connect(customer_id=customer) as connection:
        seen = Counter(
            tuple(row) for row in connection.execute(text(raw(template, plain, customer)))
        )
    expected = Counter(owner_rows(pg_url, raw(template, scoped, customer)))
    assert seen == expected


# -- SQLite and DuckDB: the door only reads -----------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "duckdb"])
def embedded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = new_database_url(request.param, tmp_path_factory.mktemp("embedded"), request)
    database.init_database(url)
    return url


SQLITE_REFUSED = [
    "PRAGMA query_only = OFF",
    "ATTACH DATABASE '{tmp}/other.db' AS other",
    "CREATE TABLE stolen (x)",
    "INSERT INTO products (name, category, price) VALUES ('x', 'y', 1)",
    "SELECT load_extension('/tmp/nothing')",
    "SELECT name FROM sqlite_master",
    "SELECT * FROM alembic_version",
]
DUCKDB_REFUSED = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "COPY orders TO '{tmp}/orders.csv'",
    "CREATE TABLE stolen (x INTEGER)",
]


def test_embedded_engines_refuse_all_but_reading(embedded_url: str, tmp_path: Path) -> None:
    refused = SQLITE_REFUSED if embedded_url.startswith("sqlite") else DUCKDB_REFUSED
    with ReadOnlyDatabase(embedded_url) as db:
        for statement in refused:
            with db.connect() as connection, pytest.raises(sa_exc.DBAPIError):
                connection.exec_driver_sql(statement.format(tmp=tmp_path))
        with db.connect() as connection:  # and reading still works
            assert connection.execute(text("SELECT count(*) FROM orders")).scalar_one() > 0
    assert not list(tmp_path.iterdir())  # nothing was written anywhere


def test_sqlite_authorizer_refuses_a_hidden_column(
    embedded_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not embedded_url.startswith("sqlite"):
        pytest.skip("the authorizer is SQLite's")
    monkeypatch.setenv("NL2SQL_HIDDEN_COLUMNS", "customers.email")
    with ReadOnlyDatabase(embedded_url) as db:
        with db.connect() as connection, pytest.raises(sa_exc.DBAPIError, match="prohibited"):
            connection.exec_driver_sql("SELECT email FROM customers")
        # compiled queries never read it, scoped or not
        spec = query("customers", [field("customers.name")], [cond("customers.id", "=", ME)])
        assert db.run(spec, customer_id=ME).row_count == 1


# -- many tenants at once -----------------------------------------------------------------------

CONCURRENCY_SECONDS = float(os.environ.get("NL2SQL_CONCURRENCY_SECONDS", "20"))
TENANTS = 32
# With no pause at all, 32 threads looping on a pool of 15 connections starve one of them
# past the 10 s pool wait (the pool does not queue fairly); people pause between questions.
THINK_SECONDS = 0.01


def test_many_tenants_at_once_never_see_each_other(sample_url: str) -> None:
    """32 tenants ask at once for CONCURRENCY_SECONDS (20 s a backend): every row they get
    back is their own, through the compiler, and through raw SQL on PostgreSQL."""
    raw_too = sample_url.startswith("postgresql")
    spec = query("order_items", [field("orders.customer_id"), field("order_items.id", "count")])
    problems: list[str] = []
    done = Counter[int]()
    stop = time.monotonic() + CONCURRENCY_SECONDS
    with ReadOnlyDatabase(sample_url) as db:
        tenants = [row[0] for row in owner_rows_for(db, TENANTS)]

        def ask(customer: int) -> None:
            try:
                while time.monotonic() < stop:
                    owners = {row[0] for row in db.run(spec, customer_id=customer).rows}
                    if raw_too:
                        with db.connect(customer_id=customer) as connection:
                            owners |= set(
                                connection.execute(
                                    text("SELECT DISTINCT customer_id FROM orders")
                                ).scalars()
                            )
                    if owners - {customer}:
                        problems.append(f"customer {customer} saw {sorted(owners - {customer})}")
                    done[customer] += 1
                    time.sleep(THINK_SECONDS)  # a person reads the answer before the next one
            except Exception as error:  # noqa: BLE001 - reported below, with the tenant
                problems.append(f"customer {customer}: {type(error).__name__}: {error}")

        threads = [threading.Thread(target=ask, args=(c,)) for c in tenants]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CONCURRENCY_SECONDS + 60)
    assert not problems, problems[:5]
    assert len(done) == TENANTS and min(done.values()) > 0


def owner_rows_for(db: ReadOnlyDatabase, how_many: int) -> list[tuple[Any, ...]]:
    """The customers with the most orders: each has rows to leak, if anything leaked."""
    with db.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT customer_id FROM orders GROUP BY customer_id "
                    "ORDER BY count(*) DESC, customer_id LIMIT :n"
                ),
                {"n": how_many},
            )
        ]


def test_an_exhausted_pool_is_one_clear_line(
    sample_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nl2sql import engines

    monkeypatch.setattr(engines, "POOL_WAIT", 0.5)
    with ReadOnlyDatabase(sample_url) as db:
        held = []
        try:
            for _ in range(15):  # the pool's 5 connections and its 10 extra
                context = db.connect()
                held.append(context)
                context.__enter__()
            with pytest.raises(NL2SQLError, match=r"stayed busy for 0.5 s; try again"):
                db.run(query("orders", [field("orders.id", "count")]))
        finally:
            for context in held:
                context.__exit__(None, None, None)
        assert db.run(query("orders", [field("orders.id", "count")])).rows  # and it recovers


def test_postgresql_refuses_a_hidden_column_itself(
    postgres_databases: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NL2SQL_HIDDEN_COLUMNS", "customers.email")
    url = postgres_databases.create()
    database.init_database(url)  # grants the reader every column but the hidden one
    with ReadOnlyDatabase(url) as db:
        with db.connect(customer_id=ME) as connection:
            with pytest.raises(sa_exc.DBAPIError, match="permission denied"):
                connection.exec_driver_sql("SELECT email FROM customers")
        with db.connect(customer_id=ME) as connection:
            assert connection.execute(text("SELECT count(*) FROM customers")).scalar_one() == 1
        spec = query("customers", [field("customers.name"), field("orders.id", "count")])
        assert db.run(spec, customer_id=ME).row_count == 1  # compiled queries never read it


def test_db_secure_without_a_tenant_key_says_to_pass_a_config(postgres_databases: Any) -> None:
    from typer.testing import CliRunner

    from nl2sql.cli import app

    url = postgres_databases.create()
    owner = create_engine(url)
    with owner.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    owner.dispose()
    done = CliRunner().invoke(app, ["db", "secure", "--db", url])
    assert done.exit_code == 2
    assert "has no tenant key" in done.output and "pass --config" in done.output
    assert len(done.output.strip().splitlines()) == 1
