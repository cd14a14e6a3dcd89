"""Whether an answer meets a case's expectations, and a diff that shows where it does not.

Cells are compared after one normalisation on every backend and in YAML: numbers of any type
agree to the decimals the less precise one shows (at least 2: nl2sql rounds amounts to cents),
booleans are 0/1, dates and datetimes compare by their ISO text (midnight is the date). Rows
are a multiset unless the case says `ordered: true`. A tool call is compared after filling the
defaults and sorting every list whose order does not change the answer.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, get_args

from pydantic import BaseModel

from nl2sql.query import QueryTool
from nl2sql.suite.spec import Expect

SHOWN_ROWS = 5  # rows of a difference listed in a diff
MIN_DECIMALS = 2
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


@dataclass
class Got:
    """What the agent did with one question: its answer (or the refusal's reason) and the
    last query that ran."""

    answer: str = ""
    refused: bool = False
    understood: str = ""
    query: dict[str, Any] | None = None
    sql: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Mismatch:
    """One expectation the answer did not meet: what was wanted, what came, and the diff."""

    expectation: str
    expected: str
    got: str
    diff: str = ""

    def text(self) -> str:
        lines = [f"{self.expectation}: expected {self.expected}, got {self.got}"]
        if self.diff:
            lines.append(self.diff)
        return "\n".join(lines)


def check(
    expect: Expect, got: Got, tool: QueryTool, reference_rows: list[list[Any]] | None = None
) -> list[Mismatch]:
    """Every expectation of `expect` that `got` misses (empty: the case passed)."""
    if expect.refused:
        if not got.refused:
            return [Mismatch("refused", "a refusal", f"an answer: {one_line(got.answer)}")]
        return _contains(expect, got)
    if got.refused:
        return [Mismatch("refused", "an answer", f"a refusal: {one_line(got.answer)}")]
    problems = _contains(expect, got)
    given = expect.given
    if "value" in given:
        problems += _value(expect.value, got)
    if "rows" in given and expect.rows is not None:
        problems += _rows("rows", expect.rows, got.rows, expect.ordered)
    if "sql" in given and reference_rows is not None:
        problems += _rows("sql", reference_rows, got.rows, expect.ordered)
    if "query" in given and expect.query is not None:
        problems += _query(tool, expect.query, got.query)
    return problems


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- cells ---------------------------------------------------------------------------------------


def cell(value: Any) -> Any:
    """One comparable form of a cell, whatever the backend or YAML made of it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal | int | float):
        return float(value)
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.match(value):
        return cell(datetime.fromisoformat(value))
    return value


def cells_equal(left: Any, right: Any) -> bool:
    a, b = cell(left), cell(right)
    if isinstance(a, float) and isinstance(b, float):
        decimals = max(MIN_DECIMALS, min(_decimals(a), _decimals(b)))
        return abs(a - b) <= 0.5 * 10**-decimals + 1e-9 * max(abs(a), abs(b), 1.0)
    return bool(a == b)


def _decimals(number: float) -> int:
    try:
        exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    except InvalidOperation:  # inf, nan
        return 0
    return max(0, -exponent) if isinstance(exponent, int) else 0


def rows_equal(left: list[Any], right: list[Any]) -> bool:
    if len(left) != len(right):
        return False
    return all(cells_equal(a, b) for a, b in zip(left, right, strict=True))


def shown(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


# -- expectations --------------------------------------------------------------------------------


def _contains(expect: Expect, got: Got) -> list[Mismatch]:
    text = " ".join(got.answer.split()).casefold()
    missing = [
        part
        for part in expect.answer_contains
        if " ".join(str(part).split()).casefold() not in text
    ]
    if not missing:
        return []
    what = "refusal" if got.refused else "answer"
    return [
        Mismatch("answer_contains", shown(missing), f"the {what} {shown(one_line(got.answer))}")
    ]


def _value(expected: Any, got: Got) -> list[Mismatch]:
    if len(got.rows) != 1:
        return [
            Mismatch(
                "value",
                shown(expected),
                f"{len(got.rows)} rows (value checks a one-row answer; use rows or sql for more)",
            )
        ]
    actual = got.rows[0][-1] if got.rows[0] else None
    if cells_equal(expected, actual):
        return []
    detail = ""
    if len(got.rows[0]) > 1:
        detail = (
            f"  (value checks the last column, {got.columns[-1]}; the row: {shown(got.rows[0])})"
        )
    return [Mismatch("value", shown(expected), shown(actual), detail)]


def _rows(
    key: str, expected: list[list[Any]], got: list[list[Any]], ordered: bool
) -> list[Mismatch]:
    diff = _ordered_diff(expected, got) if ordered else _unordered_diff(expected, got)
    if not diff:
        return []
    source = " (the reference SQL's)" if key == "sql" else ""
    widths = _widths(expected), _widths(got)
    if widths[0] and widths[1] and widths[0] != widths[1]:
        diff = f"  the rows have {widths[0]} column(s), the answer's {widths[1]}\n{diff}"
    return [Mismatch(key, f"{_count(expected)}{source}", _count(got), diff)]


def _count(rows: list[list[Any]]) -> str:
    return f"{len(rows)} row" + ("" if len(rows) == 1 else "s")


def _widths(rows: list[list[Any]]) -> str:
    return "/".join(sorted({str(len(row)) for row in rows}))


def _ordered_diff(expected: list[list[Any]], got: list[list[Any]]) -> str:
    lines = []
    for index in range(max(len(expected), len(got))):
        want = expected[index] if index < len(expected) else None
        have = got[index] if index < len(got) else None
        if want is None or have is None or not rows_equal(want, have):
            lines.append(f"  row {index + 1}: expected {shown(want)}, got {shown(have)}")
        if len(lines) == SHOWN_ROWS:
            break
    return "\n".join(lines)


def _unordered_diff(expected: list[list[Any]], got: list[list[Any]]) -> str:
    unmatched = list(got)
    missing = []
    for row in expected:
        index = next((i for i, have in enumerate(unmatched) if rows_equal(row, have)), None)
        if index is None:
            missing.append(row)
        else:
            unmatched.pop(index)
    lines = [f"  - {shown(row)}" for row in missing[:SHOWN_ROWS]]
    lines += [f"  + {shown(row)}" for row in unmatched[:SHOWN_ROWS]]
    if not lines:
        return ""
    more = len(missing) + len(unmatched) - len(lines)
    legend = "  (- expected, not in the answer; + in the answer, not expected)"
    return "\n".join([legend, *lines] + ([f"  … and {more} more"] if more > 0 else []))


def _query(tool: QueryTool, expected: dict[str, Any], got: dict[str, Any] | None) -> list[Mismatch]:
    want = normal_query(tool, expected)
    if got is None:
        return [Mismatch("query", "a tool call", "no query that ran")]
    have = normal_query(tool, got)
    if want == have:
        return []
    diff = difflib.unified_diff(
        pretty(want).splitlines(), pretty(have).splitlines(), "expected", "got", lineterm="", n=1
    )
    body = "\n".join(f"  {line}" for line in diff)
    return [Mismatch("query", "the tool call in the suite", "another one", body)]


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


# -- tool calls ----------------------------------------------------------------------------------

ORDERED_LISTS = frozenset({"order_by"})  # their order changes the answer


def normal_query(tool: QueryTool, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tool call as a comparable value: validated (raises QueryValidationError), defaults
    filled, every list whose order does not matter sorted."""
    parsed = tool.parse(with_defaults(tool.Query, arguments))
    dumped = parsed.model_dump(mode="json", exclude_defaults=True)
    return _canonical(dumped)  # type: ignore[no-any-return]


def _canonical(node: Any, key: str = "", owner: dict[str, Any] | None = None) -> Any:
    if isinstance(node, dict):
        return {name: _canonical(value, name, node) for name, value in sorted(node.items())}
    if isinstance(node, list):
        items = [_canonical(item, key) for item in node]
        between = key == "value" and owner is not None and owner.get("operator") == "between"
        if key in ORDERED_LISTS or between:
            return items
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return node


def with_defaults(model: type[BaseModel], data: Any) -> Any:
    """`data` with the fields a writer may leave out filled: null where the tool allows null,
    [] for a list. The strict tool requires them; a suite need not spell them out."""
    if not isinstance(data, dict):
        return data
    filled = dict(data)
    for name, info in model.model_fields.items():
        if name not in filled and info.is_required():
            empty = _empty(info.annotation)
            if empty is not _NO_EMPTY:
                filled[name] = empty
        elif name in filled:
            filled[name] = _nested(info.annotation, filled[name])
    return filled


_NO_EMPTY = object()


def _empty(annotation: Any) -> Any:
    if getattr(annotation, "__origin__", None) is list:
        return []
    if type(None) in get_args(annotation):
        return None
    return _NO_EMPTY


def _nested(annotation: Any, value: Any) -> Any:
    models = [
        kind
        for kind in _leaf_types(annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel)
    ]
    if len(models) != 1:
        return value
    if isinstance(value, list):
        return [with_defaults(models[0], item) for item in value]
    return with_defaults(models[0], value)


def _leaf_types(annotation: Any) -> list[Any]:
    arguments = get_args(annotation)
    if not arguments:
        return [annotation]
    return [leaf for argument in arguments for leaf in _leaf_types(argument)]
