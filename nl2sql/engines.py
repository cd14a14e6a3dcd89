"""Read-only engines, one recipe per supported engine (a registry, not an if-chain).

Each recipe opens connections that cannot write and gives every statement a time limit:
SQLite ``mode=ro`` + ``PRAGMA query_only`` with a progress-handler deadline; PostgreSQL
read-only transactions with ``statement_timeout``; DuckDB ``read_only`` with an interrupt timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from nl2sql import database
from nl2sql.errors import ConfigError, DatabaseUnavailableError

SQLITE_PROGRESS_STEPS = 10_000  # VM instructions between deadline checks


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
    return recipe(url, timeout)


def _sqlite(url: str, timeout: float) -> Engine:
    path = database.sqlite_path(url)
    if path is None:
        raise ConfigError("An in-memory SQLite database holds nothing to query; give a file path.")
    _require_file(path)
    database._check_sqlite_file(path)
    engine = create_engine(f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true")

    @event.listens_for(engine, "connect")
    def _lock_down(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    @event.listens_for(engine, "before_cursor_execute")
    def _arm_deadline(connection: Any, *_args: Any) -> None:
        deadline = time.monotonic() + timeout
        raw = connection.connection.driver_connection
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_PROGRESS_STEPS)

    return engine


def _postgresql(url: str, timeout: float) -> Engine:
    options = f"-c default_transaction_read_only=on -c statement_timeout={int(timeout * 1000)}"
    return create_engine(url, connect_args={"options": options, "connect_timeout": 10})


def _duckdb(url: str, timeout: float) -> Engine:
    database_path = make_url(url).database
    if database_path and database_path != ":memory:":
        _require_file(Path(database_path))
    engine = create_engine(url, connect_args={"read_only": True})

    # DuckDB has no statement timeout: a timer interrupts the connection when time is up.
    @event.listens_for(engine, "before_cursor_execute")
    def _arm_timer(connection: Any, *_args: Any) -> None:
        raw = connection.connection.driver_connection
        timer = threading.Timer(timeout, _interrupt, args=(raw,))
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


READ_ONLY_ENGINES: dict[str, Callable[[str, float], Engine]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
    "duckdb": _duckdb,
}
