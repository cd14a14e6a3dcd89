"""Migrations go up and down on every backend, and the result matches the schema metadata."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from nl2sql import database, schema

REPO = Path(__file__).resolve().parent.parent


# duckdb-engine cannot reflect indexes or collations, which Alembic's compare needs; on DuckDB
# the migration is checked by what it creates instead (below).
REFLECTS_INDEXES = pytest.mark.parametrize("blank_url", ["sqlite", "postgresql"], indirect=True)


@REFLECTS_INDEXES
def test_upgrade_matches_metadata_without_drift(blank_url: str) -> None:
    engine = create_engine(blank_url)
    database.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, schema.metadata) == []
    engine.dispose()


@REFLECTS_INDEXES
def test_upgrade_creates_the_pinned_indexes_and_check(blank_url: str) -> None:
    engine = create_engine(blank_url)
    database.upgrade(engine)
    inspector = inspect(engine)
    indexed = {
        (table, tuple(index["column_names"]))
        for table in schema.TABLES
        for index in inspector.get_indexes(table)
    }
    for expected in [
        ("orders", ("status",)),
        ("orders", ("ordered_at",)),
        ("orders", ("customer_id", "ordered_at")),  # serves lookups by customer alone too
        ("orders", ("shipped_at",)),
        ("orders", ("delivered_at",)),
        ("orders", ("canceled_at",)),
        ("orders", ("expected_delivery_date",)),
        ("order_items", ("order_id",)),
        ("order_items", ("product_id",)),
        ("customers", ("country",)),
    ]:
        assert expected in indexed
    checks = " ".join(c["sqltext"] for c in inspector.get_check_constraints("orders"))
    assert "returned" in checks
    engine.dispose()


def test_downgrade_to_base_removes_every_table(blank_url: str) -> None:
    engine = create_engine(blank_url)
    database.upgrade(engine)
    database.downgrade(engine, "base")
    remaining = set(inspect(engine).get_table_names()) - {database.ALEMBIC_TABLE}
    assert remaining == set()
    database.upgrade(engine)  # and back up again
    assert set(schema.TABLES) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_alembic_command_line_from_repo_root(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {**os.environ, database.DATABASE_URL_ENV: url}
    alembic = [sys.executable, "-m", "alembic"]
    for step in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        done = subprocess.run(alembic + step, cwd=REPO, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    assert set(schema.TABLES) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_duckdb_upgrade_creates_the_tables_keys_and_indexes(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'orders.duckdb'}"
    engine = create_engine(url)
    database.upgrade(engine)
    with engine.connect() as connection:
        indexes = {
            row[0] for row in connection.execute(text("SELECT index_name FROM duckdb_indexes()"))
        }
        kinds = {
            (row[0], row[1])
            for row in connection.execute(
                text("SELECT table_name, constraint_type FROM duckdb_constraints()")
            )
        }
    engine.dispose()
    assert {index.name for table in schema.TABLES.values() for index in table.indexes} <= indexes
    for table in schema.TABLES:
        assert (table, "PRIMARY KEY") in kinds
    assert ("orders", "FOREIGN KEY") in kinds and ("orders", "CHECK") in kinds
