"""The pytest plugin (entry point ``nl2sql``): every ``test_*.nl2sql.yaml`` is a suite and
every case in it one test item, failing with the same diff as ``nl2sql test``.

Installed with nl2sql, so a project needs no conftest: ``pytest`` finds the files. Options:
``--nl2sql-db``, ``--nl2sql-config``, ``--nl2sql-model``, ``--nl2sql-record DIR`` and
``--nl2sql-replay DIR``, as in ``nl2sql test``. nl2sql itself is imported only when a suite
file is collected, so the plugin costs nothing in projects without one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from nl2sql.suite.run import Outcome, RunOptions, SuiteRun
    from nl2sql.suite.spec import Case, Suite

SUITE_FILE_SUFFIXES = (".nl2sql.yaml", ".nl2sql.yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nl2sql", "nl2sql scripted query tests (test_*.nl2sql.yaml)")
    group.addoption("--nl2sql-db", metavar="URL", help="Database the suites ask (wins over theirs)")
    group.addoption("--nl2sql-config", metavar="PATH", help="nl2sql config file for the database")
    group.addoption("--nl2sql-model", metavar="NAME", help="Model name, or 'offline'")
    group.addoption("--nl2sql-record", metavar="DIR", help="Keep model exchanges as cassettes")
    group.addoption("--nl2sql-replay", metavar="DIR", help="Answer from cassettes, no model")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    name = file_path.name
    if name.startswith("test_") and name.endswith(SUITE_FILE_SUFFIXES):
        return SuiteItems.from_parent(parent, path=file_path)
    return None


def run_options(config: pytest.Config) -> RunOptions:
    from nl2sql.errors import ConfigError
    from nl2sql.suite.run import RunOptions

    record, replay = config.getoption("nl2sql_record"), config.getoption("nl2sql_replay")
    if record and replay:
        raise pytest.UsageError("Give --nl2sql-record DIR or --nl2sql-replay DIR, not both.")
    if replay and not Path(replay).is_dir():
        raise pytest.UsageError(str(ConfigError(f"--nl2sql-replay {replay}: no such folder.")))
    return RunOptions(
        db=config.getoption("nl2sql_db"),
        config=config.getoption("nl2sql_config"),
        model=config.getoption("nl2sql_model"),
        record=Path(record) if record else None,
        replay=Path(replay) if replay else None,
        jobs=1,
    )


class SuiteItems(pytest.File):
    """One suite file; it opens its database once, when its first case runs."""

    suite_run: SuiteRun | None = None

    def collect(self) -> Any:
        from nl2sql.errors import NL2SQLError
        from nl2sql.suite.spec import load_suite

        try:
            suite = load_suite(self.path)
        except NL2SQLError as error:
            raise self.CollectError(str(error)) from None
        for case in suite.cases:
            yield CaseItem.from_parent(self, name=case.name, suite=suite, case=case)

    def opened(self, suite: Suite) -> SuiteRun:
        if self.suite_run is None:
            from nl2sql.suite.run import SuiteRun

            self.suite_run = SuiteRun(suite, run_options(self.config))
            self.config.add_cleanup(self.suite_run.close)
        return self.suite_run


class CaseFailed(Exception):
    """A case missed its expectations, or could not run."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.failure_text())
        self.outcome = outcome


class CaseItem(pytest.Item):
    def __init__(self, *, suite: Suite, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite, self.case = suite, case

    def runtest(self) -> None:
        from nl2sql.errors import NL2SQLError

        assert isinstance(self.parent, SuiteItems)
        try:
            outcome = self.parent.opened(self.suite).run(self.case)
        except NL2SQLError as error:  # the suite's database or reference SQL
            raise SuiteProblem(str(error)) from None
        if not outcome.passed:
            raise CaseFailed(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed | SuiteProblem):
            question = f"question: {self.case.question}"
            return f"{question}\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.suite.name}::{self.case.name}"


class SuiteProblem(Exception):
    """The suite file could not run on its database (shown as one line, no traceback)."""
