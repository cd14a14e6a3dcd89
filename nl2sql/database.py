"""Where the database lives and how to reach it: URLs, engines, migrations, sample data.

Writes happen only here, in ``init_database`` (migrate + load the sample) — never on the query
path, which opens read-only engines (``read_only_engine``).
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, Table, create_engine, func, inspect, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeEngine

from nl2sql import schema
from nl2sql.errors import (
    ConfigError,
    DatabaseError,
    DatabaseNotEmptyError,
    DatabaseUnavailableError,
    first_line,
)

DATABASE_URL_ENV = "NL2SQL_DATABASE_URL"
ALEMBIC_TABLE = "alembic_version"
PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    """A folder shipped inside the wheel, or the repo's top-level folder in a checkout."""
    inside_wheel = PACKAGE_DIR / "_bundled" / name
    return inside_wheel if inside_wheel.is_dir() else PACKAGE_DIR.parent / name


MIGRATIONS_DIR = _bundled("migrations")
SAMPLE_DATA_DIR = _bundled("sample_data")


def default_sqlite_path() -> Path:
    """The local database used when no URL is given (XDG data home, like other CLI tools)."""
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "nl2sql" / "orders.sqlite3"


def resolve_url(db: str | None) -> str:
    """--db, else NL2SQL_DATABASE_URL, else the default SQLite file. A bare path means SQLite."""
    value = db or os.environ.get(DATABASE_URL_ENV) or str(default_sqlite_path())
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    try:
        make_url(value)
    except sa_exc.ArgumentError as error:
        raise ConfigError(
            f"'{value}' is not a database URL. Use e.g. sqlite:///orders.db or "
            "postgresql+psycopg://user@host/dbname."
        ) from error
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        value = "postgresql+psycopg://" + value.split("://", 1)[1]  # psycopg 3, not psycopg2
    return value


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


def make_engine(url: str) -> Engine:
    """An engine that may write (migrations, sample data). Errors become DatabaseError."""
    from nl2sql.engines import READ_ONLY_ENGINES  # the engines nl2sql can also query

    backend = make_url(url).get_backend_name()
    if backend not in READ_ONLY_ENGINES:
        raise ConfigError(
            f"nl2sql cannot use {backend} databases ({display_url(url)}); supported engines: "
            f"{', '.join(sorted(READ_ONLY_ENGINES))}."
        )
    try:
        return create_engine(url)
    except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as error:
        raise ConfigError(f"Cannot use database URL {display_url(url)}: {error}") from error


def describe_database_error(url: str, error: sa_exc.DBAPIError) -> DatabaseError:
    """One line that names the database and what went wrong with it."""
    where = display_url(url)
    detail = first_line(error.orig if error.orig else error)
    if "no such table" in detail or ("relation" in detail and "does not exist" in detail):
        return DatabaseUnavailableError(
            f"{where} has no orders tables ({detail}). Run 'nl2sql db init --db {where}' first."
        )
    if "file is not a database" in detail:
        return DatabaseUnavailableError(
            f"{where} is not an SQLite database. Point --db at an nl2sql database."
        )
    if isinstance(error, sa_exc.OperationalError) and error.connection_invalidated is False:
        if "unable to open database file" in detail:
            return DatabaseUnavailableError(
                f"Cannot open {where}: the file or its folder is missing or "
                "not readable. Run 'nl2sql db init' or check --db."
            )
    if isinstance(error, sa_exc.OperationalError) and "connect" in detail.lower():
        return DatabaseUnavailableError(
            f"Cannot connect to {where}: {detail}. Check the server is running "
            "and the URL (--db or NL2SQL_DATABASE_URL) is right."
        )
    return DatabaseError(f"Database error on {where}: {detail}")


# -- migrations -----------------------------------------------------------------------------


# Alembic is imported by the functions that migrate: asking a question never needs it.


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    from nl2sql.dialects import register_duckdb_migrations

    register_duckdb_migrations()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "migrations folder has no revisions"
    return head


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    with engine.begin() as connection:
        config = alembic_config(engine.url.render_as_string(hide_password=False))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


# -- db init ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitReport:
    """What `db init` did, so the CLI can say it plainly."""

    url: str
    migrated_from: str | None
    migrated_to: str
    rows_loaded: dict[str, int]

    @property
    def changed(self) -> bool:
        return self.migrated_from != self.migrated_to or any(self.rows_loaded.values())


def init_database(url: str, *, create_folder: bool = False) -> InitReport:
    """Migrate to head and load the sample data, once. Running it again changes nothing.

    A new SQLite file's folder must exist, unless `create_folder` (nl2sql's own default file).
    """
    path = sqlite_path(url)
    if path is not None:
        _check_sqlite_file(path)
        if create_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            raise ConfigError(
                f"The folder {path.parent} does not exist; create it first or pass another --db."
            )
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _refuse_foreign_tables(connection, url)
            before = current_revision(connection)
        upgrade(engine)
        rows = load_sample_data(engine)
        secure_database(engine)
        return InitReport(url, before, head_revision(), rows)
    except sa_exc.DBAPIError as error:  # any driver failure, at any step: one clear line
        raise describe_database_error(url, error) from error
    finally:
        engine.dispose()


def secure_database(engine: Engine, catalog: Any = None) -> list[str]:
    """Where the engine can enforce the tenant scope itself (PostgreSQL's row-level security),
    set that up for `catalog` (nl2sql's own schema by default); the tables now protected."""
    from nl2sql.engines import recipe_for

    recipe = recipe_for(engine.url.render_as_string(hide_password=False))
    if recipe.secure is None:
        return []
    if catalog is None:  # nl2sql's own schema, as this process hides it
        from nl2sql.query import configured_tool

        catalog = configured_tool().catalog
    return recipe.secure(engine, catalog)


def _check_sqlite_file(path: Path) -> None:
    """Refuse a file that exists but is not SQLite, before SQLAlchemy gives a vague error."""
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder, not a database file. Pass a file path to --db.")
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            raise DatabaseError(
                f"{path} is not an SQLite database. Point --db at a new file or an nl2sql database."
            )


def _refuse_foreign_tables(connection: Connection, url: str) -> None:
    ours = set(schema.TABLES) | {ALEMBIC_TABLE}
    present = set(inspect(connection).get_table_names())
    foreign = sorted(present - ours)
    if foreign:
        raise DatabaseNotEmptyError(
            f"{display_url(url)} already holds tables nl2sql did not create "
            f"({', '.join(foreign)}). Use an empty database, or pass another --db."
        )
    if present & set(schema.TABLES) and ALEMBIC_TABLE not in present:
        raise DatabaseNotEmptyError(
            f"{display_url(url)} has orders tables that were not made by nl2sql's migrations. "
            "Use an empty database, or pass another --db."
        )


def load_sample_data(engine: Engine, directory: Path = SAMPLE_DATA_DIR) -> dict[str, int]:
    """Load the CSV sample in one transaction if the tables are empty; return rows loaded.

    One CSV per table, parents before children (the metadata's dependency order); a CSV that
    names no table, or a table with no CSV, is an error rather than a silent skip.
    """
    tables = schema.metadata.sorted_tables
    loaded = dict.fromkeys((table.name for table in tables), 0)
    _check_sample_files(directory, {table.name for table in tables})
    with engine.begin() as connection:
        if any(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        ):
            return loaded
        for table in tables:
            for batch in _csv_batches(directory / f"{table.name}.csv", table):
                connection.execute(table.insert(), batch)
                loaded[table.name] += len(batch)
    return loaded


def _check_sample_files(directory: Path, tables: set[str]) -> None:
    files = {path.stem for path in directory.glob("*.csv")}
    if files != tables:
        extra, missing = sorted(files - tables), sorted(tables - files)
        raise DatabaseError(
            f"The sample data in {directory} does not match the schema: "
            + "; ".join(
                part
                for part in (
                    f"no table for {', '.join(f'{n}.csv' for n in extra)}" if extra else "",
                    f"no CSV for {', '.join(missing)}" if missing else "",
                )
                if part
            )
            + ". Regenerate it: python -m nl2sql.sample_data --csv DIR."
        )


def _csv_batches(path: Path, table: Table, size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    converters = {column.name: _converter(column.type) for column in table.columns}
    with open(path, newline="") as handle:
        batch = []
        for row in csv.DictReader(handle):
            batch.append({k: (converters[k](v) if v != "" else None) for k, v in row.items()})
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch


def _converter(column_type: TypeEngine[Any]) -> Callable[[str], Any]:
    python_type = column_type.python_type
    if python_type is datetime:
        return datetime.fromisoformat
    if python_type is date:
        return date.fromisoformat
    if python_type is Decimal:
        return Decimal
    return python_type


def ensure_database(db: str | None, on_create: Callable[[str], None] | None = None) -> str:
    """The URL to query. The default local file is created and filled on first use."""
    url = resolve_url(db)
    if db is None and not os.environ.get(DATABASE_URL_ENV):
        path = sqlite_path(url)
        if path is not None and not path.exists():
            init_database(url, create_folder=True)
            if on_create is not None:
                on_create(str(path))
    return url


def choose_url(
    db: str | None, configured: str | None, on_create: Callable[[str], None] | None = None
) -> str:
    """--db, else NL2SQL_DATABASE_URL, else the config's (or suite's) `database`, else the
    local sample (created and filled on first use)."""
    if db is None and not os.environ.get(DATABASE_URL_ENV):
        db = configured
    return ensure_database(db, on_create=on_create)


# -- bulk load (benchmarks) ------------------------------------------------------------------


def _secondary_indexes() -> list[Index]:
    return [index for table in schema.TABLES.values() for index in table.indexes]


def create_schema_for_bulk_load(url: str) -> None:
    """Migrate a new database, then drop its indexes: building them once at the end is faster."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            for index in _secondary_indexes():
                index.drop(connection)
    finally:
        engine.dispose()


def finish_bulk_load(url: str) -> None:
    """Rebuild the indexes dropped for the load and refresh the planner's statistics."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for index in _secondary_indexes():
                index.create(connection)
        if sqlite_path(url) is not None:
            with sqlite3.connect(sqlite_path(url)) as raw:  # type: ignore[arg-type]
                raw.execute("ANALYZE")
        elif engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
