"""A suite file: the questions a team's app must answer, with what each answer must be.

DESIGN section 9 pins the format. A file is read and checked here, before anything runs: an
unknown key, a YAML error, a case with no expectation or two cases of one name is one line that
names the file, the case and the key (``SuiteError``, exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nl2sql.errors import ConfigError

EXPECTATIONS = ("value", "rows", "sql", "query", "answer_contains", "refused")
SUITE_SUFFIXES = (".yaml", ".yml")


class SuiteError(ConfigError):
    """A suite file cannot be read or checked: its name, the case and the key are in the
    message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expect(_Strict):
    """What one answer must be. Only the keys a case writes are checked (`given`)."""

    value: Any = None
    rows: list[list[Any]] | None = None
    ordered: bool = False  # rows (and sql's rows) must come in this order
    sql: str | None = None
    query: dict[str, Any] | None = None
    answer_contains: list[str] = Field(default_factory=list)
    refused: bool | None = None

    @field_validator("answer_contains", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | int | float) else value

    @property
    def given(self) -> list[str]:
        """The expectations this case states, in the pinned order."""
        return [key for key in EXPECTATIONS if key in self.model_fields_set]


class Case(_Strict):
    name: str = Field(min_length=1)
    question: str = Field(min_length=1)
    customer: int | None = Field(default=None, gt=0, lt=2**31)
    today: date | None = None
    expect: Expect


class SuiteFile(_Strict):
    database: str | None = None
    config: str | None = None
    today: date | None = None
    model: str | None = None
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class Suite:
    """A checked suite file; `path` names it in every message and report."""

    path: Path
    spec: SuiteFile

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def cases(self) -> list[Case]:
        return self.spec.cases

    def problem(self, case: Case | None, key: str, message: str) -> SuiteError:
        return SuiteError(f"{self.path}: {where(self.spec, case, key)}: {message}")


def where(spec: SuiteFile | None, case: Case | None, key: str) -> str:
    if case is None:
        return key
    return f"case '{case.name}', {key}" if key else f"case '{case.name}'"


def load_suite(path: str | Path) -> Suite:
    """Read and check one suite file (its database-dependent parts are checked by the run)."""
    path = Path(path)
    data = _read_yaml(path)
    try:
        spec = SuiteFile.model_validate(data)
    except ValidationError as error:
        raise SuiteError(f"{path}: {_first_problem(error, data)}") from None
    suite = Suite(path, spec)
    _check_cases(suite)
    return suite


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SuiteError(f"Cannot read the suite {path}: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise SuiteError(f"{path} is not UTF-8 text; save the suite as UTF-8.") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise SuiteError(f"{path}: {at}{problem} (the file is not valid YAML).") from None
    if not isinstance(data, dict):
        raise SuiteError(
            f"{path}: a suite is a mapping with a 'cases' list (see nl2sql test --help)."
        )
    return data


def _first_problem(error: ValidationError, data: dict[str, Any]) -> str:
    """The first validation problem, said as where it is (which case, which key) and what."""
    details = error.errors()[0]
    problem: dict[str, Any] = dict(details)
    location: list[Any] = list(details["loc"])
    prefix = ""
    if len(location) >= 2 and location[0] == "cases" and isinstance(location[1], int):
        index = location[1]
        prefix = f"{_case_label(data, index)}, "
        location = location[2:]
    key = ".".join(str(part) for part in location) or "cases"
    return prefix + _explain(problem, key, in_case=bool(prefix))


def _case_label(data: dict[str, Any], index: int) -> str:
    cases = data.get("cases")
    case = cases[index] if isinstance(cases, list) and index < len(cases) else None
    name = case.get("name") if isinstance(case, dict) else None
    return f"case '{name}'" if isinstance(name, str) and name else f"case {index + 1}"


def _explain(problem: dict[str, Any], key: str, *, in_case: bool) -> str:
    kind = problem["type"]
    leaf = key.rsplit(".", 1)[-1]
    if kind == "extra_forbidden":
        return f"unknown key '{key}'; {_known_keys(key, in_case)}"
    if kind == "missing":
        return f"'{key}' is missing"
    if kind in ("too_short", "string_too_short") and leaf == "cases":
        return "'cases' is empty; write at least one case"
    return f"'{key}': {problem['msg']}"


def _known_keys(key: str, in_case: bool) -> str:
    owner: type[BaseModel] = SuiteFile
    if in_case:
        owner = Expect if key.startswith("expect.") else Case
    names = ", ".join(owner.model_fields)
    return f"the keys here are {names}"


def _check_cases(suite: Suite) -> None:
    seen: set[str] = set()
    for case in suite.cases:
        if case.name in seen:
            raise suite.problem(case, "name", "two cases have this name; names must be unique")
        seen.add(case.name)
        _check_expect(suite, case)


def _check_expect(suite: Suite, case: Case) -> None:
    given = case.expect.given
    if not given:
        raise suite.problem(
            case, "expect", f"no expectation; give one or more of {', '.join(EXPECTATIONS)}"
        )
    if case.expect.refused and set(given) - {"refused", "answer_contains"}:
        others = ", ".join(key for key in given if key not in ("refused", "answer_contains"))
        raise suite.problem(
            case, "expect", f"refused: true cannot be checked with {others} (a refusal has no rows)"
        )
    if case.expect.ordered and not {"rows", "sql"} & set(given):
        raise suite.problem(case, "expect.ordered", "ordered applies to rows or sql; give one")
