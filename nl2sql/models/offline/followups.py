"""Follow-up questions: edits of the previous Query ("only delivered ones", "sort them by date",
"and the same quarter in 2026?", "break that down by country").

Every edit ends in `make_valid`, so an edit never leaves a query the compiler rejects: a grouped
query sorts only by its groups or its measures, a row query never sorts by an aggregate.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

from nl2sql.models.offline.asked import asked_column, order_lines
from nl2sql.models.offline.clauses import (
    DATE_COLUMNS,
    ENTITY_GROUP,
    LATE,
    LIST_COLUMNS,
    cond,
    date_conditions,
    field_,
    previous_date_column,
    sort,
    with_asked_column,
)
from nl2sql.models.offline.dates import DateRange, month_range, quarter_range
from nl2sql.models.offline.interpreter import Inexpressible, Interpreter, undelivered
from nl2sql.models.offline.lexicon import ATTRIBUTE_WORDS
from nl2sql.models.offline.measures import revenue_of_items
from nl2sql.models.offline.passes import Parsed
from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__CITY,
    CUSTOMERS__COUNTRY,
    CUSTOMERS__CREATED_AT,
    CUSTOMERS__NAME,
    ORDERS__EXPECTED_DELIVERY_DATE,
    ORDERS__ORDERED_AT,
    ORDERS__STATUS,
    ORDERS__TOTAL_AMOUNT,
    PRODUCTS__CATEGORY,
    PRODUCTS__NAME,
    PRODUCTS__PRICE,
)

# "their total revenue", "combined", "altogether": one number over the previous rows.
ONE_NUMBER = r"\b(?:total|combined|altogether|overall|in all|all together)\b"
SORT_RE = re.compile(
    r"\b(?:sort|sorted|rank|ranked|arrange|arranged)\b(?: them| it| those| these| the \w+)?"
    r"(?: by)?(?: (?P<what>\w+))?"
    r"|\border(?:ed)? (?:them|it|those|these|the result)(?: by (?P<what2>\w+))?"
    r"|\border(?:ed)? by (?P<what3>\w+)"  # not "orders placed ...": the noun
)
DIRECTION_RE = re.compile(
    r"\b(?:(?P<down>desc|descending|biggest|largest|highest|most|newest|"
    r"latest|recent|top|reverse|high|big|large|new|SORTDESC|SORTNEW)|(?P<up>asc|ascending|"
    r"smallest|lowest|least|oldest|earliest|low|small|cheapest|SORTASC|SORTALPHA|SORTOLD))\b"
)
RANK_RE = re.compile(
    r"\b(?:best|most|highest|top|biggest|busiest|worst|least|lowest|fewest|smallest|bottom)\b"
)
# "the same quarter in 2026", "same period last year", "the same month a year earlier"
SAME_RE = re.compile(r"\bsame (?P<unit>quarter|month|week|year|period|time|day|dates?|days)\b")
# "only count delivered orders", "just include toys", "exclude canceled": a filter on what is
# already measured, not a request to count instead.
RESTRICT_RE = re.compile(
    r"\b(?:only|just) (?:count|counting|include|including|consider|keep|use|look at|want)\b"
    r"|\b(?:count|counting|include|including|consider) (?:only|just)\b"
)
# "which of them live in Denver?", "which ones", "who are they": the rows behind a bare count.
ROWS_RE = re.compile(
    r"\bwhich (?:of (?:them|those|these)|ones?)\b|\bwho (?:are|were|is|was) (?:they|those|these|"
    r"them|it)\b|\bwho among (?:them|those|these)\b|\bname them\b|\bwhat (?:are|were) they\b"
)
YEAR_SHIFTS: list[tuple[str, int]] = [
    (r"\b(?:last|previous|prior) year\b|\ba year (?:earlier|before|ago|prior)\b", -1),
    (r"\bthe year before\b", -1),
    (r"\b(?:next|following) year\b|\ba year later\b|\bthe year after\b", 1),
]


# "the month before that", "the year before", "the previous quarter", "the week after", "and
# the next month?": the previous period moved by one unit (direction, unit).
SHIFT_RE = re.compile(
    r"\b(?:the |a |one )?(?P<unit>day|week|month|quarter|year) (?P<dir>before|after|prior|"
    r"earlier|later|previous|preceding)\b(?! (?:last|this|next))"
    r"|\b(?:the )?(?P<dir2>previous|prior|preceding|next|following) (?P<unit2>day|week|month|"
    r"quarter|year)\b"
    r"|\bthe one (?P<dir3>before|after|prior|earlier|later)\b"  # the unit of the previous period
)
SHIFT_DIRECTIONS = dict.fromkeys(("after", "later", "next", "following"), 1)
SHIFT_UNITS = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "quarter": relativedelta(months=3),
    "year": relativedelta(years=1),
}


def follow_up(parsed: Parsed, interpreter: Interpreter, previous: dict[str, Any]) -> dict[str, Any]:
    """Edit the previous query: add filters, swap the date range, count, list, sort, group."""
    query = {
        **previous,
        "columns": [dict(c) for c in previous["columns"]],
        "conditions": [dict(c) for c in previous["conditions"]],
        "order_by": [dict(s) for s in previous["order_by"]],
    }
    _replace_conditions(query, parsed, interpreter, previous)
    text = " ".join(parsed.words)
    asked = asked_column(text)
    sorting = SORT_RE.search(text) or parsed.sort_order
    if asked is not None and re.search(POINTING_BACK, text) and not sorting:
        # "which cities are they in?" (not "sort by when they were placed")
        return make_valid(_attribute_of_rows(query, asked))
    return order_lines(
        make_valid(revenue_of_items(_reshape(query, parsed, interpreter, previous))), text
    )


def _replace_conditions(
    query: dict[str, Any], parsed: Parsed, interpreter: Interpreter, previous: dict[str, Any]
) -> None:
    entity = query["table_name"]
    if entity == "order_items":
        entity = "orders"
    entity = _switched_entity(interpreter, entity, " ".join(parsed.words)) or entity
    today = interpreter.ctx.today
    shifted = same_period(parsed, previous, today) or shifted_period(parsed, previous, today)
    if shifted is not None:
        parsed.dates = []
    new = interpreter.filters(entity if entity in LIST_COLUMNS else "orders")
    new += interpreter.amount_conditions(entity)
    new = _late_means_overdue(new, query["conditions"], today)
    if ADDITIVE.search(" ".join(parsed.words)):  # "include processing ones too"
        new = [_widened(c, query["conditions"]) for c in new]
    if shifted is not None:
        column = previous_date_column(previous) or ORDERS__ORDERED_AT
        new += date_conditions(column, shifted)
    replaced_columns = {c["column"] for c in new if not isinstance(c["value"], dict)}
    if any(_date_bound(c) for c in new):  # "arrived late" (a comparison) keeps the period
        replaced_columns |= set(DATE_COLUMNS)
    compared = {c["column"] for c in new if isinstance(c["value"], dict)}
    query["conditions"] = [c for c in query["conditions"] if _kept(c, replaced_columns, compared)]
    query["conditions"] += new


# "include processing ones too", "add Canada as well", "plus returned": more of the same kind.
ADDITIVE = re.compile(r"\b(?:too|as well|also|plus|add|in addition)\b|^(?:and )?include\b")


def _widened(condition: dict[str, Any], kept: list[dict[str, Any]]) -> dict[str, Any]:
    """A new value added to the values the previous query already allowed on that column."""
    if condition["aggregate"] or condition["operator"] not in ("=", "in"):
        return condition
    before = next(
        (
            c
            for c in kept
            if c["column"] == condition["column"]
            and c["operator"] in ("=", "in")
            and not c["aggregate"]
        ),
        None,
    )
    if before is None:
        return condition
    values = [*_as_list(before["value"]), *_as_list(condition["value"])]
    return cond(condition["column"], "in", list(dict.fromkeys(values)))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _kept(condition: dict[str, Any], replaced: set[str], compared: set[str]) -> bool:
    """Whether a condition of the previous query survives a follow-up's new conditions: a
    new period replaces the old one, but "late" (a comparison with another column) stays
    unless the follow-up compares that column itself ("and the on-time ones?")."""
    if condition["aggregate"]:
        return True
    if isinstance(condition["value"], dict):
        return condition["column"] not in compared
    return condition["column"] not in replaced


# Attributes a follow-up asks of the previous rows that sort them into a few groups: "which
# cities are they in?" is each city with how many of them; other attributes ("when were they
# shipped?", "their emails?") are shown beside each row.
GROUPING_ATTRIBUTES = (CUSTOMERS__CITY, CUSTOMERS__COUNTRY, PRODUCTS__CATEGORY, ORDERS__STATUS)


def _attribute_of_rows(query: dict[str, Any], asked: str) -> dict[str, Any]:
    """The previous rows (or the rows behind a count) seen through one attribute."""
    base = "orders" if query["table_name"] == "order_items" else query["table_name"]
    keys = [c for c in query["columns"] if not c["aggregate"]]
    if keys and len(keys) < len(query["columns"]):  # "top 3 customers" -> "their countries?"
        index = len(keys)  # a ranking or breakdown keeps its groups: the attribute joins them
        query["columns"] = keys + [field_(asked)] + query["columns"][index:]
        return query
    query["order_by"], query["limit"] = [], None
    if asked in GROUPING_ATTRIBUTES:
        query["table_name"] = base
        query["columns"] = [field_(asked), field_(f"{base}.id", "count")]
        return query
    if any(c["aggregate"] for c in query["columns"]) and base in LIST_COLUMNS:
        query["table_name"] = base
        query["columns"] = [field_(c) for c in LIST_COLUMNS[base]]
    return with_asked_column(query, asked)


def _late_means_overdue(
    new: list[dict[str, Any]], kept: list[dict[str, Any]], today: date
) -> list[dict[str, Any]]:
    """'which of those are late?' about orders still on their way (in transit, pending): late
    means past the promised date, as for "shipped orders past their due date"."""
    if not undelivered([c for c in kept if c["column"] == ORDERS__STATUS]):
        return new
    overdue = cond(ORDERS__EXPECTED_DELIVERY_DATE, "<", today.isoformat())
    return [overdue if c == LATE else c for c in new]


def _date_bound(condition: dict[str, Any]) -> bool:
    """A bound of a period on a date column (not "is null", not a comparison with a column)."""
    return condition["column"] in DATE_COLUMNS and isinstance(condition["value"], str)


def _reshape(
    query: dict[str, Any], parsed: Parsed, interpreter: Interpreter, previous: dict[str, Any]
) -> dict[str, Any]:
    text = " ".join(parsed.words)
    base = query["table_name"]
    sorting = SORT_RE.search(text)
    restricting = RESTRICT_RE.search(text)
    counting = (
        re.search(r"\bhow many\b|\bcount\b|\bnumber\b", text) and not sorting and not restricting
    )
    listing = re.search(
        r"\b(?:list|show|display|give)\b(?: me)? (?:them|those|these|all|the)\b", text
    ) or (ROWS_RE.search(text) and all(c["aggregate"] for c in query["columns"]))
    if listing and parsed.limit and RANK_RE.search(text) and _measures(query):
        return _rerank(query, text, parsed.limit)  # "just show the top 3": of these groups
    if (counting or listing) and any(c["aggregate"] for c in query["conditions"]):
        return query  # "customers with over 5 orders" -> "list them": the groups are the rows
    switched = _switched_entity(interpreter, base, text)
    if switched is not None:  # "who are the customers on those?": their customers' rows
        base = query["table_name"] = switched
        query["columns"] = [field_(c) for c in LIST_COLUMNS[switched]]
        query["order_by"], query["limit"] = [], None
        if not counting:
            return query
    if _switch_measure(query, interpreter, bool(counting), bool(listing)):
        if interpreter.groups():
            return _regroup(query, interpreter.groups(), previous)
        if sorting and not query["order_by"]:  # "sort them by revenue": switched, then sorted
            return resort(query, sort_target(sorting, text), text)
        return query  # "rank them by revenue instead": the ranking keeps its direction
    if counting:
        # "how many orders has each of them placed?": one count per previous row
        rows_of = "orders" if previous["table_name"] == "order_items" else previous["table_name"]
        groups = _row_groups(rows_of) if EACH_OF.search(text) else []
        counted = base if base != rows_of else "orders"
        if groups:
            query["table_name"] = rows_of
        query["columns"] = [*groups, field_(f"{counted if groups else base}.id", "count")]
        query["order_by"], query["limit"] = [], None
        return query
    if listing:
        return _relist(query, text)
    groups = interpreter.groups()
    if groups:
        return _regroup(query, groups, previous)
    if sorting:
        return resort(query, sort_target(sorting, text), text)
    return _rerank(query, text, parsed.limit)


def _measures(query: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in query["columns"] if c["aggregate"]]


def _switch_measure(
    query: dict[str, Any], interpreter: Interpreter, counting: bool, other: bool
) -> bool:
    """'by revenue instead', 'and the average?', 'what about units?', 'count them instead':
    the same rows or groups measured another way; a ranking keeps its direction and limit."""
    measures = [c for c in query["columns"] if c["aggregate"]]
    if other or any(c["aggregate"] for c in query["conditions"]):
        return False
    keys = [c for c in query["columns"] if not c["aggregate"]]
    entity = "orders" if query["table_name"] == "order_items" else query["table_name"]
    metric = interpreter.metric(entity)
    if metric is None or (metric == "count" and not (keys and counting and measures)):
        return False  # a bare count of a single number or of rows: counting below
    if not measures:  # rows: "what did they spend?" per customer; "their total" is one number
        keys = [] if re.search(ONE_NUMBER, interpreter.text) else _row_groups(entity)
        measures = [field_("", "none")]
    table, measure = interpreter.measure_for_groups(metric, entity, keys, query["conditions"], None)
    if (measure["column"], measure["aggregate"]) == (
        measures[0]["column"],
        measures[0]["aggregate"],
    ):
        return False
    query["table_name"] = table
    query["columns"] = keys + [measure]
    query["order_by"] = [
        sort(measure["column"], s["direction"], measure["aggregate"]) if s["aggregate"] else s
        for s in query["order_by"]
    ]
    return True


def _row_groups(entity: str) -> list[dict[str, Any]]:
    return [field_(c) for c in ENTITY_GROUP.get(entity, [])]


# One number per previous row: "each of them", "each one", "for each of those".
EACH_OF = re.compile(r"\beach (?:of (?:them|those|these)|one)\b|\bapiece\b")


# Words pointing at the previous rows: "the customers on those", "who placed that one?".
POINTING_BACK = r"\b(?:those|them|these|they|their)\b|^who \w+ (?:that|it|this)\b"


def _switched_entity(interpreter: Interpreter, base: str, text: str) -> str | None:
    """The other entity a follow-up asks for about the previous rows ("the customers on those
    orders", "how many products are in them"), if any."""
    if not re.search(POINTING_BACK, text):
        return None
    words = interpreter.words
    named = [
        entity
        for index, entity in interpreter.entities()
        if entity in LIST_COLUMNS and not _filters_by_owner(words, index)
    ]
    table = "orders" if base == "order_items" else base
    if named and named[0] != table and not interpreter.groups():
        return named[0]
    return None


def _filters_by_owner(words: list[str], index: int) -> bool:
    """'those from US customers', 'the ones by German buyers': a filter, not other rows."""
    before = words[max(0, index - 3) : index]
    return any(word in ("from", "by") for word in before)


def _relist(query: dict[str, Any], text: str) -> dict[str, Any]:
    """'list them': the rows behind what was counted or measured."""
    base = query["table_name"]
    if base == "orders" and re.match(r"who\b", text):
        base = query["table_name"] = "customers"  # "who were they?" after counting orders
    if base in LIST_COLUMNS:
        query["columns"] = [field_(c) for c in LIST_COLUMNS[base]]
        query["order_by"], query["limit"] = [], None
    return query


def _rerank(query: dict[str, Any], text: str, limit: int | None) -> dict[str, Any]:
    """'which was the best?': the top (or bottom) group by the first measure."""
    rank = RANK_RE.search(text)
    measures = [c for c in query["columns"] if c["aggregate"]]
    if rank and measures:
        worst = rank[0] in ("worst", "least", "lowest", "fewest", "smallest", "bottom")
        measure = measures[0]
        query["order_by"] = [
            sort(measure["column"], "asc" if worst else "desc", measure["aggregate"])
        ]
        query["limit"] = limit or 1
    return query


def _regroup(
    query: dict[str, Any], groups: list[dict[str, Any]], previous: dict[str, Any]
) -> dict[str, Any]:
    for item in groups:
        if item["column"] == "GRAIN":
            item["column"] = previous_date_column(previous) or ORDERS__ORDERED_AT
    measures = [c for c in query["columns"] if c["aggregate"]]
    if not measures:
        measures = [field_(f"{query['table_name']}.id", "count")]
    query["columns"] = groups + measures
    query["order_by"], query["limit"] = [], None
    return query


def resort(query: dict[str, Any], what: str | None, text: str) -> dict[str, Any]:
    base = query["table_name"]
    if all(c["aggregate"] for c in query["columns"]) and base in LIST_COLUMNS:
        # sorting a bare count or total: sort the rows it counted
        query["columns"] = [field_(c) for c in LIST_COLUMNS[base]]
        query["limit"] = None
    column = sort_column(what, query)
    first = DIRECTION_RE.search(text)
    direction = "desc" if first and first["down"] else "asc"
    grouped = any(c["aggregate"] for c in query["columns"])
    measure = next((c for c in query["columns"] if c["aggregate"] and c["column"] == column), None)
    if grouped and measure is None and all(c["column"] != column for c in query["columns"]):
        raise Inexpressible(  # the sort would be dropped: say so instead of ignoring it
            f"I cannot sort these groups by {what or 'that'}: it is not one of the columns "
            'shown. Sort by a grouped column or by the measure, e.g. "sort them by amount".'
        )
    query["order_by"] = [sort(column, direction, measure["aggregate"] if measure else None)]
    if not grouped and not any(c["column"] == column for c in query["columns"]):
        query["columns"].append(field_(column))
    return query


# Words between "by" and what to sort by: "sort them by the date", "by how overdue they are".
SORT_LEAD_WORDS = frozenset("the their its how much many a an".split())


def sort_target(sorting: re.Match[str], text: str) -> str | None:
    """The word a sort names ("date" in "sort them by the date"), None for a bare "sort them"."""
    what = sorting["what"] or sorting["what2"] or sorting["what3"]
    if what is None or what.startswith("SORT"):
        return None
    words = text[sorting.start() :].split()
    start = words.index(what) if what in words else 0
    for word in words[start:]:
        if word == "when" or word not in SORT_LEAD_WORDS:
            return word  # "sort by when they were placed": "when", by date
    return what


def sort_column(what: str | None, query: dict[str, Any]) -> str:
    base = query["table_name"]
    measures = [c for c in query["columns"] if c["aggregate"]]
    if what in ("amount", "total", "value", "size", "price", "cost", "revenue", "spend"):
        if measures:
            return str(measures[0]["column"])
        return PRODUCTS__PRICE if base == "products" else ORDERS__TOTAL_AMOUNT
    if what in ("date", "time", "day", "recency", "newest", "latest", "oldest", "when"):
        return previous_date_column(query) or (
            CUSTOMERS__CREATED_AT if base == "customers" else ORDERS__ORDERED_AT
        )
    if what in ("name", "customer", "product", "SORTALPHA"):
        named = [c["column"] for c in query["columns"] if c["column"].endswith(".name")]
        if named:
            return str(named[0])
        groups = [
            c["column"] for c in query["columns"] if not c["aggregate"] and not c["time_grain"]
        ]
        if measures and groups:  # "revenue by country" -> "order them by name": the countries
            return str(groups[0])
        return CUSTOMERS__NAME if base != "products" else PRODUCTS__NAME
    if what in ATTRIBUTE_WORDS:
        return ATTRIBUTE_WORDS[what]
    if what in ("overdue", "late", "due", "lateness", "delay", "delayed", "promised"):
        return ORDERS__EXPECTED_DELIVERY_DATE  # the longest overdue were due first
    if what in ("count", "number") and measures:
        return str(measures[0]["column"])
    if what is not None and what not in SORT_ANY_WORDS:
        raise Inexpressible(
            f'I do not know how to sort by "{what}". Sort by amount, date, name, or one of the '
            "columns shown."
        )
    if measures:
        return str(measures[0]["column"])
    return ORDERS__TOTAL_AMOUNT if base == "orders" else f"{base}.id"


# After "sort them by", words that leave the choice to the default (the measure, else amount).
SORT_ANY_WORDS = frozenset("it them those these that one ones result results".split())


# .. validity ......................................................................................


def make_valid(query: dict[str, Any]) -> dict[str, Any]:
    """Drop sorts the compiler would reject: in a grouped query every sort must name a grouped
    column or carry an aggregate; in a row query no sort may carry one. A grouped query left
    without a sort is sorted by its time buckets, if any."""
    columns = query["columns"]
    grouped = any(c["aggregate"] for c in columns)
    plain = {c["column"] for c in columns if not c["aggregate"]}
    kept = []
    for item in query["order_by"]:
        if grouped:
            valid = bool(item["aggregate"]) or item["column"] in plain
        else:
            valid = not item["aggregate"]
        if valid:
            kept.append(item)
    if grouped and not kept and query["order_by"]:
        kept = [sort(c["column"], "asc") for c in columns if c["time_grain"]]
    query["order_by"] = kept
    return query


# .. "the month before that" ......................................................................


def shifted_period(parsed: Parsed, previous: dict[str, Any], today: date) -> DateRange | None:
    """The previous period moved one unit back or on: the calendar unit (day, Monday-week,
    month, quarter, year) holding the moved start. A period reaching past today stops there."""
    shift = SHIFT_RE.search(parsed.source)
    earlier = previous_range(previous)
    if shift is None or earlier is None or earlier.start is None:
        return None
    unit = shift["unit"] or shift["unit2"] or period_unit(earlier, today)
    step = SHIFT_DIRECTIONS.get(shift["dir"] or shift["dir2"] or shift["dir3"], -1)
    moved = earlier.start + SHIFT_UNITS[unit] * step
    start, end = calendar_unit(unit, moved)
    if start <= today:
        end = min(end, today)
    return DateRange(start, end, f"{start.isoformat()} to {end.isoformat()}")


def period_unit(period: DateRange, today: date) -> str:
    """The calendar unit a period is ("month" for 2026-10-01 to 2026-10-31, or for a month that
    stops at today), else "day"."""
    for unit in ("year", "quarter", "month", "week"):
        assert period.start is not None
        start, end = calendar_unit(unit, period.start)
        if start == period.start and period.end in (end, min(end, today)):
            return unit
    return "day"


def calendar_unit(unit: str, day: date) -> tuple[date, date]:
    """The whole day, week (Monday to Sunday), month, quarter or year holding `day`."""
    if unit == "month":
        return month_range(day.year, day.month)
    if unit == "quarter":
        return quarter_range(day.year, (day.month - 1) // 3 + 1)
    if unit == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    if unit == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    return day, day


def is_period_shift(parsed: Parsed, previous: dict[str, Any] | None) -> bool:
    """A follow-up that only moves the previous period ("the quarter before")."""
    return bool(previous and SHIFT_RE.search(parsed.source) and previous_range(previous))


# .. "the same quarter in 2026" ....................................................................


def previous_range(previous: dict[str, Any]) -> DateRange | None:
    """The date range of the previous query on its date column, if it had one."""
    column = previous_date_column(previous)
    start: date | None = None
    end: date | None = None
    for condition in previous.get("conditions", []):
        if condition["column"] != column or condition["aggregate"]:
            continue
        value = condition["value"]
        if not isinstance(value, str):
            continue
        day = date.fromisoformat(value[:10])
        if condition["operator"] in ("=", ">=", ">"):
            start = day if condition["operator"] != ">" else day + timedelta(days=1)
        if condition["operator"] in ("=", "<=", "<"):
            end = day if condition["operator"] != "<" else day - timedelta(days=1)
    if start is None or end is None:
        return None
    return DateRange(start, end, f"{start.isoformat()} to {end.isoformat()}")


def same_period(parsed: Parsed, previous: dict[str, Any], today: date) -> DateRange | None:
    """The previous query's period moved to another year: "the same quarter in 2026", "the same
    period last year". An explicit year is that year; "last year" / "a year earlier" is one year
    before the previous period. "Same quarter/month/year" is that whole calendar period; "same
    period/time/days" the same days. A period reaching past today stops at today."""
    same = SAME_RE.search(parsed.source)
    earlier = previous_range(previous)
    if same is None or earlier is None:
        return None
    years = re.search(r"\b((?:19|20)\d\d)\b", parsed.source)
    if years:
        delta = int(years[1]) - earlier.start.year  # type: ignore[union-attr]
    elif re.search(r"\bthis year\b", parsed.source):
        delta = today.year - earlier.start.year  # type: ignore[union-attr]
    else:
        shifts = [n for pattern, n in YEAR_SHIFTS if re.search(pattern, parsed.source)]
        if not shifts:
            return None
        delta = shifts[0]
    assert earlier.start is not None and earlier.end is not None
    start = earlier.start + relativedelta(years=delta)
    end = earlier.end + relativedelta(years=delta)
    unit = same["unit"]
    if unit == "month":
        start, end = month_range(start.year, start.month)
    elif unit == "quarter":
        start, end = quarter_range(start.year, (start.month - 1) // 3 + 1)
    elif unit == "year":
        start, end = date(start.year, 1, 1), date(start.year, 12, 31)
    if start <= today:
        end = min(end, today)
    return DateRange(start, end, f"{start.isoformat()} to {end.isoformat()}")
