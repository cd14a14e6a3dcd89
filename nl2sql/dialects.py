"""The only place where the engines differ: date buckets, date casts, DuckDB's migrations.

Each construct compiles per dialect (SQLAlchemy ``@compiles``), so the compiler builds one
dialect-neutral ``Select`` and both backends return the same values: buckets and dates come back
as ISO text ``YYYY-MM-DD``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from nl2sql.query import TimeGrain

# SQLite keeps timestamps as ISO text, so buckets are string surgery on that text.
SQLITE_BUCKETS: dict[TimeGrain, str] = {
    TimeGrain.day: "date({x})",
    # 'weekday 0' moves forward to Sunday (or stays); six days back is that week's Monday.
    TimeGrain.week: "date({x}, 'weekday 0', '-6 days')",
    TimeGrain.month: "strftime('%Y-%m-01', {x})",
    TimeGrain.quarter: (
        "(strftime('%Y', {x}) || '-' || "
        "printf('%02d', ((CAST(strftime('%m', {x}) AS INTEGER) - 1) / 3) * 3 + 1) || '-01')"
    ),
    TimeGrain.year: "strftime('%Y-01-01', {x})",
}


class DateBucket(FunctionElement[str]):
    """The ISO date (text) of the first day of the day/week/month/quarter/year holding x."""

    type = String()
    inherit_cache = True
    name = "date_bucket"

    def __init__(self, expression: Any, grain: TimeGrain) -> None:
        self.grain = grain
        super().__init__(expression)


class AsDate(FunctionElement[str]):
    """The calendar date of a timestamp, comparable with a DATE column."""

    type = String()
    inherit_cache = True
    name = "as_date"


class DaysBetween(FunctionElement[float]):
    """Days from the first date/timestamp to the second, with the fraction of a day."""

    type = Float()
    inherit_cache = True
    name = "days_between"


class Percentile(FunctionElement[float]):
    """The continuous (interpolated) percentile of x, as PostgreSQL's percentile_cont."""

    type = Float()
    inherit_cache = True
    name = "percentile"

    def __init__(self, expression: Any, fraction: float) -> None:
        self.fraction = fraction
        super().__init__(expression)


def _argument(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    (expression,) = element.clauses
    return compiler.process(expression, **kw)


@compiles(DateBucket, "sqlite")
def _bucket_sqlite(element: DateBucket, compiler: SQLCompiler, **kw: Any) -> str:
    return SQLITE_BUCKETS[element.grain].format(x=_argument(element, compiler, **kw))


@compiles(DateBucket)  # other dialects and str(statement) (logs, debugging): standard SQL form
@compiles(DateBucket, "postgresql")
def _bucket_postgresql(element: DateBucket, compiler: SQLCompiler, **kw: Any) -> str:
    argument = _argument(element, compiler, **kw)
    return f"to_char(date_trunc('{element.grain.value}', {argument}), 'YYYY-MM-DD')"


@compiles(AsDate, "sqlite")
def _as_date_sqlite(element: AsDate, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({_argument(element, compiler, **kw)})"


@compiles(AsDate)
def _as_date_default(element: AsDate, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({_argument(element, compiler, **kw)} AS DATE)"


@compiles(DateBucket, "duckdb")
def _bucket_duckdb(element: DateBucket, compiler: SQLCompiler, **kw: Any) -> str:
    argument = _argument(element, compiler, **kw)
    return f"strftime(date_trunc('{element.grain.value}', {argument}), '%Y-%m-%d')"


@compiles(DaysBetween, "sqlite")
def _days_sqlite(element: DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(x, **kw) for x in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


@compiles(DaysBetween)
def _days_default(element: DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(x, **kw) for x in element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM CAST({end} AS TIMESTAMP)) - "
        f"EXTRACT(EPOCH FROM CAST({start} AS TIMESTAMP))) / 86400.0"
    )


@compiles(Percentile)  # PostgreSQL, DuckDB and the standard; SQLite has none (the plan refuses)
def _percentile_default(element: Percentile, compiler: SQLCompiler, **kw: Any) -> str:
    argument = _argument(element, compiler, **kw)
    return f"percentile_cont({element.fraction}) WITHIN GROUP (ORDER BY {argument})"


@cache
def register_duckdb_migrations() -> None:
    """Let Alembic migrate DuckDB (duckdb-engine ships no Alembic support of its own). Called
    before migrating, not at import: a question never needs Alembic."""
    from alembic.ddl.impl import DefaultImpl

    class DuckDBMigrations(DefaultImpl):  # registered with Alembic by being defined
        __dialect__ = "duckdb"
        transactional_ddl = True


@compiles(CreateColumn, "duckdb")
def _column_duckdb(element: CreateColumn, compiler: Any, **kw: Any) -> str:
    # duckdb-engine inherits PostgreSQL's SERIAL for integer keys, a type DuckDB lacks; the keys
    # are always given explicitly, so a plain integer column serves.
    text = str(compiler.visit_create_column(element, **kw))
    return text.replace(" BIGSERIAL", " BIGINT").replace(" SERIAL", " INTEGER")
