"""Run compiled queries on a read-only connection, with a time limit and a row cap.

Every statement goes through one door, ``ReadOnlyDatabase.connect(customer_id)``: a read-only,
time-limited session set up by the engine's recipe (``engines.py``); on PostgreSQL a tenant's
session logs in as the SELECT-only role under row-level security (``row_security.py``), after a
self-check. Nothing here can write to the database.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, select
from sqlalchemy import exc as sa_exc

from nl2sql import audit, database, row_security
from nl2sql.catalog import Catalog
from nl2sql.compiler import Compiled, Compiler, scoped_source
from nl2sql.config import Config, as_config
from nl2sql.deadline import timed_out as question_timed_out
from nl2sql.engines import DEADLINE, Session, read_only_engine, recipe_for
from nl2sql.errors import (
    ConfigError,
    DatabaseError,
    DatabaseUnavailableError,
    NL2SQLError,
    QueryTimeoutError,
    first_line,
)
from nl2sql.lru import Recent
from nl2sql.query import QueryTool, build_tool, configured_tool, hidden_columns_from_env
from nl2sql.reflect import load_catalog
from nl2sql.row_security import READER_ROLE
from nl2sql.settings import env_seconds
from nl2sql.understood import describe

DEFAULT_TIMEOUT_SECONDS = 10.0
QUERY_TIMEOUT_ENV = "NL2SQL_QUERY_TIMEOUT"


@dataclass
class Result:
    """The outcome of one query: what the model and the user are shown."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    render_sql: Callable[[], str] = field(default=lambda: "", repr=False, compare=False)
    elapsed_ms: float = 0.0
    query: dict[str, Any] = field(default_factory=dict)
    understood: str = ""  # what the query counted or listed, in English (understood.py)

    @cached_property
    def sql(self) -> str:
        """The SQL with its parameters written in, for people to read. Rendered on first use:
        writing the values in costs more than running a small query, and a result the model
        reads (a tool message) never shows it."""
        return self.render_sql()

    def to_json(self, max_rows: int | None = None, *, with_sql: bool = True) -> dict[str, Any]:
        """JSON-ready fields. `truncated`: the query had more rows than `row_count`.

        With `max_rows` (what the model is shown), `rows_shown` says how many of the
        `row_count` rows are included; without `with_sql`, `sql` is null.
        """
        rows = self.rows if max_rows is None else self.rows[:max_rows]
        payload = {
            "columns": self.columns,
            "rows": [[json_value(v) for v in row] for row in rows],
            "row_count": self.row_count,
            "truncated": self.truncated,
            "sql": self.sql if with_sql else None,
            "understood": self.understood,
        }
        if max_rows is not None:
            payload["rows_shown"] = len(rows)
        return payload


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def normalize(value: Any, kind: str) -> Any:
    """One Python type per kind on every backend (SQLite hands back floats and text)."""
    if value is None:
        return None
    if kind == "number":
        return round(float(value), 2)
    if kind == "fraction":  # a share or a relative change: 0.0360, not 0.04
        return round(float(value), 4)
    if kind == "integer":
        return int(value)
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value[:10])
    if kind == "date" and isinstance(value, datetime):
        return value.date()
    return value


PREPARED_KEPT = 256  # distinct tool calls kept compiled, per database


@dataclass(frozen=True)
class Prepared:
    """A tool call ready to run: its statement, what it asked, and that in English."""

    compiled: Compiled
    asked: dict[str, Any]
    understood: str


def prepared_key(
    query: BaseModel | str | dict[str, Any], customer: int | None, limit: int | None
) -> str | None:
    """The same call for the same tenant and cap: its arguments as canonical JSON (None for
    arguments that are not plain JSON, which are then never served from the cache)."""
    if isinstance(query, BaseModel):
        arguments = query.model_dump_json()
    elif isinstance(query, str):
        arguments = query
    else:
        try:
            arguments = json.dumps(query, sort_keys=True)
        except (TypeError, ValueError):
            return None
    return f"{customer}|{limit}|{arguments}"


class ReadOnlyDatabase:
    """A read-only view of one database: compile, run and describe Query tool calls."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float | None = None,
        tool: QueryTool | None = None,
        config: Config | str | Path | None = None,
    ) -> None:
        config = as_config(config)
        # for messages that name the fix: a config read from a file is named by its path
        self.config_path = config.path if config and Path(config.path).is_file() else None
        self.url = database.resolve_url(url)
        self.timeout = query_timeout() if timeout is None else timeout
        self.engine = read_only_engine(self.url, self.timeout)
        self.recipe = recipe_for(self.url)
        self.tool = tool or self._tool(config)
        self._tenant_engine: Engine | None = None  # PostgreSQL: made and checked on first use
        self._tenant_lock = threading.Lock()
        self._prepared_calls: Recent[str, Prepared] = Recent(PREPARED_KEPT)

    def _tool(self, config: Config | None) -> QueryTool:
        """The tool for this database: its catalog (built-in or reflected) and the config."""
        try:
            catalog = load_catalog(
                self.engine, config, hidden_columns_from_env(), where=database.display_url(self.url)
            )
        except sa_exc.DBAPIError as error:
            self.engine.dispose()
            raise database.describe_database_error(self.url, error) from error
        except NL2SQLError:
            self.engine.dispose()
            raise
        if catalog.builtin and config is None:
            return configured_tool()  # nl2sql's own schema as it is: the tool built once
        return build_tool(catalog)

    @property
    def catalog(self) -> Catalog:
        return self.tool.catalog

    def locations(self) -> tuple[str, ...]:
        """How messages may name this database (its URL as shown, its file): longest first."""
        names = {self.url, database.display_url(self.url)}
        path = database.sqlite_path(self.url)
        if path is not None:
            names |= {str(path), path.name}
        return tuple(sorted(names, key=len, reverse=True))

    def close(self) -> None:
        self.engine.dispose()
        if self._tenant_engine is not None and self._tenant_engine is not self.engine:
            self._tenant_engine.dispose()

    # -- the one door ----------------------------------------------------------------------

    @contextmanager
    def connect(
        self, customer_id: int | None = None, *, deadline: float | None = None
    ) -> Iterator[Connection]:
        """The connection every statement runs on: read-only, each statement limited to the
        query timeout and ending by `deadline` (a `time.monotonic()` value) if one is given.

        With a customer on PostgreSQL it logs in as the SELECT-only role and names the tenant
        for the row-level security policies, so even SQL that did not come from the compiler
        sees only that customer's rows. Elsewhere the compiler's scope is the only one.
        """
        engine = self._engine_for(customer_id)
        if deadline is not None and deadline <= time.monotonic():
            raise question_timed_out()
        ends = min(deadline if deadline is not None else math.inf, time.monotonic() + self.timeout)
        session = Session(customer_id, ends, self.catalog.readable)
        try:
            connection = engine.connect()
        except sa_exc.TimeoutError as error:
            raise DatabaseError(
                f"Every connection to {database.display_url(self.url)} stayed busy for "
                f"{engine.pool.timeout():g} s; try again in a moment."  # type: ignore[attr-defined]
            ) from error
        except sa_exc.DBAPIError as error:
            raise self._explain(error) from error
        with connection:
            connection.info[DEADLINE] = deadline if deadline is not None else math.inf
            try:
                with self.recipe.session(connection, session):
                    yield connection
                connection.rollback()  # nothing a session does is kept
            finally:
                connection.info.pop(DEADLINE, None)

    def _engine_for(self, customer_id: int | None) -> Engine:
        if self.recipe.tenant_engine is None:
            return self.engine
        if customer_id is None:
            if self.recipe.serves_one_tenant(self.url):
                raise ConfigError(
                    f"{database.display_url(self.url)} logs in as {READER_ROLE}, which sees one "
                    "customer's rows at a time: pass --customer, or connect as the tables' "
                    "owner to ask about every customer."
                )
            return self.engine
        with self._tenant_lock:  # threads share one database: one tenant engine, checked once
            if self._tenant_engine is None:
                tenant = self.recipe.tenant_engine(self.url, self.timeout) or self.engine
                try:
                    self._check_tenant_engine(tenant)
                except BaseException:
                    if tenant is not self.engine:
                        tenant.dispose()
                    raise
                self._tenant_engine = tenant
            return self._tenant_engine

    def _check_tenant_engine(self, tenant: Engine) -> None:
        """Refuse to serve a customer unless their session is safe on its own: the role
        cannot write or bypass row-level security, and every tenant table has its policy."""
        where = database.display_url(self.url)
        fix = row_security.fix_hint(where, self.config_path)
        try:
            with tenant.connect() as connection:
                found = row_security.problems(connection, self.catalog)
        except sa_exc.DBAPIError as error:
            raise DatabaseUnavailableError(
                f"Cannot log in to {where} as {READER_ROLE}, the role customer-scoped questions "
                f"run as ({first_line(error.orig or error)}). {fix} If the server asks for a "
                f"password, set {row_security.READER_PASSWORD_ENV}."
            ) from error
        if found:
            raise ConfigError(
                f"Refusing customer-scoped questions on {where}: {'; '.join(found)}. {fix}"
            )

    def __enter__(self) -> ReadOnlyDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        query: BaseModel | str | dict[str, Any],
        *,
        customer_id: int | None = None,
        limit_cap: int | None = None,
        deadline: float | None = None,
        question: str | None = None,
    ) -> Result:
        """Validate, compile and run one Query tool call; `question` is for the audit log.

        The tool boundary: anything but nl2sql's own errors is a bug, reported as one line
        (exit 1) that says so, never a traceback. Every call, run or refused, is audited.
        """
        started = time.perf_counter()
        try:
            result = self._run(query, customer_id, limit_cap, deadline)
        except NL2SQLError as error:
            self._audit(query, customer_id, question, started, None, error)
            raise
        self._audit(query, customer_id, question, started, result, None)
        return result

    def _run(
        self,
        query: BaseModel | str | dict[str, Any],
        customer_id: int | None,
        limit_cap: int | None,
        deadline: float | None,
    ) -> Result:
        try:
            prepared = self._prepared(query, customer_id, limit_cap)
            result = self.execute(prepared.compiled, deadline=deadline)
            result.query = copy.deepcopy(prepared.asked)
            result.understood = prepared.understood
        except NL2SQLError:
            raise
        except Exception as error:  # noqa: BLE001 - the one catch-all at the tool boundary
            raise NL2SQLError(
                f"nl2sql failed unexpectedly running this query ({type(error).__name__}: "
                f"{first_line(error, 'no detail')}). This is a bug: please report it with the "
                "question or the query."
            ) from error
        return result

    def _prepared(
        self, query: BaseModel | str | dict[str, Any], customer_id: int | None, limit: int | None
    ) -> Prepared:
        """The query validated, compiled and put in words: once per distinct call, since the
        same arguments always make the same statement (its values stay bound parameters)."""
        key = prepared_key(query, customer_id, limit)
        if key is None:
            return self._prepare(query, customer_id, limit)
        return self._prepared_calls.get(key, lambda: self._prepare(query, customer_id, limit))

    def _prepare(
        self, query: BaseModel | str | dict[str, Any], customer_id: int | None, limit: int | None
    ) -> Prepared:
        options = {"max_rows": limit} if limit else {}
        compiler = Compiler(
            self.tool, customer_id=customer_id, dialect=self.engine.dialect.name, **options
        )
        parsed = query if isinstance(query, BaseModel) else self.tool.parse(query)
        compiled = compiler.compile(parsed)
        # What was asked, without the newer parts it left at their "not used" defaults.
        asked = parsed.model_dump(mode="json", exclude_defaults=True)
        return Prepared(compiled, asked, describe(asked, self.tool, customer_id))

    def _audit(
        self,
        query: Any,
        customer_id: int | None,
        question: str | None,
        started: float,
        result: Result | None,
        error: NL2SQLError | None,
    ) -> None:
        if not audit.enabled():
            return
        audit.record(
            audit.Entry(
                database=database.display_url(self.url),
                tenant=customer_id,
                question=question,
                tool_call=audit.tool_call(query),
                sql=result.sql if result else None,
                row_count=result.row_count if result else None,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                outcome="ok" if error is None else audit.outcome_of(error),
                error=str(error) if error is not None else None,
            )
        )

    def distinct_values(
        self, column: str, *, customer_id: int | None, sample_rows: int, most: int
    ) -> list[Any] | None:
        """A stored column's distinct values among the first `sample_rows` rows the tenant may
        see, or None when there are more than `most` (a name column, not a filter). Bounded:
        it reads at most `sample_rows` rows, however large the table."""
        info = self.tool.columns[column]
        source = scoped_source(self.catalog, info.table, customer_id)
        sample = select(source.c[info.name].label("value")).limit(sample_rows).subquery()
        statement = select(sample.c.value).where(sample.c.value.is_not(None)).distinct()
        try:
            with self.connect(customer_id) as connection:
                rows = connection.execute(statement.limit(most + 1)).scalars().all()
        except sa_exc.DBAPIError as error:
            raise self._explain(error) from error
        return None if len(rows) > most else list(rows)

    def check_customer(self, customer_id: object) -> int | None:
        """The tenant id, checked: a positive whole number naming a customer that exists.

        Raises ConfigError otherwise, so a typo never shows an empty shop ("0 orders").
        """
        if customer_id is None:
            return None
        if isinstance(customer_id, bool) or not isinstance(customer_id, int) or customer_id < 1:
            raise ConfigError(
                f"customer_id must be a customer id (a positive whole number), not {customer_id!r}."
            )
        tenant = self.catalog.require_tenant(database.display_url(self.url))
        key = self.catalog.tables[tenant.table].c[tenant.column]
        try:
            with self.connect(customer_id) as connection:
                found = connection.execute(select(key).where(key == customer_id)).first()
        except sa_exc.DBAPIError as error:
            raise database.describe_database_error(self.url, error) from error
        if found is None:
            raise ConfigError(
                f"There is no customer {customer_id} in {database.display_url(self.url)}; "
                "check the id given to --customer."
            )
        return customer_id

    def execute(self, compiled: Compiled, *, deadline: float | None = None) -> Result:
        started = time.perf_counter()
        try:
            with self.connect(compiled.customer_id, deadline=deadline) as connection:
                rows = connection.execute(compiled.statement).fetchall()
        except sa_exc.DBAPIError as error:
            if deadline is not None and time.monotonic() >= deadline and is_cancelled(error.orig):
                raise question_timed_out() from error
            raise self._explain(error) from error
        truncated = len(rows) > compiled.limit
        rows = rows[: compiled.limit]
        table = [
            [normalize(v, k) for v, k in zip(row, compiled.kinds, strict=True)] for row in rows
        ]
        return Result(
            columns=compiled.labels,
            rows=table,
            row_count=len(table),
            truncated=truncated,
            render_sql=lambda: display_sql(compiled, self.engine),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def _explain(self, error: sa_exc.DBAPIError) -> DatabaseError:
        if is_cancelled(error.orig):
            return QueryTimeoutError(
                f"The query ran longer than {self.timeout:g} s and was cancelled. Narrow it "
                "with conditions (a date range, a status) or a smaller limit."
            )
        return database.describe_database_error(self.url, error)


def is_cancelled(driver_error: object) -> bool:
    """Whether the driver stopped a statement at its time limit, read from its error code."""
    return (
        getattr(driver_error, "sqlite_errorname", None) == "SQLITE_INTERRUPT"
        or getattr(driver_error, "sqlstate", None) == "57014"  # PostgreSQL query_canceled
        or type(driver_error).__name__ == "InterruptException"  # DuckDB
    )


def query_timeout() -> float:
    """Seconds a query may run: NL2SQL_QUERY_TIMEOUT, else the default."""
    return env_seconds(QUERY_TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS)


def display_sql(compiled: Compiled, engine: Engine) -> str:
    """The SQL with parameters written in, for people to read. Never executed."""
    statement = compiled.statement.limit(compiled.limit)  # as asked, not the +1 probe row
    try:
        text = statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        shown = str(text)
        if engine.dialect.paramstyle in ("format", "pyformat"):  # psycopg: '%' is written '%%'
            shown = shown.replace("%%", "%")  # what the server would see
        return shown
    except Exception:  # noqa: BLE001 - a type without a literal form: show placeholders instead
        plain = statement.compile(dialect=engine.dialect)
        return f"{plain}\n-- parameters: {plain.params}"


def run_query(
    query: BaseModel | str | dict[str, Any],
    url: str | None = None,
    *,
    customer_id: int | None = None,
    timeout: float | None = None,
    config: Config | str | Path | None = None,
) -> Result:
    """One-shot convenience: open the database read-only, run one Query, close."""
    with ReadOnlyDatabase(url, timeout=timeout, config=config) as db:
        return db.run(query, customer_id=db.check_customer(customer_id))
