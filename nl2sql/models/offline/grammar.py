"""A small English grammar for questions about the orders database -> a complete Query dict.

The parse runs in passes over the lower-cased question; each pass consumes what it recognises and
masks it, so later passes do not read it twice:

1. late / on-time phrases, 2. date expressions, 3. amounts and thresholds, 4. status words,
5. values from the database (countries, cities, categories, product and customer names),
6. what is asked (count, total, average, top N, list, ...), the entity, grouping and ordering.

Before the passes, misspelt grammar nouns are corrected (typos.py), "US" as a country is told
from the pronoun "us" (values.mark_countries) and multi-word status verbs are rewritten
(statuses.py: "sent back" -> "returned"). Revenue narrowed to products is summed over line totals
(measures.py).

Behaviour lives in the tables below; the functions only combine them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from nl2sql.models.offline.asked import asked_column, find_ids
from nl2sql.models.offline.dates import MONTHS, DateRange, find_dates
from nl2sql.models.offline.measures import revenue_of_items
from nl2sql.models.offline.statuses import (
    DESTINATION_VERBS,
    STATUS_PHRASES,
    STATUS_VERBS,
    rewrite_statuses,
)
from nl2sql.models.offline.typos import correct_typos
from nl2sql.models.offline.values import VOCABULARY, ValueIndex, mark_countries, singular

MONTH_WORDS = frozenset(MONTHS)

# -- tables ---------------------------------------------------------------------------------------

NUMBER_WORDS = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}  # "one" stays a word: "the one that ..."
CONTRACTIONS = [
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "cannot"),
    (r"n't\b", " not"),
    (r"'ve\b", " have"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"\b(what|that|there|it|who|where|when|how)'s\b", r"\1 is"),
    (r"'s\b", ""),
]

# Word -> the date column the verb means. Nearest verb before the date wins.
DATE_VERBS: dict[str, str] = {
    **dict.fromkeys(
        "placed place placing ordered order orders purchased purchase bought buy "
        "sold sell came come received made get got buyer buyers sale sales revenue "
        "spent spend spending".split(),
        "orders.ordered_at",
    ),
    **dict.fromkeys(
        "shipped ship shipping sent dispatched shipment shipments".split(), "orders.shipped_at"
    ),
    **dict.fromkeys(
        "delivered deliver arrived arrive latedelivered".split(), "orders.delivered_at"
    ),
    **dict.fromkeys(
        "canceled cancelled cancel cancellation cancellations".split(), "orders.canceled_at"
    ),
    **dict.fromkeys(
        "signed signup signups joined join registered register new registration "
        "registrations".split(),
        "customers.created_at",
    ),
}
NEGATIONS = (
    "excluding",
    "except",
    "without",
    "not",
    "non",
    "other than",
    "ignoring",
    "exclude",
    "but not",
    "no",
)

LATE_PATTERNS = [
    r"\b(?:not|never) (?:been |being )?(?:delivered |arrived |arriving |shipped |come |came )?"
    r"on time\b",
    r"\b(?:delivered|arrived|arriving|came|come|delivery|deliveries|shipments?|orders?) "
    r"(?:too |very )?late\b",
    r"\blate (?:deliveries|delivery|orders?|shipments?|arrivals?)\b",
    r"\b(?:delivered |arrived |arriving |came )?(?:after|past|later than) (?:the |their |its )?"
    r"(?:promised|expected|estimated|due|delivery) ?(?:delivery )?(?:date|day)?\b",
    r"\b(?:delayed|behind schedule)\b",
    r"\blate\b",
]
ON_TIME_PATTERNS = [r"\b(?:delivered |arrived |arriving )?on time\b"]

ENTITY_WORDS: dict[str, str] = {
    **dict.fromkeys(
        "order purchase parcel package shipment transaction delivery".split(), "orders"
    ),
    **dict.fromkeys(
        "customer buyer client shopper user people person who signup registration account".split(),
        "customers",
    ),
    **dict.fromkeys("product item article thing sku seller mover bestseller".split(), "products"),
}
ATTRIBUTE_WORDS: dict[str, str] = {
    "category": "products.category",
    "country": "customers.country",
    "city": "customers.city",
    "status": "orders.status",
    "state": "orders.status",
}
GRAIN_WORDS = {
    "day": "day",
    "date": "day",
    "daily": "day",
    "week": "week",
    "weekly": "week",
    "month": "month",
    "monthly": "month",
    "quarter": "quarter",
    "quarterly": "quarter",
    "year": "year",
    "yearly": "year",
    "annual": "year",
    "annually": "year",
}
GROUP_LEADS = {"by", "per", "each", "every", "across"}
GROUP_SKIP = {
    "the",
    "signup",
    "sign",
    "up",
    "their",
    "its",
    "our",
    "his",
    "her",
    "calendar",
    "delivery",
    "shipping",
    "single",
    "individual",
}

MONEY_WORDS = {
    "revenue",
    "sale",
    "sales",
    "turnover",
    "income",
    "earning",
    "earnings",
    "spend",
    "spent",
    "spending",
    "money",
    "gmv",
}
UNIT_WORDS = {
    "unit",
    "quantity",
    "popular",
    "bestseller",
    "bestselling",
    "copy",
    "copies",
    "piece",
    "pieces",
}
# "how many <product / category / products> did we sell": units (sum of quantity), not orders.
UNITS_SOLD = re.compile(
    r"\b(?:how many|number of) (?:the |our )?(?:VALUE |product |copy |copie )+"
    r"(?:\w+ ){0,4}?(?:sold|sell|bought|buy|purchased|ordered)\b"
)
# "best/worst selling", "slowest movers", "top sellers", "sold the most": units sold.
SELLING = re.compile(
    r"\b(?:best|top|most|least|worst|lowest|highest|poorest|weakest|fastest|slowest|biggest"
    r"|strongest) (?:\d+ )?(?:selling|seller|mover|moving)\b"
    r"|\b(?:sold|sell|sells|selling|moved|move) the (?:most|least|fewest|best|worst)\b"
)
SELLING_WORDS = ("selling", "seller", "mover", "moving", "sold", "popular")
AVG_WORDS = {"average", "avg", "mean", "typical"}
MOST = {
    "most",
    "highest",
    "top",
    "best",
    "biggest",
    "largest",
    "busiest",
    "greatest",
    "maximum",
    "max",
    "more",
    "priciest",
    "fastest",
    "strongest",
    "bestseller",
}
LEAST = {
    "least",
    "fewest",
    "lowest",
    "bottom",
    "worst",
    "smallest",
    "minimum",
    "min",
    "quietest",
    "slowest",
    "cheapest",
    "poorest",
    "weakest",
}
RECENT = {"latest", "newest", "recent", "recently", "last", "youngest"}
EARLIEST = {"earliest", "oldest", "first"}
PRICE_UP = {"expensive", "priciest", "costliest", "pricey"}
PRICE_DOWN = {"cheapest", "cheap", "inexpensive"}
LIST_WORDS = {
    "list",
    "show",
    "which",
    "what",
    "who",
    "find",
    "display",
    "give",
    "get",
    "see",
    "look",
    "fetch",
    "tell",
}

AMOUNT_CMP: list[tuple[str, str]] = [
    (
        r"more than|over|above|greater than|exceeding|bigger than|larger than|higher than|"
        r"in excess of|costing more than|worth more than|upwards of",
        ">",
    ),
    (r"at least|no less than|a minimum of|minimum of|min of", ">="),
    (
        r"less than|fewer than|under|below|cheaper than|lower than|smaller than|"
        r"costing less than",
        "<",
    ),
    (r"at most|no more than|a maximum of|maximum of|up to", "<="),
    (r"exactly|equal to", "="),
]
_CMP = "|".join(f"(?P<c{i}>{pattern})" for i, (pattern, _) in enumerate(AMOUNT_CMP))
AMOUNT_RE = re.compile(
    rf"\b(?:{_CMP}) \$? ?(?P<n>\d+(?:\.\d+)?)(?: ?(?P<cur>dollars?|usd|bucks))?"
    r"(?: (?P<noun>orders?|purchases?|products?|items?|units?|times|customers?))?\b"
)
AMOUNT_POST_RE = re.compile(
    r"\b\$? ?(?P<n>\d+(?:\.\d+)?)(?: ?(?P<cur>dollars?|usd|bucks))?"
    r"(?: (?P<pre>orders?|purchases?|products?|items?|units?|customers?))? or "
    r"(?P<dir>more|above|greater|higher|less|fewer|below|lower)"
    r"(?: (?P<noun>orders?|purchases?|products?|items?|units?|customers?))?\b"
)
POST_DIRECTION = {
    "more": ">=",
    "above": ">=",
    "greater": ">=",
    "higher": ">=",
    "less": "<=",
    "fewer": "<=",
    "below": "<=",
    "lower": "<=",
}

LIST_COLUMNS: dict[str, list[str]] = {
    "orders": ["orders.id", "orders.ordered_at", "orders.status", "orders.total_amount"],
    "customers": ["customers.id", "customers.name", "customers.country", "customers.city"],
    "products": ["products.id", "products.name", "products.category", "products.price"],
}
ENTITY_GROUP: dict[str, list[str]] = {
    "customers": ["customers.id", "customers.name"],
    "products": ["products.id", "products.name"],
}
FOLLOW_UP_START = re.compile(
    r"^(?:only|just|now|and|what about|how about|same|also|but|then|sort|break|"
    r"(?:order|rank|arrange|sort) (?:them|those|these|it|that|the result)|"
    r"list them|show them|those|them|that|these|of those|filter|limit|exclude|excluding|"
    r"restrict|narrow|keep only|instead|make it|which of (?:them|those|these)|which ones?|"
    r"who (?:are|were|is|was) (?:they|those|these|them|it)|who among (?:them|those|these)|"
    r"name them|what (?:are|were) they)\b"
)
# Verbs whose "by" names who did it ("placed by a customer"), not a grouping.
AGENT_VERBS = {
    "placed",
    "ordered",
    "bought",
    "purchased",
    "made",
    "sold",
    "shipped",
    "delivered",
    "canceled",
    "cancelled",
    "returned",
    "sent",
    "done",
}

# Words the grammar reads: never taken for a typo of another word.
KNOWN_WORDS = frozenset(
    [*VOCABULARY, *DATE_VERBS, *STATUS_VERBS, *ENTITY_WORDS, *ATTRIBUTE_WORDS, *GRAIN_WORDS]
    + [*MONEY_WORDS, *UNIT_WORDS, *AVG_WORDS, *MOST, *LEAST, *RECENT, *EARLIEST, *PRICE_UP]
    + [*PRICE_DOWN, *LIST_WORDS, *AGENT_VERBS, *MONTH_WORDS, *NUMBER_WORDS, *GROUP_SKIP]
)


# -- result -------------------------------------------------------------------------------------


@dataclass
class Parsed:
    """Everything recognised in one question."""

    text: str
    words: list[str]
    dates: list[tuple[DateRange, int]] = field(default_factory=list)  # range, word index
    late: bool = False
    on_time: bool = False
    statuses: list[str] = field(default_factory=list)
    excluded_statuses: list[str] = field(default_factory=list)
    amounts: list[tuple[str, float, str | None, int]] = field(default_factory=list)
    values: list[tuple[str, str, bool]] = field(default_factory=list)  # column, value, negated
    limit: int | None = None
    value_at: dict[int, str] = field(default_factory=dict)  # word index -> column matched there
    source: str = ""  # the cleaned question before masking
    ids: list[tuple[str, int]] = field(default_factory=list)  # ("orders.id", 123): "order 123"

    def has(self, *words: str) -> bool:
        return any(w in self.words for w in words)

    def find(self, pattern: str) -> re.Match[str] | None:
        return re.search(pattern, " ".join(self.words))


class NotUnderstood(Exception):
    """The question could not be mapped with confidence."""


# -- passes -------------------------------------------------------------------------------------


def clean(question: str) -> str:
    text = (
        mark_countries(question).lower().replace("’", "'").replace("‘", "'").replace("&", " and ")
    )
    for pattern, replacement in CONTRACTIONS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(
        r"\$\s?(\d[\d,]*(?:\.\d+)?)(k?)",
        lambda m: m[1] + ("000" if m[2] else "") + " dollars",
        text,
    )
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # best-selling -> best selling
    text = re.sub(r"[^a-z0-9\-\s&.]", " ", text)
    text = re.sub(r"(?<![0-9])\.|\.(?![0-9])", " ", text)
    words = [str(NUMBER_WORDS.get(w, w)) for w in text.split()]
    return rewrite_statuses(" ".join(words))


def _mask(text: str, span: tuple[int, int], token: str) -> str:
    return text[: span[0]] + f" {token} " + text[span[1] :]


def parse_text(question: str, today: date, values: ValueIndex) -> Parsed:
    text = source = correct_typos(clean(question), values, KNOWN_WORDS)
    text, ids = find_ids(text)
    late = on_time = False
    for pattern in LATE_PATTERNS:
        match = re.search(pattern, text)
        if match:
            late = True
            text = _mask(text, match.span(), "latedelivered")
            break
    if not late:
        for pattern in ON_TIME_PATTERNS:
            match = re.search(pattern, text)
            if match:
                on_time = True
                text = _mask(text, match.span(), "ontimedelivered")
                break

    found = find_dates(text, today)
    for index, item in reversed(list(enumerate(found))):
        text = _mask(text, item.span, f"DATE{index}")
    ranges = [item.range for item in found]

    amounts: list[tuple[str, float, str | None]] = []
    for regex in (AMOUNT_RE, AMOUNT_POST_RE):
        while True:
            match = regex.search(text)
            if match is None:
                break
            if regex is AMOUNT_RE:
                op = next(AMOUNT_CMP[i][1] for i in range(len(AMOUNT_CMP)) if match[f"c{i}"])
            else:
                op = POST_DIRECTION[match["dir"]]
            noun_text = match["noun"] or match.groupdict().get("pre")  # "200 orders or more"
            noun = singular(noun_text) if noun_text else None
            if noun is None and match["cur"]:
                noun = "dollar"
            amounts.append((op, float(match["n"]), noun))
            text = _mask(text, match.span(), f"AMOUNT{len(amounts) - 1}")

    statuses: list[str] = []
    excluded: list[str] = []
    for pattern, meaning in STATUS_PHRASES:
        match = re.search(pattern, text)
        if match:
            negated = _negated(text[: match.start()])
            (excluded if negated else statuses).extend(meaning)
            text = _mask(text, match.span(), "STATUS")

    words = text.split()
    parsed = Parsed(
        text=text,
        words=words,
        late=late,
        on_time=on_time,
        statuses=statuses,
        excluded_statuses=excluded,
        source=source,
        ids=ids,
    )
    for index, word in enumerate(words):
        if word.startswith("DATE"):
            parsed.dates.append((ranges[int(word[4:])], index))
        elif word.startswith("AMOUNT"):
            op, number, noun = amounts[int(word[6:])]
            parsed.amounts.append((op, number, noun, index))

    blocked = {i for i, w in enumerate(words) if not w.islower() or not w.isalnum()}
    normalized = [singular(w) if w.islower() else w for w in words]
    for hit in values.find(normalized, blocked):
        negated = _negated(" ".join(words[max(0, hit.start - 3) : hit.start]))
        parsed.values.append((hit.column, hit.value, negated))
        for i in range(hit.start, hit.end):
            words[i] = "VALUE"
            parsed.value_at[i] = hit.column
    _unknown_names(question, words, parsed)
    parsed.words = [singular(w) if w.islower() else w for w in words]
    parsed.limit = _limit(parsed.words)
    return parsed


_NAME_WORD = r"[A-Z][a-z\u00c0-\u024f]+"
_PLACE = re.compile(rf"\b(?:to|in|from|at|near) ({_NAME_WORD}(?: {_NAME_WORD}){{0,2}})")
_PERSON = re.compile(r"(?<!^)\b([A-Z][a-z]+ [A-Z][a-z]+)(?:'s)?\b")


def _unknown_names(question: str, words: list[str], parsed: Parsed) -> None:
    """Capitalised names the database does not hold: a place after 'in/to/from' is a city, two
    capitalised words are a customer's name. Filtering on them (finding nothing) is more honest
    than dropping them."""
    for regex, column in ((_PLACE, "customers.city"), (_PERSON, "customers.name")):
        for match in regex.finditer(question):
            name = match[1]
            parts = [w.lower() for w in name.split()]
            if any(p in VOCABULARY or p in MONTH_WORDS or p in ENTITY_WORDS for p in parts):
                continue
            for start in range(len(words) - len(parts) + 1):
                if words[start : start + len(parts)] == parts:
                    parsed.values.append((column, name, False))
                    for i in range(start, start + len(parts)):
                        words[i] = "VALUE"
                    break


def _negated(before: str) -> bool:
    tail = " ".join(before.split()[-3:])
    return any(re.search(rf"\b{n}\b", tail) for n in NEGATIONS)


def _limit(words: list[str]) -> int | None:
    """The N of 'top N', 'latest 3', 'the 5 most ...' (dates and amounts are masked already)."""
    for index, word in enumerate(words):
        if not word.isdigit():
            continue
        after = words[index + 1] if index + 1 < len(words) else ""
        if after in ("day", "week", "month", "year", "dollar", "unit"):
            continue
        return int(word)
    return None


# -- interpretation -----------------------------------------------------------------------------


@dataclass
class Context:
    today: date
    scoped: bool = False
    previous: dict[str, Any] | None = None  # the previous Query tool call, for follow-ups


def field_(column: str, aggregate: str | None = None, grain: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "time_grain": grain}


def cond(column: str, operator: str, value: Any, aggregate: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "operator": operator, "value": value}


def sort(column: str, direction: str, aggregate: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "direction": direction}


def date_conditions(column: str, span: DateRange) -> list[dict[str, Any]]:
    if span.start and span.end and span.start == span.end:
        return [cond(column, "=", span.start.isoformat())]
    out = []
    if span.start:
        out.append(cond(column, ">=", span.start.isoformat()))
    if span.end:
        out.append(cond(column, "<=", span.end.isoformat()))
    return out


LATE = cond("orders.delivered_at", ">", {"column_name": "orders.expected_delivery_date"})
ON_TIME = cond("orders.delivered_at", "<=", {"column_name": "orders.expected_delivery_date"})


class Interpreter:
    """Turns a Parsed question into a Query dict."""

    def __init__(self, parsed: Parsed, context: Context) -> None:
        self.p = parsed
        self.ctx = context
        self.words = parsed.words
        self.text = " ".join(parsed.words)
        self.used_verbs: set[int] = set()
        self.thresholds_used: set[int] = set()

    # .. small readers ............................................................................

    def has(self, *words: str) -> bool:
        return any(w in self.words for w in words)

    def find(self, pattern: str) -> re.Match[str] | None:
        return re.search(pattern, self.text)

    def entities(self) -> list[tuple[int, str]]:
        """Entity nouns (orders/customers/products) in order of appearance."""
        out = []
        for index, word in enumerate(self.words):
            entity = ENTITY_WORDS.get(word)
            if word == "latedelivered":
                entity = "orders"  # "late deliveries" are orders
            if entity == "customers" and word == "who" and index > 0:
                continue  # "customers who ..." : a relative pronoun, not a subject
            if entity == "orders" and word in ("delivery",) and self.p.late:
                continue
            if entity:
                out.append((index, entity))
        return out

    def verb_column(self, index: int | None) -> str | None:
        """The date column named by the nearest verb before position `index` (else after)."""
        if index is None:
            candidates = list(range(len(self.words)))
        else:
            candidates = list(range(index - 1, -1, -1))
            candidates += [
                i for i in range(index + 1, len(self.words)) if self.words[i] != "latedelivered"
            ]
        for i in candidates:
            word = self.words[i]
            column = DATE_VERBS.get(word)
            if column is None:
                continue
            if word == "new" and (i + 1 >= len(self.words) or self.words[i + 1] != "customer"):
                continue
            if word in ("sale", "sales", "revenue", "spent", "spend", "spending") and index is None:
                continue
            self.used_verbs.add(i)
            return column
        return None

    # .. main .....................................................................................

    def query(self) -> dict[str, Any]:
        entity = self.entity()
        conditions = self.filters(entity)
        shape = self.shape(entity, conditions)
        return with_asked_column(shape, asked_column(self.text))

    def entity(self) -> str:
        found = self.entities()
        bought = self.find(
            r"^(?:what|which) (?:did|do|have|has|does) (?:.* )?"
            r"(?:order|buy|bought|purchase|get)(?= DATE| in| during|$)"
        )
        if bought and all(self.words[i] == "order" for i, _ in found):
            return "products"
        if found:
            return found[0][1]
        for _, _, noun, _ in self.p.amounts:  # "which countries had over 100 orders"
            if noun in ENTITY_WORDS:
                return ENTITY_WORDS[noun]
        asked = asked_column(self.text)
        return asked.split(".")[0] if asked else "orders"

    def date_column(self, entity: str, index: int | None) -> str:
        column = self.verb_column(index)
        if column is None and self.ctx.previous is not None and index is not None:
            column = previous_date_column(self.ctx.previous)
        if column is None:
            column = "customers.created_at" if entity == "customers" else "orders.ordered_at"
            counts_orders = any(
                noun in ("order", "purchase", "unit", "item") for _, _, noun, _ in self.p.amounts
            )  # "customers with more than 3 orders in march": the orders are dated
            if entity == "customers" and (
                self.has("buyer", "shopper") or self.money_or_units() or counts_orders
            ):
                column = "orders.ordered_at"
        if column == "orders.ordered_at" and entity == "customers" and self.has("signed", "joined"):
            column = "customers.created_at"
        return column

    def money_or_units(self) -> bool:
        return bool(self.has(*MONEY_WORDS, *UNIT_WORDS) or self.find(r"\bhow much\b"))

    def filters(self, entity: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.has("overdue"):  # promised date passed, still not delivered (nor canceled)
            out += [
                cond("orders.delivered_at", "is null", None),
                cond("orders.canceled_at", "is null", None),
                cond("orders.expected_delivery_date", "<", self.ctx.today.isoformat()),
            ]
        for span, index in self.p.dates:
            out += date_conditions(self.date_column(entity, index), span)
        out += [cond(column, "=", number) for column, number in self.p.ids]
        if self.p.late:
            out.append(dict(LATE))
        if self.p.on_time:
            out.append(dict(ON_TIME))
        statuses = list(self.p.statuses)
        excluded = list(self.p.excluded_statuses)
        asked = asked_column(self.text)
        for index, word in enumerate(self.words):
            status = STATUS_VERBS.get(word)
            if (
                status is None
                or index in self.used_verbs
                or (asked and DATE_VERBS.get(word) == asked)
            ):
                continue  # "when was it shipped" asks for shipped_at, not for status shipped
            after = self.words[index + 1] if index + 1 < len(self.words) else ""
            if word in DESTINATION_VERBS and after in ("to", "VALUE"):
                continue
            before = " ".join(self.words[max(0, index - 3) : index])
            (excluded if _negated(before) else statuses).append(status)
        if statuses:
            unique = list(dict.fromkeys(statuses))
            out.append(
                cond("orders.status", "=", unique[0])
                if len(unique) == 1
                else cond("orders.status", "in", unique)
            )
        if excluded:
            unique = list(dict.fromkeys(excluded))
            out.append(
                cond("orders.status", "!=", unique[0])
                if len(unique) == 1
                else cond("orders.status", "not in", unique)
            )
        by_column: dict[tuple[str, bool], list[str]] = {}
        for column, value, negated in self.p.values:
            by_column.setdefault((column, negated), []).append(value)
        for (column, negated), found in by_column.items():
            unique = list(dict.fromkeys(found))
            if len(unique) == 1:
                out.append(cond(column, "!=" if negated else "=", unique[0]))
            else:
                out.append(cond(column, "not in" if negated else "in", unique))
        return out

    # .. shapes ...................................................................................

    def groups(self) -> list[dict[str, Any]]:
        """Group-by fields from 'by/per/each/every X' and 'monthly', 'daily', ..."""
        found: list[dict[str, Any]] = []
        seen: set[tuple[str, str | None]] = set()

        def add(columns: list[str], grain: str | None = None) -> None:
            for column in columns:
                if (column, grain) not in seen:
                    seen.add((column, grain))
                    found.append(field_(column, None, grain))

        for match in re.finditer(r"\b(\w+) (?:distribution|breakdown|split|mix)\b", self.text):
            if match[1] in ATTRIBUTE_WORDS:
                add([ATTRIBUTE_WORDS[match[1]]])
            elif match[1] in GRAIN_WORDS:
                add(["GRAIN"], GRAIN_WORDS[match[1]])
        for index, word in enumerate(self.words):
            if word in ("monthly", "weekly", "daily", "quarterly", "yearly", "annual", "annually"):
                add(["GRAIN"], GRAIN_WORDS[word])
                continue
            if word not in GROUP_LEADS and not (word == "for" and self._next(index) in ("each",)):
                continue
            if (
                word == "by"
                and index > 0
                and self.words[index - 1] in ("sort", "sorted", "ordered", "rank", "ranked")
            ):
                continue
            before = " ".join(self.words[max(0, index - 3) : index])
            if word == "by" and re.search(
                r"\b(?:sort|sorted|rank|ranked|arrange|arranged)\b|"
                r"\border (?:them|those|these|it)\b",
                before,
            ):
                continue  # "sort them by date": ordering, not grouping
            if word == "by" and (
                self._next(index) in ("a", "an", "me", "us")
                or (index > 0 and self.words[index - 1] in AGENT_VERBS)
            ):
                continue  # "placed by a customer": the agent, not a grouping
            target = self._group_target(index + 1)
            if target is None:
                continue
            columns, grain = target
            add(columns, grain)
        return found

    def _next(self, index: int) -> str:
        return self.words[index + 1] if index + 1 < len(self.words) else ""

    def _group_target(self, start: int) -> tuple[list[str], str | None] | None:
        for i in range(start, min(start + 4, len(self.words))):
            word = self.words[i]
            if (
                word == "VALUE"
                and self.p.value_at.get(i) == "products.category"
                and (self._next(i) not in ENTITY_WORDS and self._next(i) not in ATTRIBUTE_WORDS)
            ):
                return ENTITY_GROUP["products"], None  # "each book": every product of Books
            if word in GROUP_SKIP or word == "VALUE" or word in GROUP_LEADS:
                if word == "signup" or (word == "sign" and self._next(i) == "up"):
                    self.signup_grain = True
                continue
            if word in ATTRIBUTE_WORDS:
                return [ATTRIBUTE_WORDS[word]], None
            if word in GRAIN_WORDS:
                return ["GRAIN"], GRAIN_WORDS[word]
            entity = ENTITY_WORDS.get(word)
            following = self._next(i)
            if entity and (following in ATTRIBUTE_WORDS or following in GRAIN_WORDS):
                continue  # "by customer country", "per order month"
            if entity in ENTITY_GROUP:
                return ENTITY_GROUP[entity], None
            if entity == "orders":
                continue
            return None
        return None

    signup_grain = False

    def shape(self, entity: str, conditions: list[dict[str, Any]]) -> dict[str, Any]:
        groups = self.groups()
        grain_column = self._grain_column(entity)
        for item in groups:
            if item["column"] == "GRAIN":
                item["column"] = grain_column
        rank = self.rank_target()
        metric = self.metric(entity)
        query: dict[str, Any] = {
            "table_name": entity,
            "columns": [],
            "conditions": conditions,
            "order_by": [],
            "limit": None,
        }
        threshold = self.threshold(entity)
        never = self.find(
            r"\bnever\b|\bno orders?\b|\bwithout (?:any )?(?:orders?|sales)\b|"
            r"\bnobody\b|\bno one\b|\bunsold\b|\bno sales\b|"
            r"\bnot (?:been )?(?:sold|ordered|bought)\b"
        )

        if never and entity in ("customers", "products") and not groups:
            child = "orders.id" if entity == "customers" else "order_items.id"
            query["columns"] = [field_(c) for c in ENTITY_GROUP[entity]]
            query["conditions"] = conditions + [cond(child, "=", 0, "count")]
            return query
        threshold_group = self.threshold_target(entity)
        if threshold is not None and threshold_group:
            table, column, aggregate, op, number = threshold
            query["table_name"] = table
            query["columns"] = [field_(c) for c in threshold_group]
            query["columns"].append(field_(column, aggregate))
            query["conditions"] = conditions + [cond(column, op, number, aggregate)]
            return query

        # "top 5 X by Y", "which X has the most Y", "which day was busiest"
        if rank is not None and groups and metric and metric.startswith(("max:", "min:")):
            rank = None  # "highest order total per country": an aggregate per group
        if rank is not None:
            target, direction = rank
            if (
                target in ("orders", "customers", "products")
                and not groups
                and (self._row_rank(target))
            ):
                return self._row_ranking(target, conditions, direction)
            if target == "GRAIN":
                group_fields = [g for g in groups if g["aggregate"] is None] or [
                    field_(grain_column, None, self._rank_grain())
                ]
            elif target in ENTITY_GROUP:
                group_fields = [field_(c) for c in ENTITY_GROUP[target]]
            elif target in ATTRIBUTE_WORDS.values():
                group_fields = [field_(target)]
            else:
                group_fields = groups
            table, measure = self.measure_for_groups(
                metric, entity, group_fields, conditions, target
            )
            query["table_name"] = table
            query["columns"] = group_fields + [measure]
            query["order_by"] = [sort(measure["column"], direction, measure["aggregate"])]
            query["limit"] = self.p.limit or 1
            return query

        if groups:
            table, measure = self.measure_for_groups(metric, entity, groups, conditions, None)
            query["table_name"] = table
            query["columns"] = groups + [measure]
            if any(g["time_grain"] for g in groups):
                query["order_by"] = [sort(g["column"], "asc") for g in groups if g["time_grain"]]
            return query

        if metric is None:
            row_direction = self._row_direction(entity)
            if row_direction is not None:
                return self._row_ranking(entity, conditions, row_direction)
            query["columns"] = [field_(c) for c in LIST_COLUMNS[entity]]
            if entity == "customers" and self.find(r"\b(?:ordered|bought|purchased|placed)\b"):
                if not any(
                    c["column"].startswith(("orders.", "order_items.", "products."))
                    for c in conditions
                ):
                    query["conditions"] = conditions + [cond("orders.id", "is not null", None)]
            return query

        table, measure = self.measure_for_groups(metric, entity, [], conditions, None)
        query["table_name"] = table
        query["columns"] = [measure]
        if (
            metric in ("count",)
            and entity == "customers"
            and self.has("buyer", "ordered", "bought", "purchased", "shopper")
            and not any(c["column"].startswith(("orders.", "products.")) for c in conditions)
        ):
            query["conditions"] = conditions + [cond("orders.id", "is not null", None)]
        return query

    def _grain_column(self, entity: str) -> str:
        if self.signup_grain or self.has("signup", "signups", "joined", "registered"):
            return "customers.created_at"
        column = self.verb_column(len(self.words))
        if column is None:
            column = "customers.created_at" if entity == "customers" else "orders.ordered_at"
        return column

    def _rank_grain(self) -> str:
        for word in self.words:
            if word in GRAIN_WORDS:
                return GRAIN_WORDS[word]
        return "day"

    # .. what is measured .........................................................................

    def metric(self, entity: str) -> str | None:
        """count, count_distinct:<col>, money, units, avg_value, avg_unit_price, avg_price,
        max_value, min_value ... or None for a list."""
        t = self.text
        if re.search(
            r"\b(?:how many|number of|count|what number|total number|tally|headcount)"
            r"\b",
            t,
        ):
            if re.search(
                r"\b(?:how many|number of|total) (?:unit|item|copy|copie|piece)s?\b", t
            ) or self.has("unit", "quantity"):
                return "units"
            if UNITS_SOLD.search(t) and not self.find(r"\b(?:never|not|no)\b"):
                return "units"  # "how many yoga mats were sold": units of that product
            counted = self.find(
                r"\b(?:how many|number of|count of|count the|count)"
                r"(?: the)?(?: unique| different| distinct| separate)? (\w+)"
            )
            if counted and counted[1] in ("country", "city", "category"):
                return "distinct:" + ATTRIBUTE_WORDS[counted[1]]
            return "count"
        if self.has(*AVG_WORDS):
            if self.find(r"\bunit price\b|\bprice paid\b|\bpaid\b"):
                return "avg:order_items.unit_price"
            if self.has("price", "cost") or entity == "products":
                return "avg:products.price"
            if self.has("quantity", "unit"):
                return "avg:order_items.quantity"
            return "avg:orders.total_amount"
        if self.has("unit", "quantity") or SELLING.search(t):
            return "units"
        if self.has("popular", "bestseller"):
            return "units"
        if self.has(*MONEY_WORDS) or self.find(r"\bhow much\b|\bbring in\b|\bbrought in\b"):
            return "money"
        if self.find(
            r"\b(?:total|sum|combined|overall|aggregate) (?:of |the )?"
            r"(?:value|amount|order total|worth|order value|spend)|\bsum of\b|"
            r"\btotal (?:order )?value\b|\bthe total\b|\btotal$"
        ):
            return "money"
        if self.find(r"\b(?:highest|max|maximum|largest|biggest)\b") and (
            self.has("price", "total", "amount", "value")
        ):
            return "max:" + self._value_column(entity)
        if self.find(r"\b(?:lowest|min|minimum|smallest)\b") and (
            self.has("price", "total", "amount", "value")
        ):
            return "min:" + self._value_column(entity)
        return None

    def _value_column(self, entity: str) -> str:
        if self.has("price") and not self.has("order"):
            return "products.price"
        return "orders.total_amount"

    def measure_for_groups(
        self,
        metric: str | None,
        entity: str,
        groups: list[dict[str, Any]],
        conditions: list[dict[str, Any]],
        target: str | None,
    ) -> tuple[str, dict[str, Any]]:
        touches_products = any(c["column"].startswith("products.") for c in groups + conditions)
        if metric is None:
            metric = "count"
        if metric == "units":
            return "order_items", field_("order_items.quantity", "sum")
        if metric == "money":
            if touches_products:
                return "order_items", field_("order_items.line_total", "sum")
            return "orders", field_("orders.total_amount", "sum")
        if metric.startswith("distinct:"):
            column = metric.split(":", 1)[1]
            return column.split(".")[0], field_(column, "count_distinct")
        if ":" in metric:
            aggregate, column = metric.split(":", 1)
            if column == "products.price" and not touches_products:
                column = "orders.total_amount" if entity == "orders" else column
            table = column.split(".")[0]
            if column == "orders.total_amount" and entity == "customers":
                table = "orders"
            return table, field_(column, aggregate)
        counted = self._counted(entity, target)
        return counted, field_(f"{counted}.id", "count")

    def _counted(self, entity: str, target: str | None) -> str:
        """Which rows a count counts: the noun after 'most'/'number of', else the entity."""
        match = self.find(
            r"\b(?:most|fewest|least|number of|many|count of|more) (\w+)"
            r"|\b(\w+) count\b"
        )
        noun = match and (match[1] or match[2])
        if noun and ENTITY_WORDS.get(noun):
            return ENTITY_WORDS[noun]
        for _, found in self.entities():
            if target is None or found != target:
                return found
        return entity if entity != target else "orders"

    def threshold_target(self, entity: str) -> list[str] | None:
        """What a threshold on an aggregate filters: the first group noun ('which countries',
        'product categories', 'customers')."""
        for index, word in enumerate(self.words):
            if word in ATTRIBUTE_WORDS and word != "state":
                return [ATTRIBUTE_WORDS[word]]
            found = ENTITY_WORDS.get(word)
            if found and self._next(index) in ATTRIBUTE_WORDS:
                continue
            if found in ENTITY_GROUP:
                return ENTITY_GROUP[found]
            if found == "orders":
                return None
        return ENTITY_GROUP.get(entity)

    def threshold(self, entity: str) -> tuple[str, str, str, str, float] | None:
        """(base table, column, aggregate, operator, number) of 'at least 10 orders'."""
        for position, (op, number, noun, _) in enumerate(self.p.amounts):
            found: tuple[str, str, str] | None = None
            if noun in ("order", "purchase", "time"):
                found = ("orders", "orders.id", "count")
            elif noun in ("unit", "item"):
                found = ("order_items", "order_items.quantity", "sum")
            elif noun == "customer":
                found = ("customers", "customers.id", "count")
            elif (
                noun == "dollar"
                and self.has("spent", "spend", "revenue", "sale", "sold", "spending")
                and (entity != "orders" or self.has("country", "city", "category"))
            ):
                found = ("orders", "orders.total_amount", "sum")
                if self.has("category", "product"):
                    found = ("order_items", "order_items.line_total", "sum")
            if found is not None and self.threshold_target(entity):
                self.thresholds_used.add(position)
                return (*found, op, number)
        return None

    def amount_conditions(self, entity: str) -> list[dict[str, Any]]:
        out = []
        for position, (op, number, noun, _) in enumerate(self.p.amounts):
            if position in self.thresholds_used or noun in ("order", "purchase", "time"):
                continue
            column = "orders.total_amount"
            if entity == "products" or self.has("price", "cost", "priced", "expensive", "cheap"):
                column = "products.price"
            value: float | int = int(number) if number.is_integer() else number
            out.append(cond(column, op, value))
        return out

    # .. ranking ..................................................................................

    def rank_target(self) -> tuple[str, str] | None:
        """(what is ranked, direction) for 'top N X', 'which X ... the most', 'busiest day'."""
        words = self.words
        direction: str | None = None
        for word in words:
            if word in LEAST or word in PRICE_DOWN:
                direction = "asc"
                break
            if word in MOST or word in PRICE_UP:
                direction = "desc"
                break
        if self.find(r"\bleast (?:expensive|popular)\b"):
            direction = "asc"
        recency = self._recency_direction()
        if direction is None and recency is None:
            return None
        # What is ranked: the noun right after the superlative / 'which' / 'top N'.
        target: str | None = None
        match = self.find(r"\b(?:which|what|top|bottom|the|our)(?: \d+)? (\w+)")
        candidates = [match[1]] if match else []
        candidates += words
        for word in candidates:
            if word in ATTRIBUTE_WORDS:
                target = ATTRIBUTE_WORDS[word]
                break
            if word in GRAIN_WORDS and word not in ("date",) and words.index(word) >= 0:
                if self.find(
                    rf"\b(?:which|what) {word}\b|\b{word} (?:was|is|had|has) "
                    r"(?:the )?(?:busiest|best|worst|biggest)|busiest \w+"
                ):
                    target = "GRAIN"
                    break
                continue
            if word in ENTITY_WORDS and (word != "who" or words[0] == "who"):
                target = ENTITY_WORDS[word]
                break
        if target is None:
            return None
        if direction is None:
            direction = recency
        assert direction is not None
        return target, direction

    def _recency_direction(self) -> str | None:
        if self.has(*RECENT) or self.find(r"\bmost recent"):
            return "desc"
        if self.has(*EARLIEST):
            return "asc"
        return None

    def _row_rank(self, target: str) -> bool:
        """Rank rows of the entity itself (not groups): orders by size or date, products by
        price, customers by sign-up date."""
        if target == "orders":
            return not self.has(*MONEY_WORDS, *UNIT_WORDS)
        if target == "products":
            return bool(self.has(*PRICE_UP, *PRICE_DOWN, "price")) and not self.has(
                *MONEY_WORDS, *SELLING_WORDS
            )
        if target == "customers":
            return self._recency_direction() is not None and not self.has(
                "most", "best", "top", "biggest"
            )
        return False

    def _row_direction(self, entity: str) -> str | None:
        rank = self.rank_target()
        if rank and rank[0] == entity and self._row_rank(entity):
            return rank[1]
        return None

    def _row_ranking(
        self, entity: str, conditions: list[dict[str, Any]], direction: str
    ) -> dict[str, Any]:
        columns = list(LIST_COLUMNS[entity])
        recency = self._recency_direction()
        size_words = MOST | LEAST | PRICE_UP | PRICE_DOWN
        by_size = any(w in size_words for w in self.words if w not in ("most", "least")) or (
            self.find(r"\b(?:most|least) expensive\b")
        )
        if entity == "orders":
            if by_size and not self.find(r"\bmost recent"):
                column = "orders.total_amount"
            else:
                column = self.verb_column(None) or "orders.ordered_at"
                if not column.startswith("orders."):
                    column = "orders.ordered_at"
                direction = recency or direction
        elif entity == "products":
            column = "products.price"
        else:
            column = "customers.created_at"
            direction = recency or direction
        if column not in columns:
            columns.append(column)
        return {
            "table_name": entity,
            "columns": [field_(c) for c in columns],
            "conditions": conditions,
            "order_by": [sort(column, direction)],
            "limit": self.p.limit or 1,
        }


def with_asked_column(query: dict[str, Any], asked: str | None) -> dict[str, Any]:
    """A row query shows the attribute the question asks for ("when will it arrive?")."""
    columns = query["columns"]
    if asked and not any(c["aggregate"] for c in columns):
        if not any(c["column"] == asked for c in columns):
            columns.append(field_(asked))
    return query


def previous_date_column(query: dict[str, Any]) -> str | None:
    for condition in query.get("conditions", []):
        column = condition["column"]
        if column in DATE_COLUMNS and not isinstance(condition["value"], dict):
            return str(column)
    return None


DATE_COLUMNS = (
    "orders.ordered_at",
    "orders.shipped_at",
    "orders.delivered_at",
    "orders.canceled_at",
    "customers.created_at",
)


def understand(question: str, context: Context, values: ValueIndex) -> dict[str, Any]:
    """The Query for a question, editing the previous query for a follow-up."""
    parsed = parse_text(question, context.today, values)
    interpreter = Interpreter(parsed, context)
    if context.previous is not None and is_follow_up(parsed, interpreter):
        from nl2sql.models.offline.followups import follow_up  # it builds on this module

        return follow_up(parsed, interpreter, context.previous)
    if not confident(parsed, interpreter):
        raise NotUnderstood(question)
    entity = interpreter.entity()
    query = interpreter.query()
    query["conditions"] = query["conditions"] + interpreter.amount_conditions(entity)
    return revenue_of_items(query)


def confident(parsed: Parsed, interpreter: Interpreter) -> bool:
    """Something the grammar knows must anchor the question: an entity, a measure, a value."""
    # A value alone ("weather in Paris") is not enough: something must say what is asked.
    anchors = (
        interpreter.entities()
        or interpreter.metric("orders")
        or parsed.statuses
        or parsed.late
        or interpreter.groups()
        or interpreter.rank_target()
        or interpreter.threshold(interpreter.entity())  # "which cities had over 20 orders"
        or parsed.ids  # "order 123"
        or (asked_column(interpreter.text) and (parsed.values or interpreter.has("my")))
    )
    return bool(anchors)


def is_follow_up(parsed: Parsed, interpreter: Interpreter) -> bool:
    text = " ".join(parsed.words)
    if FOLLOW_UP_START.search(text) or re.fullmatch(r"(?:by|per|for each) \w+(?: \w+)?", text):
        return True  # "by country?": regroup what was asked
    if re.search(r"\b(?:them|those|that|these|it|they)\b", text) and not interpreter.entities():
        return True
    if interpreter.entities() or interpreter.groups() or parsed.values or parsed.dates:
        return False
    if interpreter.threshold(interpreter.entity()):  # "cities with at least 20 customers"
        return False
    metric = interpreter.metric("orders")
    return metric in (None, "count")  # "what's the count?": of what the conversation is about


def today_from(system: str) -> date | None:
    match = re.search(r"Today is (\d{4}-\d{2}-\d{2})", system)
    return date.fromisoformat(match[1]) if match else None


__all__ = ["Context", "NotUnderstood", "understand", "today_from", "timedelta"]
