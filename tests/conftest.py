"""Shared fixtures: real SQLite files and real PostgreSQL databases that the tests create.

PostgreSQL tests need NL2SQL_TEST_POSTGRES_URL (a server URL whose user may create databases);
`.ci/run` always sets it. Each test database is created here and dropped here — never one we
did not create.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from query_builders import reference_engine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nl2sql import database

POSTGRES_ENV = "NL2SQL_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql", "duckdb"]


def postgres_server_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    return database.resolve_url(url) if url else None


def _admin_url() -> str:
    server = postgres_server_url()
    if server is None:
        if os.environ.get("NL2SQL_REQUIRE_POSTGRES"):
            pytest.fail(f"NL2SQL_REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (CI sets it; see README)")
    return server


class PostgresDatabases:
    """Creates uniquely named databases on the test server and drops exactly those."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"nl2sql_test_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self.created:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(_admin_url())
    yield databases
    databases.drop_all()


def new_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'orders.sqlite3'}"
    if backend == "duckdb":
        return f"duckdb:///{tmp_path / 'orders.duckdb'}"
    return request.getfixturevalue("postgres_databases").create()


@pytest.fixture(params=BACKENDS)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database on each backend."""
    return new_database_url(request.param, tmp_path, request)


@pytest.fixture(scope="session", params=BACKENDS)
def sample_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database on each backend, migrated and filled with the sample (shared: only read it)."""
    url = new_database_url(request.param, tmp_path_factory.mktemp("sample"), request)
    database.init_database(url)
    return url


# -- Query tool / compiler / executor suites -------------------------------------------------


@pytest.fixture(scope="session")
def sample_engine(sample_url: str) -> Iterator:  # type: ignore[type-arg]
    """A plain engine on the sample database, for hand-written reference SQL (read it only)."""
    engine = reference_engine(sample_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sample_reader(sample_url: str) -> Iterator:  # type: ignore[type-arg]
    """The read-only executor on the sample database (shared across tests)."""
    from nl2sql.execute import ReadOnlyDatabase

    db = ReadOnlyDatabase(sample_url)
    yield db
    db.close()


@pytest.fixture(scope="session")
def sample_backend(sample_url: str) -> str:
    """'sqlite', 'postgresql' or 'duckdb': the backend of `sample_url`."""
    return next(name for name in BACKENDS if sample_url.startswith(name))
