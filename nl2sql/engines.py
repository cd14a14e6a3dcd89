"""Read-only engines, one recipe per supported engine (a registry, not an if-chain).

Each recipe opens connections that cannot write and gives every statement a time limit, and
says how one `connect()` session begins (``Recipe.session``):
- SQLite: ``mode=ro`` + ``PRAGMA query_only``, ``setlimit`` bounds (no ATTACH), a
  progress-handler deadline, and per session an authorizer that allows reading the exposed
  tables' visible columns and nothing else;
- PostgreSQL: read-only at the connection and at each transaction, ``statement_timeout``, the
  tenant named per transaction (``set_config(..., true)``) for the row-level security policies
  (``row_security.py``), every connection reset when it returns to the pool;
- DuckDB: ``read_only``, no extensions loaded or installed at run time, no file access, the
  configuration locked; an interrupt timer for the deadline.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from nl2sql import database, row_security
from nl2sql.catalog import Catalog
from nl2sql.errors import ConfigError, DatabaseUnavailableError

SQLITE_PROGRESS_STEPS = 10_000  # VM instructions between deadline checks
DEADLINE = "nl2sql_deadline"  # Connection.info key: the monotonic time statements must end by

# SQLite's own bounds, far above what a compiled query needs, far below what hurts.
SQLITE_LIMITS = {
    sqlite3.SQLITE_LIMIT_ATTACHED: 0,
    sqlite3.SQLITE_LIMIT_LENGTH: 10_000_000,
    sqlite3.SQLITE_LIMIT_SQL_LENGTH: 1_000_000,
    sqlite3.SQLITE_LIMIT_COLUMN: 1_000,
    sqlite3.SQLITE_LIMIT_EXPR_DEPTH: 200,
    sqlite3.SQLITE_LIMIT_COMPOUND_SELECT: 20,
    sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER: 20_000,
    sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH: 1_000,
    sqlite3.SQLITE_LIMIT_FUNCTION_ARG: 20,
    sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH: 0,
}
SQLITE_DENIED_FUNCTIONS = frozenset({"load_extension"})
DUCKDB_LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET enable_external_access = false",  # no read_csv('/etc/...'), no ATTACH, no COPY
    # DuckDB 1.5's rewrite of "row_number() <= N" fails with an internal binder error when the
    # ranked rows are grouped with a HAVING that holds a subquery (per_group_limit with a
    # comparison against the average group); the plain window is correct and fast enough.
    "SET disabled_optimizers = 'top_n_window_elimination'",
    "SET lock_configuration = true",  # and no statement can turn these back on
)
POOL_WAIT = 10.0  # seconds a session waits for a free connection before giving up


@dataclass(frozen=True)
class Session:
    """One `connect()`: whose rows, how long its statements may run, what they may read."""

    customer_id: int | None
    deadline: float  # time.monotonic() by which every statement must have ended
    readable: Mapping[str, frozenset[str]]  # table -> the columns a statement may read

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()


def _no_session(_connection: Connection, _session: Session) -> AbstractContextManager[None]:
    return _nothing()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@dataclass(frozen=True)
class Recipe:
    """How nl2sql opens one engine read-only, and begins each session on it."""

    make: Callable[[str, float], Engine]
    session: Callable[[Connection, Session], AbstractContextManager[None]] = _no_session
    # PostgreSQL: the engine that serves one tenant, logged in as the SELECT-only role
    tenant_engine: Callable[[str, float], Engine | None] | None = None
    # PostgreSQL: make the database enforce the tenant scope itself (`db init`, `db secure`)
    secure: Callable[[Engine, Catalog], list[str]] | None = None
    # PostgreSQL: the URL logs in as the reader, which sees one tenant's rows at a time
    serves_one_tenant: Callable[[str], bool] = lambda _url: False


def read_only_engine(url: str, timeout: float) -> Engine:
    """An engine that cannot write: read-only at the connection, with a statement time limit."""
    backend = make_url(url).get_backend_name()
    recipe = READ_ONLY_ENGINES.get(backend)
    if recipe is None:
        supported = ", ".join(sorted(READ_ONLY_ENGINES))
        raise ConfigError(
            f"nl2sql cannot query {backend} databases ({database.display_url(url)}); "
            f"supported engines: {supported}."
        )
    return recipe.make(url, timeout)


def recipe_for(url: str) -> Recipe:
    return READ_ONLY_ENGINES[make_url(url).get_backend_name()]


def statement_deadline(connection: Connection, timeout: float) -> float:
    """When the next statement must end: its own limit, or the session's deadline if sooner."""
    return min(time.monotonic() + timeout, connection.info.get(DEADLINE, math.inf))


def _sqlite(url: str, timeout: float) -> Engine:
    path = database.sqlite_path(url)
    if path is None:
        raise ConfigError("An in-memory SQLite database holds nothing to query; give a file path.")
    _require_file(path)
    database._check_sqlite_file(path)
    engine = create_engine(
        f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true", pool_timeout=POOL_WAIT
    )

    @event.listens_for(engine, "connect")
    def _lock_down(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")
        for limit, value in SQLITE_LIMITS.items():
            dbapi_connection.setlimit(limit, value)

    @event.listens_for(engine, "before_cursor_execute")
    def _arm_deadline(connection: Any, *_args: Any) -> None:
        deadline = statement_deadline(connection, timeout)
        raw = connection.connection.driver_connection
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_PROGRESS_STEPS)

    return engine


@contextmanager
def _sqlite_session(connection: Connection, session: Session) -> Iterator[None]:
    """Statements of this session may read the readable columns, run functions (but not load
    extensions) and nothing else: no PRAGMA, no ATTACH, no write, no hidden column."""
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.set_authorizer(sqlite_authorizer(session.readable))
    try:
        yield
    finally:
        raw.set_authorizer(None)


def sqlite_authorizer(readable: Mapping[str, frozenset[str]]) -> Callable[..., int]:
    def authorize(
        action: int, first: str | None, second: str | None, db: str | None, _trigger: Any
    ) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_TRANSACTION):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            # first: the table, second: the column ("" when a statement reads no column)
            columns = readable.get(first or "") if db in ("main", None) else None
            if columns is not None and (second == "" or second in columns):
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            denied = (second or "").lower() in SQLITE_DENIED_FUNCTIONS
            return sqlite3.SQLITE_DENY if denied else sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return authorize


def _postgresql(url: str, timeout: float) -> Engine:
    options = f"-c default_transaction_read_only=on -c statement_timeout={int(timeout * 1000)}"
    engine = create_engine(
        url, connect_args={"options": options, "connect_timeout": 10}, pool_timeout=POOL_WAIT
    )

    # What a session changed (a setting, the tenant) must not reach the next one.
    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        dbapi_connection.rollback()
        with dbapi_connection.cursor() as cursor:
            cursor.execute("RESET ALL")
        dbapi_connection.commit()

    return engine


@contextmanager
def _postgresql_session(connection: Connection, session: Session) -> Iterator[None]:
    milliseconds = max(1, int(session.seconds_left() * 1000))
    connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
    if session.customer_id is not None:
        connection.execute(
            text("SELECT set_config(:name, :value, true)"),
            {"name": row_security.TENANT_SETTING, "value": str(session.customer_id)},
        )
    yield


def _postgresql_tenant(url: str, timeout: float) -> Engine | None:
    """The engine a tenant's session runs on: logged in as the SELECT-only role (None when
    the URL already names it). Logging in as it, not SET ROLE, since RESET ROLE undoes that."""
    if _logs_in_as_reader(url):
        return None
    return _postgresql(row_security.reader_url(url), timeout)


def _logs_in_as_reader(url: str) -> bool:
    return make_url(url).username == row_security.READER_ROLE


def _duckdb(url: str, timeout: float) -> Engine:
    database_path = make_url(url).database
    if database_path and database_path != ":memory:":
        _require_file(Path(database_path))
    engine = create_engine(url, connect_args={"read_only": True}, pool_timeout=POOL_WAIT)

    @event.listens_for(engine, "connect")
    def _lock_down(dbapi_connection: Any, _record: Any) -> None:
        # Settings belong to the database instance, which the process's connections share.
        locked = dbapi_connection.execute("SELECT current_setting('lock_configuration')")
        if not locked.fetchone()[0]:
            for setting in DUCKDB_LOCKDOWN:
                dbapi_connection.execute(setting)

    # DuckDB has no statement timeout: a timer interrupts the connection when time is up.
    @event.listens_for(engine, "before_cursor_execute")
    def _arm_timer(connection: Any, *_args: Any) -> None:
        raw = connection.connection.driver_connection
        seconds = max(0.0, statement_deadline(connection, timeout) - time.monotonic())
        timer = threading.Timer(seconds, _interrupt, args=(raw,))
        timer.daemon = True
        connection.info["nl2sql_timer"] = timer
        timer.start()

    @event.listens_for(engine, "after_cursor_execute")
    def _disarm_timer(connection: Any, *_args: Any) -> None:
        timer = connection.info.pop("nl2sql_timer", None)
        if timer is not None:
            timer.cancel()

    @event.listens_for(engine, "handle_error")
    def _disarm_on_error(context: Any) -> None:
        connection = context.connection
        timer = connection.info.pop("nl2sql_timer", None) if connection is not None else None
        if timer is not None:
            timer.cancel()

    return engine


def _interrupt(raw: Any) -> None:
    # duckdb-engine wraps the DuckDB connection; the interrupt lives on the wrapped object.
    target = getattr(raw, "_ConnectionWrapper__c", raw)
    target.interrupt()


def _require_file(path: Path) -> None:
    if not path.exists():
        raise DatabaseUnavailableError(
            f"{path} does not exist. Run 'nl2sql db init --db {path}' first."
        )


READ_ONLY_ENGINES: dict[str, Recipe] = {
    "sqlite": Recipe(_sqlite, session=_sqlite_session),
    "postgresql": Recipe(
        _postgresql,
        session=_postgresql_session,
        tenant_engine=_postgresql_tenant,
        secure=row_security.secure,
        serves_one_tenant=_logs_in_as_reader,
    ),
    "duckdb": Recipe(_duckdb),
}
