"""A database's catalog: nl2sql's own schema when the database is nl2sql's, else reflected.

Reflection reads tables, columns, primary and foreign keys, comments and CHECK constraints
(``col IN ('a', 'b')`` becomes the column's allowed values). The config then adds what
reflection cannot know (``config.py``): it is written into the tables' ``info`` and comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy import exc as sa_exc

from nl2sql import schema
from nl2sql.catalog import Catalog, Edge
from nl2sql.config import Config
from nl2sql.database import ALEMBIC_TABLE
from nl2sql.errors import ConfigError, DatabaseUnavailableError
from nl2sql.words import singular

CHECK_IN = re.compile(r"^\s*\(?\s*\"?(\w+)\"?\s+IN\s*\((.*)\)\s*\)?\s*$", re.IGNORECASE | re.DOTALL)
# PostgreSQL keeps `state IN ('a', 'b')` as `(state)::text = ANY (ARRAY['a'::..., 'b'::...])`.
CHECK_ANY = re.compile(
    r"^\s*\(*\s*\"?(\w+)\"?\s*\)?(?:::[\w ]+?)?\s*=\s*ANY\s*\(\s*\(?\s*ARRAY\[(.*)\]",
    re.IGNORECASE | re.DOTALL,
)
QUOTED = re.compile(r"'((?:[^']|'')*)'")


def load_catalog(
    engine: Engine,
    config: Config | None = None,
    hidden_columns: Iterable[str] = (),
    *,
    where: str | None = None,
) -> Catalog:
    """The catalog of the database behind `engine`, completed by the config.

    `where` names the database in messages (the URL as the user gave it).
    """
    inspector = inspect(engine)
    names = set(inspector.get_table_names())
    if is_builtin(names):
        metadata = _builtin_copy() if config else schema.metadata
        computed = schema.COMPUTED_COLUMNS
        builtin = True
    else:
        where = where or engine.url.render_as_string(hide_password=True)
        metadata = reflect_metadata(engine, sorted(names - {ALEMBIC_TABLE}), where)
        computed = ()
        builtin = False
    if config is not None:
        apply_config(config, metadata)
        if not builtin:
            read_text_dates(engine, metadata)
    catalog = Catalog(
        metadata,
        computed=computed,
        extra_joins=_extra_joins(config, metadata),
        hidden_tables=config.hidden_tables if config else frozenset(),
        builtin=builtin,
    )
    hidden = set(hidden_columns) | (config.hidden_columns if config else set())
    try:
        return catalog.without(hidden) if hidden else catalog
    except ValueError as error:
        raise ConfigError(f"{error}. Name columns as table.column.") from None


def is_builtin(table_names: set[str]) -> bool:
    """nl2sql's own database: made by its migrations, holding its tables."""
    return ALEMBIC_TABLE in table_names and set(schema.TABLES) <= table_names


def _builtin_copy() -> MetaData:
    """A copy of the built-in schema that a config may annotate without touching the original."""
    copy = MetaData(info=dict(schema.metadata.info))
    for table in schema.metadata.tables.values():
        copied = table.to_metadata(copy)
        copied.info = dict(table.info)
        for column in copied.columns:
            column.info = dict(table.c[column.name].info)
    return copy


def reflect_metadata(engine: Engine, names: list[str], where: str) -> MetaData:
    """Tables, keys and comments as the database declares them; CHECK lists as values."""
    if not names:
        raise DatabaseUnavailableError(
            f"{where} has no tables to query. Run 'nl2sql db init --db {where}' to make the "
            "sample, or point --db at your database."
        )
    if engine.dialect.name == "duckdb":
        metadata, checks = reflect_duckdb(engine, names)
    else:
        metadata = MetaData()
        try:
            metadata.reflect(bind=engine, only=names)
        except sa_exc.NoSuchTableError as error:
            raise ConfigError(f"Cannot read table {error}: it vanished while reading.") from None
        inspector = inspect(engine)
        checks = {name: _checks(inspector, name) for name in names}
    for table in metadata.tables.values():
        table.info.setdefault("row", singular(table.name))
        table.info.setdefault("rows", table.name)
        for column, values in _check_values(checks.get(table.name, [])):
            if column in table.c:
                table.c[column].info.setdefault("values", values)
    return metadata


def _checks(inspector: Any, table: str) -> list[str]:
    try:
        return [check.get("sqltext") or "" for check in inspector.get_check_constraints(table)]
    except NotImplementedError:
        return []


def _check_values(checks: list[str]) -> list[tuple[str, list[str]]]:
    found = []
    for check in checks:
        match = CHECK_IN.match(check) or CHECK_ANY.match(check)
        if match:
            values = [v.replace("''", "'") for v in QUOTED.findall(match.group(2))]
            if values:
                found.append((match.group(1), values))
    return found


def apply_config(config: Config, metadata: MetaData) -> None:
    """Write the config's meaning into the tables; a name that matches nothing is an error."""
    tables = metadata.tables
    if config.description:
        metadata.info["description"] = config.description
    if config.notes:
        metadata.info["notes"] = config.notes
    for name, keys in config.tables.items():
        if name not in tables:
            raise config.problem(f"[tables.{name}]", _no_table(name, tables))
        if "label" in keys:
            _column(config, metadata, keys["label"], f"[tables.{name}] label")
        _annotate(tables[name], keys)
    for qualified, keys in config.columns.items():
        column = _column(config, metadata, qualified, f'[columns."{qualified}"]')
        _annotate(column, keys)
    if config.tenant_column:
        for table in tables.values():  # the config names the key: the built-in one steps aside
            for column in table.columns:
                column.info.pop("tenant", None)
        _column(config, metadata, config.tenant_column, "[tenant] column").info["tenant"] = "key"
    for name in config.shared:
        if name not in tables:
            raise config.problem("[tenant] shared", _no_table(name, tables))
        tables[name].info["tenant"] = "shared"


def _annotate(item: Any, keys: Mapping[str, Any]) -> None:
    for key, value in keys.items():
        if key == "description":
            item.comment = value
        elif key == "type":
            item.type = TEXT_DATE_TYPES[value]()
        elif key != "hidden":
            item.info[key] = tuple(value) if isinstance(value, list) else value


TEXT_DATE_TYPES: dict[str, Any] = {"date": Date, "datetime": DateTime}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def read_text_dates(engine: Engine, metadata: MetaData) -> None:
    """SQLite keeps dates as text. A text column the config gives a `verb` (so it is a date)
    and no `type` is read as a date or a timestamp, by the form of a value it holds."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        for table in metadata.tables.values():
            for column in table.columns:
                if "verb" not in column.info or not isinstance(column.type, String):
                    continue
                sample = connection.execute(
                    select(column).where(column.is_not(None)).limit(1)
                ).scalar()
                if isinstance(sample, str) and ISO_DATETIME.match(sample):
                    column.type = DateTime()
                elif isinstance(sample, str) and ISO_DATE.match(sample):
                    column.type = Date()


def _column(config: Config, metadata: MetaData, qualified: str, where: str) -> Any:
    table_name, _, column_name = qualified.partition(".")
    table = metadata.tables.get(table_name)
    if table is None:
        raise config.problem(where, _no_table(table_name, metadata.tables))
    if column_name not in table.c:
        raise config.problem(
            where,
            f"{qualified!r} names no column. Columns of {table_name}: {', '.join(table.c.keys())}.",
        )
    return table.c[column_name]


def _no_table(name: str, tables: Any) -> str:
    return f"{name!r} names no table. Tables: {', '.join(tables)}."


def _extra_joins(config: Config | None, metadata: MetaData) -> tuple[Edge, ...]:
    if config is None:
        return ()
    edges = []
    for index, join in enumerate(config.joins):
        where = f"joins[{index}]"
        source = _column(config, metadata, join.source, where)
        target = _column(config, metadata, join.target, where)
        edges.append(
            Edge(source.table.name, target.table.name, False, (source.name,), (target.name,))
        )
    return tuple(edges)


# -- DuckDB: duckdb-engine's reflection queries PostgreSQL catalogs DuckDB lacks -------------

DUCKDB_TYPES: dict[str, Any] = {
    "BOOLEAN": Boolean,
    "TINYINT": Integer,
    "SMALLINT": Integer,
    "INTEGER": Integer,
    "BIGINT": BigInteger,
    "HUGEINT": BigInteger,
    "UTINYINT": Integer,
    "USMALLINT": Integer,
    "UINTEGER": BigInteger,
    "UBIGINT": BigInteger,
    "FLOAT": Float,
    "DOUBLE": Float,
    "REAL": Float,
    "DATE": Date,
    "TIMESTAMP": DateTime,
    "TIMESTAMP WITH TIME ZONE": DateTime,
    "VARCHAR": String,
}
DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def duckdb_type(name: str) -> Any:
    """The SQLAlchemy type of a DuckDB column type name; text for anything unusual."""
    decimal = DECIMAL.match(name)
    if decimal:
        return Numeric(int(decimal.group(1)), int(decimal.group(2)))
    return DUCKDB_TYPES.get(name, String)()


def reflect_duckdb(engine: Engine, names: list[str]) -> tuple[MetaData, dict[str, list[str]]]:
    """Tables, keys, comments and CHECK texts, read from DuckDB's own catalog functions."""
    metadata = MetaData()
    wanted = set(names)
    checks: dict[str, list[str]] = {}
    with engine.connect() as connection:
        comments: dict[str, str | None] = dict(
            connection.execute(text("SELECT table_name, comment FROM duckdb_tables()")).all()
        )
        columns = connection.execute(
            text(
                "SELECT table_name, column_name, data_type, is_nullable, comment "
                "FROM duckdb_columns() ORDER BY table_name, column_index"
            )
        ).all()
        constraints = connection.execute(
            text(
                "SELECT table_name, constraint_type, constraint_column_names, referenced_table, "
                "referenced_column_names, expression FROM duckdb_constraints()"
            )
        ).all()
    for table_name, column_name, data_type, nullable, comment in columns:
        if table_name not in wanted:
            continue
        table = metadata.tables.get(table_name)
        if table is None:
            table = Table(table_name, metadata, comment=comments.get(table_name))
        table.append_column(
            Column(column_name, duckdb_type(data_type), nullable=nullable, comment=comment)
        )
    for table_name, kind, columns_of, referenced, referenced_columns, expression in constraints:
        if table_name not in metadata.tables:
            continue
        table = metadata.tables[table_name]
        if kind == "PRIMARY KEY":
            table.append_constraint(PrimaryKeyConstraint(*columns_of))
        elif kind == "FOREIGN KEY" and referenced in metadata.tables:
            targets = [f"{referenced}.{name}" for name in referenced_columns]
            table.append_constraint(ForeignKeyConstraint(list(columns_of), targets))
        elif kind == "CHECK" and expression:
            checks.setdefault(table_name, []).append(expression)
    return metadata, checks


__all__ = ["load_catalog"]
