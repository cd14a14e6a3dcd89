"""Any orders database: reflection, the config file, the join graph and the tenant scope derived
from it, on small databases written here by hand (real SQLite, PostgreSQL and DuckDB files)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from query_builders import cond, field, query, reference_engine
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from nl2sql import database
from nl2sql.catalog import builtin_catalog
from nl2sql.checks import catalog_problems
from nl2sql.cli import app
from nl2sql.config import load_config, parse_config
from nl2sql.errors import ConfigError, QueryValidationError
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.reflect import load_catalog

# A shop nl2sql did not make: its own names, a CHECK list, a table that reaches the customer
# through two steps (returns -> purchase_lines -> purchases -> clients), a lookup table every
# tenant shares (warehouses) and a log table that reaches no customer at all.
SHOP_DDL = [
    "CREATE TABLE clients (client_no INTEGER PRIMARY KEY, full_name VARCHAR(80) NOT NULL,"
    " country VARCHAR(40) NOT NULL)",
    "CREATE TABLE warehouses (code VARCHAR(8) PRIMARY KEY, city VARCHAR(40) NOT NULL)",
    "CREATE TABLE purchases (purchase_no INTEGER PRIMARY KEY, client_no INTEGER NOT NULL"
    " REFERENCES clients (client_no), state VARCHAR(10) NOT NULL"
    " CHECK (state IN ('open', 'paid', 'void')), placed_on DATE NOT NULL,"
    " total NUMERIC(10, 2) NOT NULL)",
    "CREATE TABLE purchase_lines (purchase_no INTEGER NOT NULL REFERENCES purchases"
    " (purchase_no), line_no INTEGER NOT NULL, warehouse VARCHAR(8) NOT NULL REFERENCES"
    " warehouses (code), amount NUMERIC(10, 2) NOT NULL, PRIMARY KEY (purchase_no, line_no))",
    "CREATE TABLE returns (return_no INTEGER PRIMARY KEY, purchase_no INTEGER NOT NULL,"
    " line_no INTEGER NOT NULL, reason VARCHAR(40) NOT NULL, FOREIGN KEY (purchase_no,"
    " line_no) REFERENCES purchase_lines (purchase_no, line_no))",
    "CREATE TABLE audit_log (entry_no INTEGER PRIMARY KEY, note VARCHAR(80) NOT NULL)",
]
SHOP_ROWS = [
    "INSERT INTO clients VALUES (1, 'Ada Lovelace', 'UK'), (2, 'Alan Turing', 'UK'),"
    " (3, 'Grace Hopper', 'US')",
    "INSERT INTO warehouses VALUES ('N1', 'Leeds'), ('S1', 'Bristol')",
    "INSERT INTO purchases VALUES (10, 1, 'paid', '2026-01-05', 30.00),"
    " (11, 1, 'open', '2026-02-01', 12.50), (20, 2, 'paid', '2026-01-07', 99.00),"
    " (30, 3, 'void', '2026-03-03', 5.00)",
    "INSERT INTO purchase_lines VALUES (10, 1, 'N1', 10.00), (10, 2, 'S1', 20.00),"
    " (11, 1, 'N1', 12.50), (20, 1, 'S1', 99.00), (30, 1, 'N1', 5.00)",
    "INSERT INTO returns VALUES (100, 10, 2, 'broken'), (200, 20, 1, 'late'),"
    " (300, 30, 1, 'wrong size')",
    "INSERT INTO audit_log VALUES (1, 'nightly backup')",
]
SHOP_CONFIG = """
description = "a small shop's purchases"

[tenant]
column = "clients.client_no"
shared = ["warehouses"]

[tables.purchases]
words = ["purchase", "order"]
row = "purchase"
rows = "purchases"

[columns."purchases.total"]
description = "What the client paid."
phrase = "amount paid"
unit = "money"
words = ["spend"]

[columns."purchases.placed_on"]
verb = "placed"
"""

BACKENDS = ["sqlite", "postgresql", "duckdb"]


@pytest.fixture(scope="module")
def shop_config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "shop.toml"
    path.write_text(SHOP_CONFIG)
    return path


@pytest.fixture(scope="module")
def shop_config(shop_config_path: Path) -> Any:
    return load_config(shop_config_path)


@pytest.fixture(scope="module", params=BACKENDS)
def shop_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shop_config_path: Path
) -> str:
    from conftest import new_database_url

    url = new_database_url(request.param, tmp_path_factory.mktemp("shop"), request)
    engine = create_engine(url if "://" in url else f"sqlite:///{url}")
    with engine.begin() as connection:
        for statement in [*SHOP_DDL, *SHOP_ROWS]:
            connection.execute(text(statement))
    engine.dispose()
    secured = CliRunner().invoke(
        app, ["db", "secure", "--db", url, "--config", str(shop_config_path)]
    )
    assert secured.exit_code == 0, secured.output
    return url


@pytest.fixture(scope="module")
def shop(shop_url: str, shop_config: Any) -> Any:
    db = ReadOnlyDatabase(shop_url, config=shop_config)
    yield db
    db.close()


def rows(db: ReadOnlyDatabase, spec: dict[str, Any], customer: int | None = None) -> list[Any]:
    return db.run(spec, customer_id=customer).rows


# -- reflection ---------------------------------------------------------------------------------


def test_tables_keys_and_checks_are_reflected(shop: ReadOnlyDatabase) -> None:
    catalog = shop.catalog
    assert not catalog.builtin
    assert set(catalog.tables) == {
        "clients",
        "warehouses",
        "purchases",
        "purchase_lines",
        "returns",
        "audit_log",
    }
    assert catalog.primary_key("purchase_lines") == ("purchase_no", "line_no")
    steps = {edge.describe() for edge in catalog.edges["returns"]}
    assert (
        "returns.purchase_no, returns.line_no -> purchase_lines.purchase_no, "
        "purchase_lines.line_no" in steps
    )
    assert shop.tool.columns["purchases.state"].allowed_values == ("open", "paid", "void")


def test_the_config_adds_meaning(shop: ReadOnlyDatabase) -> None:
    total = shop.tool.columns["purchases.total"]
    assert total.money and total.description == "What the client paid."
    assert total.words == ("spend",)
    assert shop.tool.row_nouns("purchases") == ("purchase", "purchases")
    assert shop.tool.row_nouns("returns") == ("return", "returns")  # from the table's name
    assert shop.tool.description.startswith("Query a small shop's purchases (read-only).")
    assert shop.catalog.tenant is not None and shop.catalog.tenant.qualified == "clients.client_no"


def test_a_composite_foreign_key_joins_on_every_column(shop: ReadOnlyDatabase) -> None:
    spec = query("returns", [field("returns.reason"), field("purchase_lines.amount")])
    assert sorted(rows(shop, spec)) == [["broken", 20.0], ["late", 99.0], ["wrong size", 5.0]]


def test_a_filter_across_a_composite_key_is_a_semi_join(
    shop: ReadOnlyDatabase,
) -> None:
    # Lines that have a return, found through the two-column key; each line counted once.
    spec = query(
        "purchase_lines",
        [field("purchase_lines.amount", "sum")],
        [cond("returns.reason", "is not null", None)],
    )
    assert rows(shop, spec) == [[124.0]]  # the lines with a return: 20 + 99 + 5


# -- the tenant scope follows the join graph ---------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column", "client", "expected"),
    [
        ("clients", "clients.full_name", 1, {"Ada Lovelace"}),
        ("purchases", "purchases.purchase_no", 1, {10, 11}),
        ("purchase_lines", "purchase_lines.amount", 2, {99.0}),
        ("returns", "returns.reason", 1, {"broken"}),  # two steps away, composite key
        ("returns", "returns.reason", 3, {"wrong size"}),
        ("warehouses", "warehouses.city", 2, {"Leeds", "Bristol"}),  # shared: whole
    ],
)
def test_a_scoped_query_sees_only_rows_whose_path_ends_at_the_tenant(
    shop: ReadOnlyDatabase, table: str, column: str, client: int, expected: set[Any]
) -> None:
    assert {row[0] for row in rows(shop, query(table, [field(column)]), client)} == expected


def test_a_table_that_reaches_no_tenant_is_refused_when_scoped(shop: ReadOnlyDatabase) -> None:
    spec = query("audit_log", [field("audit_log.note")])
    assert rows(shop, spec) == [["nightly backup"]]  # unscoped: the whole table
    with pytest.raises(QueryValidationError, match="audit_log cannot be limited to one customer"):
        shop.run(spec, customer_id=1)


def test_the_tenant_must_exist_in_the_configured_key(shop: ReadOnlyDatabase) -> None:
    assert shop.check_customer(3) == 3
    with pytest.raises(ConfigError, match="There is no customer 4"):
        shop.check_customer(4)


def test_without_a_tenant_key_a_scope_is_a_config_error(shop_url: str) -> None:
    with ReadOnlyDatabase(shop_url) as db:  # no config: nobody said who a tenant is
        assert db.catalog.tenant is None
        with pytest.raises(ConfigError, match="no tenant key"):
            db.check_customer(1)


# -- the config file ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('colour = "red"', "the top level: unknown key 'colour'"),
        ("[tables.clients]\nwords = 'client'", "[tables.clients]: words must be a list"),
        ("[tables.clients]\nlabel = 'clients.nick'", "'clients.nick' names no column"),
        ("[tables.client]\nwords = ['client']", "'client' names no table. Tables:"),
        ('[columns."clients.nick"]\nwords = ["nick"]', "'clients.nick' names no column"),
        ('[columns."clients.full_name"]\nunit = "euros"', "is not a known unit"),
        ('[tenant]\ncolumn = "clients.id"', "'clients.id' names no column"),
        ('[tenant]\nshared = ["depots"]', "'depots' names no table"),
        ('joins = [{ from = "returns.purchase_no" }]', "joins[0] needs both from and to"),
    ],
)
def test_a_config_mistake_is_one_line_naming_it(
    shop_url: str, tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        ReadOnlyDatabase(shop_url, config=load_config(path)).close()
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the config"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[tables\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(broken)


def test_a_join_the_database_does_not_declare(shop_url: str, shop_config: Any) -> None:
    # audit_log has no foreign key; a config join makes it reachable (and scoped through it).
    config = parse_config(
        {
            "joins": [{"from": "audit_log.entry_no", "to": "clients.client_no"}],
            "tenant": {"column": "clients.client_no"},
        }
    )
    secure_with(shop_url, config)  # PostgreSQL: the new join makes audit_log a tenant's table
    try:
        with ReadOnlyDatabase(shop_url, config=config) as db:
            spec = query("audit_log", [field("audit_log.note"), field("clients.full_name")])
            assert db.run(spec).rows == [["nightly backup", "Ada Lovelace"]]
            assert db.run(spec, customer_id=1).rows == [["nightly backup", "Ada Lovelace"]]
            assert db.run(spec, customer_id=2).rows == []
    finally:
        secure_with(shop_url, shop_config)


def secure_with(url: str, config: Any) -> None:
    if not url.startswith("postgresql"):
        return  # only PostgreSQL enforces the scope itself (and DuckDB has a reader open)
    engine = create_engine(url)
    try:
        database.secure_database(engine, load_catalog(engine, config))
    finally:
        engine.dispose()


def test_hidden_tables_and_columns_leave_the_tool(shop_url: str) -> None:
    config = parse_config(
        {
            "tables": {"audit_log": {"hidden": True}},
            "columns": {"clients.full_name": {"hidden": True}},
            "tenant": {"column": "clients.client_no"},
        }
    )
    with ReadOnlyDatabase(shop_url, config=config) as db:
        assert "audit_log" not in {member.value for member in db.tool.Table}
        assert "clients.full_name" not in db.tool.columns
        with pytest.raises(QueryValidationError):
            db.run(query("audit_log", [field("audit_log.note")]))


def test_nl2sqls_own_database_keeps_the_built_in_meaning(sample_reader: ReadOnlyDatabase) -> None:
    assert sample_reader.catalog.builtin
    assert sample_reader.tool.description == builtin_catalog_tool_description()


def builtin_catalog_tool_description() -> str:
    from nl2sql.query import build_tool

    return build_tool(builtin_catalog()).description


# -- schema --check -----------------------------------------------------------------------------


def test_the_check_lists_what_is_missing(shop: ReadOnlyDatabase) -> None:
    problems = catalog_problems(shop.catalog)
    assert any("table clients has no description" in p for p in problems)
    assert any("table audit_log joins no other table" in p for p in problems)
    assert any("audit_log does not reach the tenant key" in p for p in problems)


def test_the_built_in_schema_lacks_nothing() -> None:
    assert catalog_problems(builtin_catalog()) == []


def test_reference_engine_reads_the_shop(shop_url: str) -> None:
    engine = reference_engine(shop_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM returns")).scalar_one() == 3
    engine.dispose()


# -- the command line ---------------------------------------------------------------------------


def test_cli_config_mistake_is_exit_2_and_one_line(shop_url: str, tmp_path: Path) -> None:

    bad = tmp_path / "bad.toml"
    bad.write_text("[tables.nope]\nwords = ['x']\n")
    done = CliRunner().invoke(
        app, ["ask", "how many purchases?", "--db", shop_url, "--config", str(bad)]
    )
    assert done.exit_code == 2
    assert done.output.strip().count("\n") == 0 and "'nope' names no table" in done.output


def test_cli_reads_nl2sql_config(
    shop_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    path = tmp_path / "shop.toml"
    path.write_text(SHOP_CONFIG)
    monkeypatch.setenv("NL2SQL_CONFIG", str(path))
    done = CliRunner().invoke(
        app, ["ask", "how many purchases?", "--db", shop_url, "--customer", "1", "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["rows"] == [[2]]


def test_cli_scope_without_a_tenant_key_is_exit_2(shop_url: str) -> None:

    done = CliRunner().invoke(app, ["run", "-", "--db", shop_url, "--customer", "1"], input="{}")
    assert done.exit_code == 2 and "no tenant key" in done.output


def test_cli_schema_check_of_the_built_in_schema() -> None:

    done = CliRunner().invoke(app, ["schema", "--check"])
    assert done.exit_code == 0 and "Nothing missing." in done.output


def test_the_offline_model_answers_on_the_shop(shop_url: str, shop_config: Any) -> None:
    from datetime import date

    from nl2sql.agent import Agent

    with Agent(shop_url, model="offline", config=shop_config, today=date(2026, 3, 31)) as agent:
        turn = agent.ask("total spend per state in 2026").raise_for_status()
        assert sorted(turn.last_result.result.rows) == [
            ["open", 12.5],
            ["paid", 129.0],
            ["void", 5.0],
        ]  # type: ignore[union-attr]
        assert turn.understood == (
            "total amount paid, placed 2026-01-01 to 2026-03-31, grouped by state"
        )
        refused = agent.ask("how many purchases were gift wrapped?")
        assert refused.status == "refused" and "'gift', 'wrapped'" in refused.answer
    with Agent(shop_url, model="offline", config=shop_config, customer_id=2) as agent:
        # the tenant's values only: another client's name is not a value it can match
        assert agent.ask("how many purchases did Ada Lovelace make?").status == "refused"


# -- dates kept as text, keys by number, a table added to the built-in schema ---------------------


@pytest.fixture(scope="module")
def text_dates(tmp_path_factory: pytest.TempPathFactory) -> str:
    import sqlite3

    path = tmp_path_factory.mktemp("text-dates") / "log.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE tickets (ticket_no INTEGER PRIMARY KEY, opened TEXT NOT NULL,"
            " closed TEXT, team TEXT NOT NULL);"
            "INSERT INTO tickets VALUES (1, '2025-01-03 09:30:00', '2025-01-04', 'Billing'),"
            " (2, '2025-02-10 16:00:00', NULL, 'Billing'), (3, '2024-12-31 23:59:00',"
            " '2025-01-02', 'Shipping');"
        )
    return f"sqlite:///{path}"


def test_text_columns_with_a_date_verb_are_read_as_dates(text_dates: str) -> None:
    config = parse_config(
        {
            "columns": {
                "tickets.opened": {"verb": "opened"},
                "tickets.closed": {"verb": "closed", "type": "date"},
            }
        }
    )
    with ReadOnlyDatabase(text_dates, config=config) as db:
        assert db.tool.columns["tickets.opened"].kind == "datetime"  # by the values it holds
        assert db.tool.columns["tickets.closed"].kind == "date"  # as the config says
        spec = query(
            "tickets",
            [field("tickets.opened", grain="month"), field("tickets.ticket_no", "count")],
            [cond("tickets.opened", ">=", "2025-01-01")],
        )
        assert sorted(db.run(spec).rows) == [[date(2025, 1, 1), 1], [date(2025, 2, 1), 1]]
        closed = query(
            "tickets", [field("tickets.ticket_no")], [cond("tickets.closed", "=", "2025-01-04")]
        )
        assert db.run(closed).rows == [[1]]


def test_a_text_date_type_the_config_cannot_mean_is_an_error() -> None:
    with pytest.raises(ConfigError, match="is not a type nl2sql can read a text column as"):
        parse_config({"columns": {"tickets.opened": {"type": "timestamp"}}})


def test_the_offline_model_on_text_dates_keys_and_shorthand(text_dates: str) -> None:
    from nl2sql.agent import Agent

    config = parse_config({"columns": {"tickets.opened": {"verb": "opened"}}})
    with Agent(text_dates, model="offline", config=config, today=date(2025, 3, 1)) as agent:
        assert agent.ask(
            "# of tickets opened in 2025"
        ).raise_for_status().last_result.result.rows == [[2]]  # type: ignore[union-attr]
        monthly = agent.ask("monthly ticket count in 2025").raise_for_status()
        assert monthly.understood == (
            "count of tickets, opened 2025-01-01 to 2025-03-01, grouped by month of opened"
        )
        assert agent.ask("team of ticket 3").raise_for_status().last_result.result.rows == [
            ["Shipping"]
        ]  # type: ignore[union-attr]


def test_a_table_added_to_the_built_in_schema_needs_no_other_code() -> None:
    # What adding a table costs: the schema (here a copy of it), a migration and the sample.
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

    from nl2sql import schema
    from nl2sql.catalog import Catalog
    from nl2sql.compiler import Compiler
    from nl2sql.query import build_tool

    metadata = MetaData()
    for table in schema.metadata.tables.values():
        table.to_metadata(metadata)
    Table(
        "returns",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("order_item_id", Integer, ForeignKey("order_items.id"), nullable=False),
        Column("reason", String(80), nullable=False),
    )
    metadata.tables["customers"].c.id.info["tenant"] = "key"
    metadata.tables["products"].info["tenant"] = "shared"
    tool = build_tool(Catalog(metadata, computed=schema.COMPUTED_COLUMNS))
    compiled = Compiler(tool, customer_id=7).compile(query("returns", [field("returns.reason")]))
    sql = str(compiled.statement.compile(compile_kwargs={"literal_binds": True}))
    # returns -> order_items -> orders -> the customer: the scope follows the new path.
    assert "returns.order_item_id IN (SELECT order_items.id" in sql
    assert "order_items.order_id IN (SELECT orders.id" in sql and "orders.customer_id = 7" in sql


def test_a_config_word_with_no_letters_names_nothing(shop_url: str) -> None:
    # words = ["#"] reads as no words at all; it used to match everywhere, and loop for ever.
    from nl2sql.agent import Agent

    config = parse_config({"tables": {"purchases": {"words": ["#", "purchase"]}}})
    with Agent(shop_url, model="offline", config=config, today=date(2026, 3, 31)) as agent:
        assert agent.ask("how many purchases?").raise_for_status().understood == (
            "count of purchases"
        )
