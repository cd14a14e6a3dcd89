"""Relative and absolute date expressions -> inclusive day ranges, against a given today.

Conventions (tests/fixtures/questions.toml): ranges that include today stop at today, weeks run
Monday..Sunday, "last month/quarter/year" is the previous calendar period, "past N days" is the
N days ending today inclusive, "older than N days" is strictly before today - N.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
ORDINAL_QUARTERS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "last": 4,
}
UNIT_DAYS = {"day": 1, "week": 7}

_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:19|20)\d\d"
_REL_YEAR = r"(?:this year|last year|(?:the )?previous year|" + _YEAR + ")"


@dataclass(frozen=True)
class DateRange:
    """Inclusive calendar days; None means open on that side."""

    start: date | None
    end: date | None
    label: str  # what was understood, e.g. "2025-03-01 to 2025-03-31"


@dataclass(frozen=True)
class Found:
    range: DateRange
    span: tuple[int, int]  # character span in the text it was found in


def month_range(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    return start, start + relativedelta(months=1) - timedelta(days=1)


def quarter_range(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, 3 * (quarter - 1) + 1, 1)
    return start, start + relativedelta(months=3) - timedelta(days=1)


def _cap(start: date, end: date, today: date) -> DateRange:
    """A period that includes today stops at today."""
    end = min(end, today) if start <= today else end
    return DateRange(start, end, f"{start.isoformat()} to {end.isoformat()}")


def _year_of(text: str | None, today: date, month: int | None = None) -> int:
    """The year a phrase names; a month without a year is the latest such month so far."""
    if text is None:
        if month is not None and month > today.month:
            return today.year - 1
        return today.year
    if text == "this year":
        return today.year
    if text in ("last year", "previous year", "the previous year"):
        return today.year - 1
    return int(text)


def _number(text: str) -> int:
    return 1 if text in ("a", "an", "one") else int(text)


def _period(unit: str, offset: int, today: date) -> tuple[date, date]:
    """The calendar week/month/quarter/year `offset` periods from the current one."""
    if unit == "week":
        start = today - timedelta(days=today.weekday()) + timedelta(weeks=offset)
        return start, start + timedelta(days=6)
    if unit == "month":
        start = date(today.year, today.month, 1) + relativedelta(months=offset)
        return month_range(start.year, start.month)
    if unit == "quarter":
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        start = first + relativedelta(months=3 * offset)
        return quarter_range(start.year, (start.month - 1) // 3 + 1)
    start = date(today.year + offset, 1, 1)
    return start, date(start.year, 12, 31)


# A "point" is an expression naming one period: a day, a month, a quarter, a year, ...
HOLIDAYS = {
    "christmas eve": (12, 24),
    "christmas": (12, 25),
    "christmas day": (12, 25),
    "new year eve": (12, 31),
    "new years eve": (12, 31),
    "new year day": (1, 1),
    "new years day": (1, 1),
    "halloween": (10, 31),
    "valentine day": (2, 14),
    "valentines day": (2, 14),
}
_HOLIDAY = "|".join(sorted(HOLIDAYS, key=len, reverse=True))
_POINT_PATTERNS: list[str] = [
    rf"(?:on )?(?P<holiday>{_HOLIDAY})(?: (?:of )?(?P<h_year>{_REL_YEAR}))?",
    r"(?P<iso>\d{4}-\d{1,2}-\d{1,2})",
    rf"(?P<md_month>{_MONTH}) (?P<md_day>\d{{1,2}})(?:st|nd|rd|th)?,? (?P<md_year>{_YEAR})",
    rf"(?P<dm_day>\d{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<dm_month>{_MONTH}),? (?P<dm_year>{_YEAR})",
    r"(?P<q>q[1-4])(?: of)?(?: (?P<q_year>" + _REL_YEAR + "))?",
    r"(?:the )?(?P<qo>first|1st|second|2nd|third|3rd|fourth|4th) quarter(?: of)?"
    r"(?: (?P<qo_year>" + _REL_YEAR + "))?",
    rf"(?P<month>{_MONTH})(?: of)?(?: (?P<m_year>{_REL_YEAR}))?",
    r"(?P<rel>this|last|previous|past|current) (?P<rel_unit>week|month|quarter|year)",
    r"(?P<today>today|tonight|this morning)",
    r"(?P<dby>(?:the )?day before yesterday)",
    r"(?P<yesterday>yesterday)",
    r"(?P<year>" + _YEAR + r")(?! dollars| usd| units| orders)",
]
_POINT = re.compile(r"\b(?:" + "|".join(_POINT_PATTERNS) + r")\b")


def _point(match: re.Match[str], today: date) -> tuple[date, date] | None:
    g = match.groupdict()
    if g["iso"]:
        try:
            day = date.fromisoformat("-".join(p.zfill(2) for p in g["iso"].split("-")))
        except ValueError:
            return None
        return day, day
    if g["holiday"]:
        month, day_of_month = HOLIDAYS[g["holiday"]]
        year = _year_of(g["h_year"], today)
        holiday = date(year, month, day_of_month)
        if g["h_year"] is None and holiday > today:
            holiday = date(year - 1, month, day_of_month)  # the latest one so far
        return holiday, holiday
    for prefix in ("md", "dm"):
        if g[f"{prefix}_month"]:
            try:
                day = date(
                    int(g[f"{prefix}_year"]),
                    MONTHS[g[f"{prefix}_month"].rstrip(".")],
                    int(g[f"{prefix}_day"]),
                )
            except ValueError:
                return None
            return day, day
    if g["q"]:
        quarter = int(g["q"][1])
        return quarter_range(_year_of(g["q_year"], today), quarter)
    if g["qo"]:
        return quarter_range(_year_of(g["qo_year"], today), ORDINAL_QUARTERS[g["qo"]])
    if g["month"]:
        month = MONTHS[g["month"].rstrip(".")]
        if month == 5 and g["month"] == "may" and not g["m_year"]:
            return None  # "may" is usually the verb
        return month_range(_year_of(g["m_year"], today, month), month)
    if g["rel"]:
        offset = -1 if g["rel"] in ("last", "previous", "past") else 0
        return _period(g["rel_unit"], offset, today)
    if g["today"]:
        return today, today
    if g["dby"]:
        day = today - timedelta(days=2)
        return day, day
    if g["yesterday"]:
        day = today - timedelta(days=1)
        return day, day
    if g["year"]:
        return date(int(g["year"]), 1, 1), date(int(g["year"]), 12, 31)
    return None


_N = r"(?P<n>\d+|a|an|one)"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_RANGES: list[tuple[str, re.Pattern[str]]] = [
    ("older", re.compile(rf"\b(?:older than|more than|over) {_N} {_UNIT}(?: old| ago)?\b")),
    (
        "within",
        re.compile(
            rf"\b(?:(?:in|over|during|within) )?(?:the )?(?:past|last|previous) "
            rf"{_N} {_UNIT}\b"
        ),
    ),
    ("ago", re.compile(rf"\b{_N} {_UNIT} ago\b")),
]
_PART_OF = re.compile(rf"\b(?:the )?(?P<side>first|last|final) (?:{_N} )?{_UNIT} (?:of|in) ")
_PREFIX = re.compile(r"\b(?P<word>since|after|before|until|till)$")


def _shift(today: date, n: int, unit: str) -> date:
    if unit in UNIT_DAYS:
        return today - timedelta(days=n * UNIT_DAYS[unit])
    return today - (relativedelta(months=n) if unit == "month" else relativedelta(years=n))


def _relative(kind: str, match: re.Match[str], today: date, add: Any) -> None:
    n, unit = _number(match["n"]), match["unit"]
    if kind == "older":
        cutoff = _shift(today, n, unit)
        add(None, cutoff - timedelta(days=1), match.span(), f"before {cutoff.isoformat()}")
    elif kind == "within":
        add(_shift(today, n, unit) + timedelta(days=1), today, match.span())
    else:
        day = _shift(today, n, unit)
        add(day, day, match.span())


def find_dates(text: str, today: date) -> list[Found]:
    """Every date expression in `text` (lower case), left to right, without overlaps."""
    found: list[Found] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    def add(start: date | None, end: date | None, span: tuple[int, int], label: str = "") -> None:
        if not label:
            label = (
                f"{start.isoformat()} to {end.isoformat()}"
                if start and end and start != end
                else f"on {start.isoformat()}"
                if start and end
                else f"before {end + timedelta(days=1)}"
                if end
                else f"since {start}"
            )
        found.append(Found(DateRange(start, end, label), span))
        taken.append(span)

    for kind, regex in _RANGES:
        for match in regex.finditer(text):
            if free(*match.span()):
                _relative(kind, match, today, add)

    points = [(m, _point(m, today)) for m in _POINT.finditer(text)]
    points = [(m, p) for m, p in points if p is not None and free(*m.span())]
    used: set[int] = set()
    for index, (match, period) in enumerate(points):
        if index in used or period is None:
            continue
        start, end = period
        before = text[: match.start()].rstrip()
        between = re.search(r"\b(between|from)$", before)
        if between and index + 1 < len(points):
            gap = text[match.end() : points[index + 1][0].start()].strip()
            if gap in ("and", "to", "until", "till", "through", "-"):
                other = points[index + 1][1]
                assert other is not None
                used.add(index + 1)
                add(start, other[1], (between.start(), points[index + 1][0].end()))
                continue
        part = _PART_OF.search(text[: match.start()])
        if part and part.end() == match.start():  # "the first 3 months of 2025"
            n, unit = _number(part["n"] or "1"), part["unit"]
            delta = (
                relativedelta(months=n)
                if unit == "month"
                else timedelta(days=n * UNIT_DAYS.get(unit, 365))
            )
            if part["side"] == "first":
                end = min(end, start + delta - timedelta(days=1))
            else:
                start = max(start, end - delta + timedelta(days=1))
            capped = _cap(start, end, today)
            add(capped.start, capped.end, (part.start(), match.end()), capped.label)
            continue
        prefix = _PREFIX.search(before)
        if prefix:
            span = (prefix.start(), match.end())
            word = prefix["word"]
            if word == "since":
                add(start, today, span)
            elif word == "after":
                add(end + timedelta(days=1), today, span)
            else:
                add(None, start - timedelta(days=1), span, f"before {start.isoformat()}")
            continue
        capped = _cap(start, end, today)
        if start == end:
            capped = DateRange(start, end, f"on {start.isoformat()}")
        add(capped.start, capped.end, match.span(), capped.label)
    found.sort(key=lambda f: f.span)
    return found
