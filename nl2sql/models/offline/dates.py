"""Relative and absolute date expressions -> inclusive day ranges, against a given today.

Conventions (tests/fixtures/questions.toml): ranges that include today stop at today, weeks run
Monday..Sunday, "last month/quarter/year" is the previous calendar period, "past N days" is the
N days ending today inclusive, "older than N days" is strictly before today - N.

A date without a year ("august 15", "10 feb", "since nov 2") is the most recent such day not after
today, and a month without a year the most recent such month; in "between X and Y" an end without
a year takes the other end's year. "The first/second half of <year>" and "h1/h2 <year>" are
January..June and July..December.
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
# Words after "<month> <number>" that make the number a count, not a day ("march 5 orders").
_NOT_DAY = r"(?! (?:orders?|customers?|products?|items?|units?|times|dollars?|days?|weeks?))"
_DAY = r"(?:the )?(?P<{0}_day>\d{{1,2}})(?:st|nd|rd|th)?"
_POINT_PATTERNS: list[str] = [
    rf"(?:on )?(?P<holiday>{_HOLIDAY})(?: (?:of )?(?P<h_year>{_REL_YEAR}))?",
    r"(?P<iso>\d{4}-\d{1,2}-\d{1,2})",
    # a month and a day, the year optional: "february 10", "feb 10th, 2026", "10 february"
    rf"(?P<md_month>{_MONTH}) {_DAY.format('md')}(?:,? (?P<md_year>{_YEAR}))?{_NOT_DAY}",
    rf"{_DAY.format('dm')} (?:of )?(?P<dm_month>{_MONTH})(?:,? (?P<dm_year>{_YEAR}))?",
    # halves of a year: "the first half of 2026", "second half of last year", "h1 2025"
    rf"(?:the )?(?P<half>first|1st|second|2nd|latter) half(?: of)?"
    rf"(?: (?:the year|(?P<half_year>{_REL_YEAR})))?",
    rf"(?P<hn>h[12])(?: of)?(?: (?P<hn_year>{_REL_YEAR}))?",
    r"(?P<q>q[1-4])(?: of)?(?: (?P<q_year>" + _REL_YEAR + "))?",
    r"(?:the )?(?P<qo>first|1st|second|2nd|third|3rd|fourth|4th) quarter(?: of)?"
    r"(?: (?P<qo_year>" + _REL_YEAR + "))?",
    rf"(?P<month>{_MONTH})(?: of)?(?: (?P<m_year>{_REL_YEAR}))?",
    r"(?P<rel>this|last|previous|past|current) (?P<rel_unit>week|month|quarter|year)",
    r"(?P<today>today|tonight|this morning)",
    r"(?P<dby>(?:the )?day before yesterday)",
    r"(?P<yesterday>yesterday)",
    # a bare year, unless a comparison makes it an amount ("orders over 2000") or a ranking a
    # number of rows ("the top 2000 orders"); "2026 orders" are the orders of 2026
    r"(?<!over )(?<!than )(?<!above )(?<!below )(?<!under )(?<!least )(?<!most )"
    r"(?<!exceeding )(?<!exactly )(?<!top )(?<!first )(?<!last )(?<!latest )(?<!newest )"
    r"(?<!oldest )(?<!recent )(?<!biggest )(?<!largest )"
    r"(?P<year>" + _YEAR + r")(?! dollars| usd| units)",
]
_POINT = re.compile(r"\b(?:" + "|".join(_POINT_PATTERNS) + r")\b")
_YEAR_GROUPS = ("h_year", "md_year", "dm_year", "half_year", "hn_year", "q_year", "qo_year")


def explicit_year(match: re.Match[str], today: date) -> int | None:
    """The year a point names itself ("feb 10, 2026", "q2 last year"), else None."""
    g = match.groupdict()
    for name in (*_YEAR_GROUPS, "m_year"):
        if g[name]:
            return _year_of(g[name], today)
    if g["iso"]:
        return int(g["iso"][:4])
    if g["year"]:
        return int(g["year"])
    return None


def _recent_day(month: int, day: int, today: date, year: int | None) -> date:
    """A month-day: in the year given, else the most recent such date not after today."""
    if year is not None:
        return date(year, month, day)
    found = date(today.year, month, day) if (month, day) != (2, 29) else date(today.year, 2, 28)
    return found if found <= today else found.replace(year=today.year - 1)


def _day_point(g: dict[str, Any], today: date, year: int | None) -> tuple[date, date] | None:
    for prefix in ("md", "dm"):
        if g[f"{prefix}_month"]:
            given = g[f"{prefix}_year"]
            try:
                day = _recent_day(
                    MONTHS[g[f"{prefix}_month"].rstrip(".")],
                    int(g[f"{prefix}_day"]),
                    today,
                    int(given) if given else year,
                )
            except ValueError:
                return None
            return day, day
    return None


def _half_point(g: dict[str, Any], today: date, year: int | None) -> tuple[date, date]:
    second = (g["half"] or "") in ("second", "2nd", "latter") or g["hn"] == "h2"
    text = g["half_year"] or g["hn_year"]
    chosen = _year_of(text, today) if text else (year if year is not None else today.year)
    return (
        (date(chosen, 7, 1), date(chosen, 12, 31))
        if second
        else (
            date(chosen, 1, 1),
            date(chosen, 6, 30),
        )
    )


def _point(match: re.Match[str], today: date, year: int | None = None) -> tuple[date, date] | None:
    """The period one point names; `year` is used when the point gives none ("between feb 10
    and feb 25, 2026": the first end takes the second end's year)."""
    g = match.groupdict()
    if g["md_month"] or g["dm_month"]:
        return _day_point(g, today, year)
    if g["half"] or g["hn"]:
        return _half_point(g, today, year)
    if g["q"] or g["qo"]:
        quarter = int(g["q"][1]) if g["q"] else ORDINAL_QUARTERS[g["qo"]]
        text = g["q_year"] or g["qo_year"]
        if not text and year is not None:
            return quarter_range(year, quarter)
        # a quarter without a year is the latest one begun: "Q3" in February is last year's
        return quarter_range(_year_of(text, today, 3 * quarter - 2), quarter)
    if g["month"]:
        month = MONTHS[g["month"].rstrip(".")]
        if month == 5 and g["month"] == "may" and not g["m_year"] and not _month_lead(match):
            return None  # "may" is usually the verb, unless a preposition leads: "in may"
        if g["m_year"] is None and year is not None:
            return month_range(year, month)
        return month_range(_year_of(g["m_year"], today, month), month)
    return _simple_point(g, today)


# Words that make a following "may" the month: "in may", "since may", "during may".
MONTH_LEADS = frozenset("in during since until through for of from before after by".split())


def _month_lead(match: re.Match[str]) -> bool:
    before = match.string[: match.start()].split()
    return bool(before) and before[-1] in MONTH_LEADS


def _simple_point(g: dict[str, Any], today: date) -> tuple[date, date] | None:
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
    if g["rel"]:
        offset = -1 if g["rel"] in ("last", "previous", "past") else 0
        return _period(g["rel_unit"], offset, today)
    if g["today"]:
        return today, today
    if g["dby"] or g["yesterday"]:
        day = today - timedelta(days=2 if g["dby"] else 1)
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
            rf"{_N} {_UNIT}\b(?! of\b)"  # "the last 10 days of october": a part of october
        ),
    ),
    ("ago", re.compile(rf"\b{_N} {_UNIT} ago\b")),
]
# "between 1 and 15 may 2026", "from the 3rd to the 10th of june": both days take the month.
_DAY_RANGE = re.compile(
    r"\b(?:between|from) (?:the )?(?P<first>\d{1,2})(?:st|nd|rd|th)?\s*(?:and|to|until|till|"
    r"through|thru|-)\s*(?:the )?(?P<last>\d{1,2})(?:st|nd|rd|th)? (?:of )?"
    rf"(?P<month>{_MONTH})(?:,? (?P<year>{_YEAR}))?(?=\W|$)"
)


def _day_range(match: re.Match[str], today: date, add: Any) -> None:
    """Both days in the month named after them; without a year, the latest such last day."""
    month = MONTHS[match["month"].rstrip(".")]
    year = int(match["year"]) if match["year"] else None
    try:
        last = _recent_day(month, int(match["last"]), today, year)
        first = date(last.year, month, int(match["first"]))
    except ValueError:
        return
    add(first, last, match.span())


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


_RANGE_GAP = r"\s*(?:and|to|until|till|through|thru|-)\s*"
_SAME_MONTH_END = re.compile(
    rf"{_RANGE_GAP}(?:the )?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,? (?P<year>{_YEAR}))?\b"
    rf"(?! (?:of )?{_MONTH})"  # "10 february and 3 march": 3 is march's day
)


def _range_end(
    text: str, points: list[tuple[re.Match[str], Any]], index: int, today: date
) -> tuple[date, date, int] | None:
    """'between X and Y' / 'from X to Y' starting at points[index]: (first day, last day, where
    the phrase ends). An end without a year takes the other end's year ("between february 10
    and february 25, 2026"); "feb 10 to 25" is the same month; a start after its end is the
    year before."""
    match = points[index][0]
    first_year = explicit_year(match, today)
    same_month = _SAME_MONTH_END.match(text, match.end())
    if (match["md_month"] or match["dm_month"]) and same_month:
        year = int(same_month["year"]) if same_month["year"] else first_year
        first = _point(match, today, year)
        month = MONTHS[(match["md_month"] or match["dm_month"]).rstrip(".")]
        if first is None:
            return None
        try:
            last = date(first[0].year, month, int(same_month["day"]))
        except ValueError:
            return None
        return first[0], last, same_month.end()
    if index + 1 >= len(points):
        return None
    other = points[index + 1][0]
    if not re.fullmatch(_RANGE_GAP, text[match.end() : other.start()]):
        return None
    other_year = explicit_year(other, today)
    start_period = _point(match, today, other_year if first_year is None else None)
    end_period = _point(other, today, first_year if other_year is None else None)
    if start_period is None or end_period is None:
        return None
    start, end = start_period[0], end_period[1]
    if start > end and first_year is None:
        start -= relativedelta(years=1)
    return start, end, other.end()


def _label(start: date | None, end: date | None) -> str:
    if start and end:
        return (
            f"{start.isoformat()} to {end.isoformat()}"
            if start != end
            else f"on {start.isoformat()}"
        )
    if end:
        return f"before {end + timedelta(days=1)}"
    return f"since {start}"


class _Found:
    """The date expressions found so far and the character spans they took."""

    def __init__(self) -> None:
        self.items: list[Found] = []
        self.taken: list[tuple[int, int]] = []

    def free(self, a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in self.taken)

    def add(
        self, start: date | None, end: date | None, span: tuple[int, int], label: str = ""
    ) -> None:
        self.items.append(Found(DateRange(start, end, label or _label(start, end)), span))
        self.taken.append(span)

    def add_capped(self, start: date, end: date, span: tuple[int, int], today: date) -> None:
        capped = _cap(start, end, today)
        self.add(capped.start, capped.end, span, capped.label)


def find_dates(text: str, today: date) -> list[Found]:
    """Every date expression in `text` (lower case), left to right, without overlaps."""
    found = _Found()
    for match in _DAY_RANGE.finditer(text):
        _day_range(match, today, found.add)
    for kind, regex in _RANGES:
        for match in regex.finditer(text):
            if found.free(*match.span()):
                _relative(kind, match, today, found.add)

    points = [(m, _point(m, today)) for m in _POINT.finditer(text)]
    points = [(m, p) for m, p in points if p is not None and found.free(*m.span())]
    used: set[int] = set()  # points consumed as the end of a "between X and Y"
    for index, (match, period) in enumerate(points):
        if index in used or period is None:
            continue
        if not any(read(text, points, index, today, found, used) for read in _POINT_READINGS):
            _add_point(match, period, today, found)
    found.items.sort(key=lambda f: f.span)
    return found.items


_Points = list[tuple[re.Match[str], Any]]


def _add_between(
    text: str, points: _Points, index: int, today: date, found: _Found, used: set[int]
) -> bool:
    """'between X and Y', 'from X to Y'."""
    match = points[index][0]
    between = re.search(r"\b(between|from)$", text[: match.start()].rstrip())
    paired = _range_end(text, points, index, today) if between else None
    if between is None or paired is None:
        return False
    first, last, stop = paired
    used.update(i for i, (m, _) in enumerate(points) if match.end() <= m.start() < stop)
    found.add(first, last, (between.start(), stop))
    return True


def _add_part_of(
    text: str, points: _Points, index: int, today: date, found: _Found, used: set[int]
) -> bool:
    """'the first 3 months of 2025', 'the last week of march'."""
    match, (start, end) = points[index]
    part = _PART_OF.search(text[: match.start()])
    if not part or part.end() != match.start():
        return False
    n, unit = _number(part["n"] or "1"), part["unit"]
    delta = (
        relativedelta(months=n) if unit == "month" else timedelta(days=n * UNIT_DAYS.get(unit, 365))
    )
    if part["side"] == "first":
        end = min(end, start + delta - timedelta(days=1))
    else:
        start = max(start, end - delta + timedelta(days=1))
    found.add_capped(start, end, (part.start(), match.end()), today)
    return True


def _add_prefixed(
    text: str, points: _Points, index: int, today: date, found: _Found, used: set[int]
) -> bool:
    """'since X', 'after X', 'before X', 'until X'."""
    match, (start, end) = points[index]
    prefix = _PREFIX.search(text[: match.start()].rstrip())
    if not prefix:
        return False
    span = (prefix.start(), match.end())
    if prefix["word"] == "since":
        found.add(start, today, span)
    elif prefix["word"] == "after":
        found.add(end + timedelta(days=1), today, span)
    else:
        found.add(None, start - timedelta(days=1), span, f"before {start.isoformat()}")
    return True


# "2024 or later", "march and after", "2025 onwards": from the point on; "or earlier": up to it.
_SUFFIX = re.compile(
    r"\s*(?:(?:or|and) (?P<on>later|after|afterwards|since|beyond|newer|onwards?)|(?P<on2>onwards?)"
    r"|(?:or|and) (?P<back>earlier|before|prior|older|sooner))\b"
)


def _add_suffixed(
    text: str, points: _Points, index: int, today: date, found: _Found, used: set[int]
) -> bool:
    """'2024 or later', 'may 2025 and after', 'q1 or earlier'."""
    match, (start, end) = points[index]
    suffix = _SUFFIX.match(text, match.end())
    if not suffix:
        return False
    span = (match.start(), suffix.end())
    if suffix["back"]:
        found.add(None, end, span, f"before {(end + timedelta(days=1)).isoformat()}")
    else:
        found.add(start, today, span)
    return True


# How a point combines with the words around it, tried in order; else it stands alone.
_POINT_READINGS = (_add_between, _add_part_of, _add_prefixed, _add_suffixed)


def _add_point(match: re.Match[str], period: tuple[date, date], today: date, found: _Found) -> None:
    start, end = period
    if start == end:
        found.add(start, end, match.span(), f"on {start.isoformat()}")
    else:
        found.add_capped(start, end, match.span(), today)
