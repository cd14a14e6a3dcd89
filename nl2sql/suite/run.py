"""Run suites: every case through the same Agent as `nl2sql ask`, then its expectations.

All files are read and checked before any case runs (a bad file is one line and nothing runs),
including what needs the database: a `query` expectation must be a valid tool call there and a
reference `sql` must run. Each case gets a new conversation; cases run in parallel threads when
the model is remote (`jobs`), and outcomes come back in the suites' order.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc

from nl2sql import database
from nl2sql.agent import ANSWERED, Agent, Turn
from nl2sql.config import load_config
from nl2sql.errors import NL2SQLError, QueryValidationError, first_line
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.models.backends import Backend, answers_offline, choose_backend
from nl2sql.suite.cassettes import Cassette, recording_backend, replay_backend
from nl2sql.suite.compare import Got, Mismatch, check, normal_query
from nl2sql.suite.spec import Case, Suite, SuiteError, load_suite

PASSED, FAILED, ERROR = "passed", "failed", "error"
MAX_REFERENCE_ROWS = 10_000
REMOTE_JOBS = 4  # parallel cases against a remote model; in-process ones share one core


@dataclass(frozen=True)
class RunOptions:
    """What the command line says; each overrides the suite file's own setting."""

    db: str | None = None
    config: str | None = None
    model: str | None = None
    record: Path | None = None
    replay: Path | None = None
    jobs: int | None = None  # None: 1 for in-process models and replays, else REMOTE_JOBS
    timeout: float | None = None
    max_retries: int | None = None
    api: str | None = None

    def workers(self, model: str | None) -> int:
        if self.jobs is not None:
            return self.jobs
        return 1 if self.replay or answers_offline(model) else REMOTE_JOBS


@dataclass
class Outcome:
    """One case's verdict: passed, failed (mismatches) or error (the question could not be
    asked: the model or the database failed, or a replay found no cassette)."""

    suite: Suite
    case: Case
    verdict: str
    seconds: float
    mismatches: list[Mismatch] = field(default_factory=list)
    error: str = ""
    got: Got | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def failure_text(self) -> str:
        """The diff shown for a failed case (empty when it passed)."""
        if self.verdict == ERROR:
            return f"error: {self.error}"
        lines = [mismatch.text() for mismatch in self.mismatches]
        if lines and self.got is not None:
            lines += _what_ran(self.got)
        return "\n".join(lines)


def _what_ran(got: Got) -> list[str]:
    lines = []
    if got.understood:
        lines.append(f"understood: {got.understood}")
    if got.sql:
        lines.append("sql: " + " ".join(line.strip() for line in got.sql.splitlines()))
    if got.query is not None:
        lines.append(f"tool call: {json.dumps(got.query, ensure_ascii=False)}")
    return lines


class SuiteRun:
    """One checked suite on its database: the reference rows computed, cases ready to run."""

    def __init__(self, suite: Suite, options: RunOptions) -> None:
        self.suite, self.options = suite, options
        spec = suite.spec
        self.config = load_config(options.config or spec.config)
        configured = spec.database or (self.config.database if self.config else None)
        self.model = options.model or spec.model
        self.db = ReadOnlyDatabase(database.choose_url(options.db, configured), config=self.config)
        self.reference: dict[str, list[list[Any]]] = {}
        try:
            self._check_against_database()
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def _check_against_database(self) -> None:
        for case in self.suite.cases:
            if case.expect.query is not None:
                try:
                    normal_query(self.db.tool, case.expect.query)
                except QueryValidationError as error:
                    raise self.suite.problem(case, "expect.query", first_line(error)) from None
            if case.expect.sql is not None:
                self.reference[case.name] = self._reference_rows(case, case.expect.sql)

    def _reference_rows(self, case: Case, sql: str) -> list[list[Any]]:
        """The rows of a case's reference SQL, read on the same read-only door as the cases
        (unscoped: the SQL states any customer filter itself)."""
        try:
            with self.db.connect() as connection:
                result = connection.exec_driver_sql(sql)
                rows = result.fetchmany(MAX_REFERENCE_ROWS + 1) if result.returns_rows else None
        except (sa_exc.SQLAlchemyError, NL2SQLError) as error:
            reason = first_line(getattr(error, "orig", None) or error)
            if "authoriz" in reason or "read-only" in reason or "read only" in reason:
                reason += " (it runs read-only: give a SELECT)"
            raise self.suite.problem(case, "expect.sql", f"the SQL failed: {reason}") from None
        if rows is None:
            raise self.suite.problem(case, "expect.sql", "the SQL returns no rows; give a SELECT")
        if len(rows) > MAX_REFERENCE_ROWS:
            raise self.suite.problem(
                case, "expect.sql", f"more than {MAX_REFERENCE_ROWS:,} rows; compare less at once"
            )
        return [list(row) for row in rows]

    def today(self, case: Case) -> date:
        chosen = case.today or self.suite.spec.today
        if chosen is not None:
            return chosen
        from_env = os.environ.get("NL2SQL_TODAY")
        return date.fromisoformat(from_env) if from_env else date.today()

    def run(self, case: Case) -> Outcome:
        started = time.perf_counter()
        cassette: Cassette | None = None
        try:
            backend, cassette = self._backend(case)
            with self._agent(case, backend) as agent:
                turn = agent.ask(case.question)
        except NL2SQLError as error:
            message = cassette.misses[0] if cassette and cassette.misses else first_line(error)
            return Outcome(self.suite, case, ERROR, _since(started), error=message)
        finally:
            if cassette is not None and self.options.record and cassette.exchanges:
                cassette.save()
        got = got_of(turn)
        mismatches = check(case.expect, got, self.db.tool, self.reference.get(case.name))
        verdict = FAILED if mismatches else PASSED
        return Outcome(self.suite, case, verdict, _since(started), mismatches, got=got)

    def _backend(self, case: Case) -> tuple[Backend | None, Cassette | None]:
        options = self.options
        folder = options.record or options.replay
        if folder is None:
            return None, None
        if options.replay:
            cassette = Cassette.load(Cassette.for_case(folder, self.suite.name, case.name).path)
            return replay_backend(cassette), cassette
        cassette = Cassette.for_case(folder, self.suite.name, case.name)
        backend = choose_backend(
            self.model,
            db=self.db,
            today=self.today(case),
            customer_id=case.customer,
            timeout=options.timeout,
            max_retries=options.max_retries,
            api=options.api,
        )
        return recording_backend(backend, cassette), cassette

    def _agent(self, case: Case, backend: Backend | None) -> Agent:
        return Agent(
            self.db,
            model=self.model,
            backend=backend,
            customer_id=case.customer,
            today=self.today(case),
            timeout=self.options.timeout,
            max_retries=self.options.max_retries,
            api=None if backend is not None else self.options.api,
        )


def _since(started: float) -> float:
    return time.perf_counter() - started


def got_of(turn: Turn) -> Got:
    """What a case's expectations read from the agent's turn."""
    run = turn.last_result
    result = run.result if run and turn.status == ANSWERED else None
    query = None
    if result is not None and run is not None:
        try:
            query = json.loads(run.arguments)
        except ValueError:
            query = result.query or None
    return Got(
        answer=turn.answer,
        refused=turn.status != ANSWERED,
        understood=turn.understood,
        query=query,
        sql=result.sql if result else None,
        columns=list(result.columns) if result else [],
        rows=[list(row) for row in result.rows] if result else [],
    )


def load_suites(paths: list[Path]) -> list[Suite]:
    if not paths:
        raise SuiteError("Name at least one suite file: nl2sql test SUITE.yaml")
    return [load_suite(path) for path in paths]


@contextmanager
def opened(suites: list[Suite], options: RunOptions) -> Iterator[list[SuiteRun]]:
    """Every suite on its database, checked; all closed afterwards."""
    if options.replay is not None and not options.replay.is_dir():
        raise SuiteError(
            f"--replay {options.replay}: no such folder of cassettes; record one first with "
            f"--record {options.replay}."
        )
    with ExitStack() as stack:
        runs = []
        for suite in suites:
            run = SuiteRun(suite, options)
            stack.callback(run.close)
            runs.append(run)
        yield runs


def run_all(
    runs: list[SuiteRun], options: RunOptions, on_done: Callable[[Outcome], None] | None = None
) -> list[Outcome]:
    """Every case of every suite, in parallel up to the options' workers; results in order."""
    work = [(run, case) for run in runs for case in run.suite.cases]
    workers = max(1, min(len(work), max(run_workers(run, options) for run in runs)))

    def one(item: tuple[SuiteRun, Case]) -> Outcome:
        outcome = item[0].run(item[1])
        if on_done is not None:
            on_done(outcome)
        return outcome

    if workers == 1:
        return [one(item) for item in work]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nl2sql-case") as pool:
        return list(pool.map(one, work))


def run_workers(run: SuiteRun, options: RunOptions) -> int:
    return options.workers(run.model)


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    passed = sum(outcome.passed for outcome in outcomes)
    errors = sum(outcome.verdict == ERROR for outcome in outcomes)
    total = len(outcomes)
    return {
        "passed": passed,
        "failed": total - passed,
        "errors": errors,
        "total": total,
        "accuracy": round(passed / total, 4) if total else 0.0,
    }
