"""Questions analysts ask every day, read as simpler questions the grammar already answers.

Each rule recognises one kind of question and names the simpler question(s) inside it; the
grammar parses those, and the rule turns their Queries into the one Query that answers:

- percentiles: "median order value by country" is "average order value by country" with the
  median instead of the average;
- shares and rates: "what fraction of Brazilian orders were returned" compares "how many
  Brazilian orders" with "how many Brazilian orders were returned": the conditions the second
  adds become the filter of a share;
- averages of per-entity totals: "average spend per customer" is "total spend per customer",
  averaged per customer;
- date differences: "average days from shipment to delivery", "orders that took more than a
  week to ship";
- period comparisons: "units sold in November vs October" asks both periods, one row each, with
  the change; "quarter-over-quarter revenue" groups by quarter with the change;
- OR across columns: "orders that were returned or delivered late";
- top rows per group: "the two cheapest products in each category";
- comparisons with an average: "products priced above their category's average".

A rule either answers, refuses (Refused, saying what it could not do; the grammar turns it into
NotUnderstood) or does not apply (None), and then the grammar reads the question as it always
did. Every rule is a pure function of the question text and the parses it asks for; each parse
is a fresh Query the rule may change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from nl2sql.models.offline.lexicon import NUMBER_WORDS

Parse = Callable[[str], dict[str, Any] | None]  # a simpler question -> its Query, or None
Query = dict[str, Any]


class Refused(Exception):
    """The question is of a kind a rule reads, but this one could not be mapped; says why."""


# -- shared pieces ------------------------------------------------------------------------------

# When something happened to an order, by the words people use for it.
MOMENTS: list[tuple[str, str]] = [
    (r"order(?:ed|ing)?|plac(?:ed|ing)|purchase[ds]?|bought|checkout", "orders.ordered_at"),
    (r"ship(?:ped|ping|ment|ments|s)?|dispatch(?:ed)?|sent", "orders.shipped_at"),
    (r"deliver(?:ed|y|ies|s)?|arriv(?:al|ed|es|e)|received?", "orders.delivered_at"),
    (r"cancel+(?:ed|ation|ing)?", "orders.canceled_at"),
    (r"promised|expected|due", "orders.expected_delivery_date"),
]

# "shipping time" and the like: (from, to).
SPANS: list[tuple[str, tuple[str, str]]] = [
    (r"ship(?:ping)?|dispatch|processing|handling", ("orders.ordered_at", "orders.shipped_at")),
    (r"transit|delivery|shipping-to-delivery", ("orders.shipped_at", "orders.delivered_at")),
    (
        r"fulfil+ment|lead|turnaround|order-to-delivery",
        ("orders.ordered_at", "orders.delivered_at"),
    ),
]

UNIT_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "month": 30, "months": 30}
ONE = frozenset({"a", "an", "one"})  # "a week": the grammar's number words start at two


def moment(word: str) -> str | None:
    for pattern, column in MOMENTS:
        if re.fullmatch(pattern, word):
            return column
    return None


def number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return 1 if word in ONE else NUMBER_WORDS.get(word)


def tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,.?!")


def _group_column(table: str, noun: str, parse: Parse) -> str | None:
    """The column "by <noun>" groups rows of `table` by ("category" -> products.category)."""
    grouping = parse(tidy(f"how many {table} by {noun}"))
    keys = groups(grouping) if grouping else []
    return keys[0]["column"] if keys else None


def measured(query: Query) -> list[dict[str, Any]]:
    return [f for f in query["columns"] if f.get("aggregate")]


def groups(query: Query) -> list[dict[str, Any]]:
    return [f for f in query["columns"] if not f.get("aggregate")]


def added_conditions(whole: Query, part: Query) -> list[dict[str, Any]] | None:
    """The conditions `part` adds to `whole` (same base and columns), or None when `part`
    is not `whole` narrowed."""
    if part["table_name"] != whole["table_name"] or part["columns"] != whole["columns"]:
        return None
    missing = [c for c in whole["conditions"] if c not in part["conditions"]]
    added = [c for c in part["conditions"] if c not in whole["conditions"]]
    return added if added and not missing else None


# How a number of days is compared: "within 2 days", "more than a week".
DAYS_COMPARED = {
    "within": "<=", "in": "<=", "under": "<", "less than": "<", "over": ">", "more than": ">",
    "longer than": ">", "at least": ">=", "at most": "<=",
}  # fmt: skip


def days_condition(verb: str, comparison: str, amount: int, unit: str) -> dict[str, Any] | None:
    """ "shipped within 2 days", "took more than a week to ship": days from the order to the
    event."""
    end = moment(verb)
    if end is None or end == "orders.ordered_at":
        return None
    start = "orders.ordered_at"
    operator = DAYS_COMPARED.get(comparison)
    if operator is None:
        return None
    return {
        "column": end,
        "aggregate": None,
        "operator": operator,
        "value": amount * UNIT_DAYS[unit],
        "days_from": start,
    }


# -- the rules ----------------------------------------------------------------------------------


def percentiles(text: str, parse: Parse, today: date) -> Query | None:
    match = re.search(
        r"\b(?:the )?(median|(\d{1,2})(?:st|nd|rd|th) percentile(?: of)?|p(\d{2}))\b", text
    )
    if match is None:
        return None
    if match[1] == "median":
        aggregate = "median"
    else:
        aggregate = f"p{match[2] or match[3]}"
        if aggregate not in ("p25", "p75", "p90", "p95", "p99"):
            raise Refused(
                f"the {match[0]} is not one I compute; I can give the median and the 25th, "
                "75th, 90th, 95th and 99th percentiles"
            )
    base = parse(tidy(text[: match.start()] + " average " + text[match.end() :]))
    if base is None or not any(f["aggregate"] == "avg" for f in base["columns"]):
        return None
    for part in base["columns"] + base.get("order_by", []):
        if part.get("aggregate") == "avg":
            part["aggregate"] = aggregate
    return base


SHARE_WORDS = r"(?:fraction|share|percentage|percent|proportion|ratio|pct|%|rate)"


def shares(text: str, parse: Parse, today: date) -> Query | None:
    """A filtered count or total over the unfiltered one."""
    for pattern in SHARE_PATTERNS:
        match = re.search(pattern, text)
        if match is None:
            continue
        found = _share(match.groupdict(), parse)
        if found is not None:
            return found
    return None


SHARE_PATTERNS = [
    # "what fraction of Brazilian orders were returned", "% of orders shipped within 2 days"
    rf"\b{SHARE_WORDS} of (?:all )?(?:the |our )?(?P<adj>[\w' ]+? )?"
    r"(?P<whole>orders|customers|products|items|units)"
    r"(?P<whom> [\w' ]+)? (?:that |which |who )?(?:ended up |end up |ending up )?"
    r"(?P<verb>were|was|are|is|got|have been|has been|had|\w+ed)(?P<part>(?: \w+)*?)"
    r"(?P<tail>(?:,? (?:by|per|for each|each|in|during|since|this|last|over) .*)?)$",
    # "Books' share of units sold last quarter", "Germany's share of revenue"
    r"(?P<what>[\w&' ]+?)(?:'s|') (?:share|percentage|proportion|fraction) of (?P<measure>.+)$",
    # "return rate per category", "cancellation rate in 2025"
    r"\b(?P<kind>return|returns|cancellation|cancel|late delivery|late|on[- ]time delivery)"
    r" rates?\b(?P<rest>.*)$",
]

RATE_KINDS = {
    "return": "returned", "returns": "returned", "cancellation": "canceled", "cancel": "canceled",
    "late delivery": "delivered late", "late": "delivered late",
    "on-time delivery": "delivered on time", "on time delivery": "delivered on time",
}  # fmt: skip


def _share(parts: dict[str, Any], parse: Parse) -> Query | None:
    if parts.get("kind"):
        narrowed_by = RATE_KINDS[parts["kind"]]
        tail = tidy(parts["rest"])
        if narrowed_by.startswith("delivered"):
            return _delivery_rate(narrowed_by, tail, parse)
        whole = parse(tidy(f"number of orders {tail}"))
        part = parse(tidy(f"number of {narrowed_by} orders {tail}")) or parse(
            tidy(f"number of orders {narrowed_by} {tail}")
        )
        return _as_share(whole, part)
    if parts.get("what"):
        measure = tidy(parts["measure"])
        whole = parse(measure)
        what = tidy(parts["what"])
        for phrasing in (f"{measure} in {what}", f"{measure} for {what}", f"{what} {measure}"):
            found = _as_share(whole, parse(phrasing))
            if found is not None:
                return found
        return None
    whole_noun = (parts.get("adj") or "") + parts["whole"]
    whom = parts.get("whom") or ""
    tail = tidy(parts.get("tail") or "")
    verb, part_words = parts["verb"], tidy(parts["part"])
    head = "total" if parts["whole"] in ("items", "units") else "number of"
    whole = parse(tidy(f"{head} {whole_noun}{whom} {tail}"))
    days = re.fullmatch(
        r"(?:(\w+) )?(within|in|under|over|more than|less than|at most|at least) (\w+) "
        r"(days?|weeks?)",
        part_words,
    )
    if days is not None and whole is not None:
        event = days[1] or verb
        amount = number(days[3])
        condition = days_condition(event, days[2], amount or 0, days[4])
        if condition is None or amount is None:
            return None
        return _with_share(whole, [condition])
    said = f"{verb} {part_words}" if verb in ("were", "was", "are", "is", "got", "had") else verb
    verbed = f"{verb} {part_words}"
    wholes = [f"{head} {whole_noun}{whom} {tail}", f"{head} {whole_noun}{whom}"]
    narrowed = [
        f"{head} {part_words or verb} {whole_noun}{whom} {tail}",  # "number of canceled orders"
        f"{head} {whole_noun}{whom} that {verbed} {tail}",
        f"{head} {whole_noun}{whom} {said} {tail}",
    ]
    for whole_text in wholes:
        for part_text in narrowed:
            found = _as_share(parse(tidy(whole_text)), parse(tidy(part_text)))
            if found is not None:
                return found
    return None


def _delivery_rate(narrowed_by: str, tail: str, parse: Parse) -> Query | None:
    """Late (or on-time) deliveries among the orders delivered: the period, when said, is when
    they were delivered."""
    whole = parse(tidy(f"number of orders {tail}"))
    if whole is not None and any(c["column"] == "orders.ordered_at" for c in whole["conditions"]):
        whole = parse(tidy(f"number of orders delivered {tail}"))  # the period is the delivery's
    plain, judged = parse("number of orders"), parse(f"number of orders {narrowed_by}")
    if whole is None or plain is None or judged is None:
        return None
    test = added_conditions(plain, judged)
    if test is None:
        return None
    if not any(c["column"] == "orders.delivered_at" for c in whole["conditions"]):
        whole["conditions"].append(
            {"column": "orders.delivered_at", "aggregate": None, "operator": "is not null",
             "value": None}
        )  # fmt: skip
    return _with_share(whole, test)


def _as_share(whole: Query | None, part: Query | None) -> Query | None:
    if whole is None or part is None:
        return None
    added = added_conditions(whole, part)
    if added is None:
        return None
    return _with_share(whole, added)


def _with_share(whole: Query, condition: list[dict[str, Any]]) -> Query | None:
    measures = measured(whole)
    if len(measures) != 1:
        return None
    measures[0]["filter"] = condition
    measures[0]["share"] = "group"
    whole["order_by"] = [s for s in whole.get("order_by", []) if not s.get("aggregate")]
    return whole


ENTITY_KEYS = {"order": "orders.id", "customer": "customers.id", "product": "products.id"}


def per_entity_averages(text: str, parse: Parse, today: date) -> Query | None:
    """ "average number of items per order", "average spend per customer in Germany"."""
    match = re.search(
        r"\b(?:on )?(?:the )?(?:average|avg|mean|typical)\b (?P<measure>.+?) (?:per|for each|each"
        r"|in an?|in each|by each) (?P<entity>order|customer|product|client)s?\b(?! lines?| items?)"
        r"(?P<rest>.*)$",
        text,
    )
    if match is None:
        return None
    measure = match["measure"]
    if re.fullmatch(r"(?:order )?(?:value|price|amount|total|size)", measure):
        return None  # "average order value per customer" is not a total of totals
    entity = {"client": "customer"}.get(match["entity"], match["entity"])
    lead, rest = tidy(text[: match.start()]), match["rest"]
    base = parse(tidy(f"{lead} total {measure}{rest}")) or parse(tidy(f"{lead} {measure}{rest}"))
    if base is None or len(measured(base)) != 1:
        return None
    key = ENTITY_KEYS[entity]
    table = key.split(".")[0]
    # "total spend per customer" may already group by the customer: the average replaces that.
    base["columns"] = [
        f for f in base["columns"] if f.get("aggregate") or not f["column"].startswith(table + ".")
    ]
    base["order_by"] = [
        s for s in base.get("order_by", []) if not s["column"].startswith(table + ".")
    ]
    measured(base)[0]["average_per"] = key
    if all(c["column"].startswith(table + ".") for c in base["conditions"]):
        base["table_name"] = table  # every customer counts, those with no orders too (as 0)
    return base


def date_differences(text: str, parse: Parse, today: date) -> Query | None:
    """ "average days from shipment to delivery", "how long does shipping take", "orders that
    took more than a week to ship"."""
    took = re.search(
        r"\b(?:that |which )?took (more than|longer than|over|less than|under|at least|at most)"
        r" (\w+) (days?|weeks?) to (?:get |be )?(\w+)\b",
        text,
    )
    if took is not None:
        amount = number(took[2])
        condition = days_condition(took[4], took[1], amount or 0, took[3])
        base = parse(tidy(text[: took.start()] + " " + text[took.end() :]))
        if condition is None or amount is None or base is None:
            raise Refused(f'I could not read "{took[0]}" as a time between two dates')
        base["conditions"].append(condition)
        return base
    span = _span(text)
    if span is None:
        return None
    if re.search(r"\b(?:hours?|minutes?)\b", text):
        raise Refused("I count whole and part days between two dates, not hours")
    (start, end), aggregate, rest = span
    base = parse(tidy(f"average order value {rest}"))
    if base is None:
        return None
    replaced = False
    for field in base["columns"]:
        if field["column"] == "orders.total_amount" and field["aggregate"] == "avg":
            field.update(column=end, aggregate=aggregate, days_from=start)
            replaced = True
    base["order_by"] = [s for s in base.get("order_by", []) if not s.get("aggregate")]
    return base if replaced else None


def _span(text: str) -> tuple[tuple[str, str], str, str] | None:
    """((from, to), aggregate, the rest of the question) for a time between two dates."""
    aggregate = "avg"
    if re.search(r"\b(?:longest|max(?:imum)?|slowest)\b", text):
        aggregate = "max"
    elif re.search(r"\b(?:shortest|min(?:imum)?|fastest|quickest)\b", text):
        aggregate = "min"
    between = re.search(
        r"\b(?:number of |how many )?(?:days?|time|hours?)? ?(?:it takes |does it take )?"
        r"(?:from|between) (?:the )?(\w+) (?:to|and|until) (?:the )?(\w+)\b",
        text,
    )
    if between is not None:
        start, end = moment(between[1]), moment(between[2])
        if start is not None and end is not None:
            return (start, end), aggregate, _rest(text, between)
    named = re.search(
        r"\b(\w+(?:-to-\w+)?) (?:times?|durations?|lead times?)\b|\bhow long (?:does|do|did) "
        r"(?:it take (?:to )?|the |orders |an order |)(\w+)(?: take)?\b",
        text,
    )
    if named is None:
        return None
    word = named[1] or named[2]
    for pattern, pair in SPANS:
        if re.fullmatch(pattern, word):
            return pair, aggregate, _rest(text, named)
    end = moment(word)
    if end is not None and named[2]:  # "how long do deliveries take"
        start = "orders.shipped_at" if end == "orders.delivered_at" else "orders.ordered_at"
        return (start, end), aggregate, _rest(text, named)
    return None


def _rest(text: str, match: re.Match[str]) -> str:
    """The question without the span phrase and the words that only asked for its size."""
    rest = text[: match.start()] + " " + text[match.end() :]
    rest = re.sub(
        r"\b(?:what(?:'s| is| was)?|the|on average|average|avg|mean|typical|longest|shortest|"
        r"maximum|minimum|max|min|slowest|fastest|quickest|how many|number of|days?|take|"
        r"takes|took|it|is|does|do|did|for|of|our|orders?)\b",
        " ",
        rest,
    )
    return tidy(rest)


def period_comparisons(text: str, parse: Parse, today: date) -> Query | None:
    """ "units sold in November vs October" (one row per period and the change), and
    "quarter-over-quarter revenue in 2025" (each quarter and its change)."""
    over = re.search(r"\b(day|week|month|quarter|year)[- ]over[- ]\1\b|\b(mom|qoq|yoy|wow)\b", text)
    if over is not None:
        grain = over[1] or {"mom": "month", "qoq": "quarter", "yoy": "year", "wow": "week"}[over[2]]
        rest = re.sub(
            r"\b(?:change|growth|difference|increase|decrease|delta|trend)\b", " ",
            text[: over.start()] + " " + text[over.end() :],
        )  # fmt: skip
        base = parse(tidy(f"{rest} by {grain}"))
        return _with_change(base, grain, "percent")
    versus = re.search(r"\s+(?:vs\.?|versus|compared (?:to|with)|against)\s+", text)
    if versus is None:
        return None
    left, right = text[: versus.start()], text[versus.end() :]
    first = parse(tidy(left))
    if first is not None and not measured(first):  # "new customers this year vs last year"
        left = "how many " + left
        first = parse(tidy(left))
    if first is None:
        return None
    second = _other_period(left, right, parse)
    if second is None:
        return None
    one, other = _date_range(first), _date_range(second)
    if one is None or other is None or one[0] != other[0] or first["columns"] != second["columns"]:
        return None
    column = one[0]
    grain = _grain_of(one[1], one[2]) or _grain_of(other[1], other[2])
    if grain is None:
        raise Refused("I can compare days, weeks, months, quarters or years, one row each")
    merged = first
    merged["conditions"] = [c for c in first["conditions"] if c["column"] != column]
    merged["any_of"] = [
        {"column": column, "aggregate": None, "operator": "between", "value": [low, high]}
        for _, low, high in (one, other)
    ]
    merged["columns"] = [{"column": column, "aggregate": None, "time_grain": grain}] + [
        f for f in merged["columns"] if f.get("time_grain") is None or f["column"] != column
    ]
    merged["order_by"] = [{"column": column, "aggregate": None, "direction": "asc"}]
    return _with_change(merged, grain, "difference", grouped_already=True)


def _other_period(left: str, right: str, parse: Parse) -> Query | None:
    """The same question about the other period: the left side with its period replaced
    ("the same month last year": the left side's period a year earlier)."""
    if re.fullmatch(r"(?:the )?same (?:\w+ )?(?:last year|a year (?:ago|earlier|before))", right):
        first = parse(tidy(left))
        period = _date_range(first) if first else None
        if first is None or period is None:
            return None
        column, low, high = period
        shifted = [_year_earlier(low), _year_earlier(high)]
        first["conditions"] = [c for c in first["conditions"] if c["column"] != column] + [
            {"column": column, "aggregate": None, "operator": ">=", "value": shifted[0]},
            {"column": column, "aggregate": None, "operator": "<=", "value": shifted[1]},
        ]
        return first
    for text in _right_side_questions(left, right, most=4):
        candidate = parse(text)
        if candidate is not None and _date_range(candidate) is not None:
            return candidate
    return None


def _right_side_questions(left: str, right: str, most: int) -> list[str]:
    """ "X vs Y", "A or B": the right side is the left with its last words replaced ("units
    sold in november" vs "october" -> "units sold in october"); the shortest cut first."""
    words = left.split()
    return [
        tidy(" ".join(words[:-cut]) + " " + right) for cut in range(1, min(len(words), most) + 1)
    ]


def _year_earlier(day: str) -> str:
    return (date.fromisoformat(day) - relativedelta(years=1)).isoformat()  # Feb 29 -> Feb 28


def _date_range(query: Query) -> tuple[str, str, str] | None:
    lows = [c for c in query["conditions"] if c["operator"] in (">=", ">") and _is_day(c)]
    highs = [c for c in query["conditions"] if c["operator"] in ("<=", "<") and _is_day(c)]
    if len(lows) != 1 or len(highs) != 1 or lows[0]["column"] != highs[0]["column"]:
        return None
    if lows[0]["operator"] != ">=" or highs[0]["operator"] != "<=":
        return None
    return lows[0]["column"], lows[0]["value"], highs[0]["value"]


def _is_day(condition: dict[str, Any]) -> bool:
    value = condition.get("value")
    return isinstance(value, str) and bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def _grain_of(low: str, high: str) -> str | None:
    start, end = date.fromisoformat(low), date.fromisoformat(high)
    if start == end:
        return "day"
    if start.weekday() == 0 and (end - start).days <= 6:
        return "week"
    if start.day == 1 and start.year == end.year:
        if start.month == end.month:
            return "month"
        if start.month in (1, 4, 7, 10) and end.month - start.month <= 2:
            return "quarter"
        if start.month == 1:
            return "year"
    return None


def _with_change(
    base: Query | None, grain: str, change: str, grouped_already: bool = False
) -> Query | None:
    if base is None:
        return None
    bucketed = [f for f in base["columns"] if f.get("time_grain") == grain]
    measures = measured(base)
    if not bucketed or len(measures) != 1 or (len(groups(base)) > 1 and not grouped_already):
        return None
    changed = dict(measures[0], change=change)
    base["columns"] = base["columns"] + [changed]
    return base


def alternatives(text: str, parse: Parse, today: date) -> Query | None:
    """ "orders that were returned or delivered late": each side on its own, then ORed."""
    match = re.search(r"\s+or\s+", text)
    if match is None or text.count(" or ") > 1:
        return None
    left, right = text[: match.start()], text[match.end() :]
    first = parse(tidy(left))
    if first is None:
        return None
    for text in _right_side_questions(left, right, most=5):
        second = parse(text)
        if second is None or second["table_name"] != first["table_name"]:
            continue
        if second["columns"] != first["columns"]:
            continue
        common = [c for c in first["conditions"] if c in second["conditions"]]
        one = [c for c in first["conditions"] if c not in common]
        other = [c for c in second["conditions"] if c not in common]
        if len(one) == 1 and len(other) == 1 and one[0]["column"] != other[0]["column"]:
            first["conditions"] = common
            first["any_of"] = one + other
            return first
    return None


def top_per_group(text: str, parse: Parse, today: date) -> Query | None:
    """ "the two cheapest products in each category", "each customer's latest order"."""
    match = re.search(
        r"\s+(?:in|per|for|within|of|from|by) (?:each|every) (\w+)(?P<after>(?: (?:by|in|from|"
        r"during|this|last|since|for|of) .*)?)$",
        text,
    )
    owner = re.search(
        r"\b(?:each|every) (?P<who>[\w ]*?)(?P<noun>customer|product|category)'s (?P<rank>most "
        r"recent|latest|last|newest|first|oldest|earliest|biggest|largest|top|best)"
        r" (?P<what>order|purchase)s?\b",
        text,
    )
    if owner is not None:
        ranked = parse(tidy(f"the {owner['rank']} order of {owner['who']}{owner['noun']}s"))
        group_noun = owner["noun"]
    elif match is not None:
        ranked = parse(tidy(text[: match.start()] + match["after"]))
        group_noun = match[1]
    else:
        return None
    if ranked is None or not ranked.get("order_by") or ranked.get("limit") is None:
        return None
    column = _group_column(ranked["table_name"], group_noun, parse)
    if column is None and group_noun in ("customer", "product"):
        column = ENTITY_KEYS[group_noun]
    if column is None:
        return None
    if ranked["table_name"] == "products" and column.startswith("orders"):
        return None
    limit = ranked["limit"]
    ranked["limit"] = None
    shown = [f for f in ranked["columns"] if f["column"] != column]
    ranked["columns"] = [{"column": column, "aggregate": None, "time_grain": None}] + shown
    ranked["per_group_limit"] = {"column": column, "limit": limit}
    return ranked


ABOVE_WORDS = frozenset("above over more higher greater bigger larger".split())
# What "above average" compares when the question names no column: each row's main value.
VALUE_OF_ROW = {
    "products": "products.price",
    "orders": "orders.total_amount",
    "order_items": "order_items.line_total",
}


def above_average(text: str, parse: Parse, today: date) -> Query | None:
    """ "products priced above their category's average", "orders bigger than the average
    order", "customers who spent more than the average customer"."""
    match = re.search(
        r"\b(?P<cmp>above|over|more than|higher than|greater than|bigger than|larger than|below|"
        r"under|less than|lower than|cheaper than|smaller than)(?: the| their| its| an?)? "
        r"(?:(?P<scope>[\w ]+?)(?:'s|') )?(?:average|avg|mean)(?P<tail>[\w ]*)$",
        text,
    )
    if match is None:
        return None
    operator = ">" if match["cmp"].split()[0] in ABOVE_WORDS else "<"
    head = tidy(text[: match.start()])
    head = re.sub(
        r"\b(?:priced|that cost|costing|worth|with (?:an? )?(?:price|value|total)|that are|"
        r"which are|are|is|were|was|with|who|that|which)\b\s*$",
        "",
        head,
    ).strip()
    spent = re.search(r"\b(?:spent|spend|spending|bought|ordered|sold)\s*$", head)
    if spent is not None:
        return _groups_above(tidy(head[: spent.start()]), spent[0], operator, parse)
    base = parse(head)
    if base is None:
        return None
    column = VALUE_OF_ROW.get(base["table_name"])
    if column is None or measured(base):
        return None
    value: dict[str, Any] = {"column_name": column, "aggregate": "avg"}
    if match["scope"]:
        value["within"] = _group_column(base["table_name"], match["scope"], parse)
        if value["within"] is None:
            return None
    base["conditions"].append(
        {"column": column, "aggregate": None, "operator": operator, "value": value}
    )
    return base


def _groups_above(head: str, verb: str, operator: str, parse: Parse) -> Query | None:
    """ "customers who spent more than the average customer": a HAVING on each group's total
    against the average of the groups'."""
    measure = "total spend" if verb.startswith("spen") else "units sold"
    noun = re.search(r"\b(customer|product|categor|countr|cit)(?:y|ies|s)?\b", head)
    if noun is None:
        return None
    rest = tidy(re.sub(
        r"\b(?:which|who|what|that|have|has|had|'ve|ve|do|did|are|were|is|was|the|our|all)\b",
        " ", head[: noun.start()] + " " + head[noun.end() :],
    ))  # fmt: skip
    group = {"categor": "category", "countr": "country", "cit": "city"}.get(noun[1], noun[1])
    table = {"customer": "customers", "product": "products"}.get(group, "")
    base = None
    for phrasing in (f"{measure} per {group} {rest}", f"{measure} by {group} {rest}",
                     f"{rest} {group}s by {measure}"):  # fmt: skip
        found = parse(tidy(phrasing))
        if (
            found
            and len(measured(found)) == 1
            and any(
                (table and f["column"].startswith(table + ".")) or group in f["column"]
                for f in groups(found)
            )
        ):
            base = found
            break
    if base is None:
        return None
    total = measured(base)[0]
    base["conditions"].append(
        {
            "column": total["column"],
            "aggregate": total["aggregate"],
            "operator": operator,
            "value": {"column_name": total["column"], "aggregate": "avg"},
        }
    )
    return base


def ranges(text: str, parse: Parse, today: date) -> Query | None:
    """ "orders between $100 and $200": the amount as the grammar reads "at least $100", with
    both bounds (dates have their own ranges in the grammar)."""
    match = re.search(
        r"\b(?:between|from) (\$?\d[\d,.]*k?) (?:and|to|-) (\$?\d[\d,.]*k?)\b(?! ?(?:am|pm))",
        text,
    )
    if match is None or re.fullmatch(r"\d{4}", match[1].strip("$")):
        return None  # "between 2024 and 2025" is a period
    low = parse(tidy(text[: match.start()] + f" at least {match[1]} " + text[match.end() :]))
    high = parse(tidy(text[: match.start()] + f" at least {match[2]} " + text[match.end() :]))
    if low is None or high is None:
        return None
    bounds = [c for c in low["conditions"] if c["operator"] == ">=" and c not in high["conditions"]]
    tops = [c for c in high["conditions"] if c["operator"] == ">=" and c not in low["conditions"]]
    if len(bounds) != 1 or len(tops) != 1 or bounds[0]["column"] != tops[0]["column"]:
        return None
    bounds[0]["operator"] = "between"
    bounds[0]["value"] = [bounds[0]["value"], tops[0]["value"]]
    return low


def last_order_age(text: str, parse: Parse, today: date) -> Query | None:
    """ "customers whose last order is over 6 months old": each customer's latest order date
    (a HAVING on max) before the day that long ago."""
    match = re.search(
        r"\b(?:whose|with (?:their|a)|where their) (?:last|latest|most recent|newest) (?:order|"
        r"purchase) (?:was|is|is from|was placed|dates from) (?:over|more than|at least|longer "
        r"than) (\w+) (days?|weeks?|months?|years?) (?:ago|old|back|before today)\b",
        text,
    )
    if match is None:
        return None
    amount = number(match[1])
    base = parse(tidy(text[: match.start()] + " " + text[match.end() :]))
    if amount is None or base is None or base["table_name"] != "customers" or measured(base):
        return None
    unit = match[2].rstrip("s")
    shift = {
        "day": relativedelta(days=amount),
        "week": relativedelta(weeks=amount),
        "month": relativedelta(months=amount),
        "year": relativedelta(years=amount),
    }[unit]
    cutoff = today - shift
    base["conditions"].append(
        {"column": "orders.ordered_at", "aggregate": "max", "operator": "<",
         "value": cutoff.isoformat()}
    )  # fmt: skip
    return base


RULES = [
    last_order_age,
    ranges,
    percentiles,
    shares,
    per_entity_averages,
    date_differences,
    period_comparisons,
    top_per_group,
    above_average,
    alternatives,
]


def understand_analyst(question: str, parse: Parse, today: date) -> Query | None:
    """The Query for a question of one of these kinds, None when none applies; Refused when
    one applies but cannot be mapped."""
    text = tidy(question.lower().replace("’", "'"))
    for rule in RULES:
        found = rule(text, parse, today)
        if found is not None:
            return found
    return None
