"""The passes over a question: each recognises something, records it and masks it.

The parse runs in passes over the lower-cased question; each pass consumes what it recognises and
masks it, so later passes do not read it twice:

1. late / on-time phrases, 2. date expressions, 3. amounts and thresholds, 4. status words,
5. values from the database (countries, cities, categories, product and customer names).

Before the passes, misspelt grammar nouns are corrected (typos.py), "US" as a country is told
from the pronoun "us" (values.mark_countries) and multi-word status verbs are rewritten
(statuses.py: "sent back" -> "returned").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from nl2sql.models.offline.amounts import AMOUNT_POST_RE, AMOUNT_RE, Amount, read_amount
from nl2sql.models.offline.asked import find_ids
from nl2sql.models.offline.dates import DateRange, find_dates
from nl2sql.models.offline.lexicon import (
    BARE_CONTRACTIONS,
    CONTRACTIONS,
    ENTITY_WORDS,
    KNOWN_WORDS,
    MONTH_WORDS,
    NUMBER_WORDS,
    PHRASE_REWRITES,
    SORT_PHRASES,
    SORT_TOKENS,
    negated,
)
from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__CITY,
    CUSTOMERS__NAME,
)
from nl2sql.models.offline.shorthand import expand_shorthand
from nl2sql.models.offline.statuses import STATUS_PHRASES, rewrite_statuses
from nl2sql.models.offline.typos import correct_typos
from nl2sql.models.offline.values import VOCABULARY, ValueIndex, mark_countries
from nl2sql.words import singular

LATE_PATTERNS = [
    r"\b(?:not|never) (?:been |being )?(?:(?:get |got |gotten )?(?:delivered|deliver|arrived?|"
    r"arriving|shipped|ship|come|came|show up|turn up|get there|got there) )?on time\b",
    r"\b(?:delivered|arrived|arriving|came|come|delivery|deliveries|shipments?|orders?) "
    r"(?:too |very )?late\b",
    r"\blate (?:deliveries|delivery|orders?|shipments?|arrivals?)\b",
    r"\b(?:delivered |arrived |arriving |came )?(?:after|past|later than) (?:the |their |its )?"
    r"(?:promised|expected|estimated|due|delivery) ?(?:delivery )?(?:date|day)?\b",
    r"\bmissed (?:the |their |its )?(?:promised|expected|estimated|due|delivery) ?(?:delivery )?"
    r"(?:date|day|deadline)\b",
    # "arrive after the date you promised", "later than promised": the promise in other words
    r"\b(?:(?:arrive[ds]?|arriving|delivered|came|come) )?(?:after|past|later than) (?:the )?"
    r"(?:date|day|time) (?:you|we|they|it was|that was|i was) (?:promised|quoted|estimated|gave|"
    r"given|said)\b",
    r"\b(?:(?:arrive[ds]?|arriving|delivered|came|come) )?later than (?:promised|expected|"
    r"estimated|quoted|planned)\b",
    r"\b(?:delayed|behind schedule)\b",
    r"\blate\b",
]
ON_TIME_PATTERNS = [r"\b(?:delivered |arrived |arriving )?on time\b"]


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
    sort_order: str | None = None  # "desc", "asc", "alpha": "highest first", "alphabetically"

    def has(self, *words: str) -> bool:
        return any(w in self.words for w in words)

    def find(self, pattern: str) -> re.Match[str] | None:
        return re.search(pattern, " ".join(self.words))


def clean(question: str) -> str:
    text = mark_countries(question).lower().replace("’", "'").replace("‘", "'")
    text = expand_shorthand(text).replace("&", " and ")
    for pattern, replacement in CONTRACTIONS + PHRASE_REWRITES:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"[a-z]+", lambda m: BARE_CONTRACTIONS.get(m[0], m[0]), text)
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
    text, sort_order = _mask_sort(text)
    text, late = _mask_first(text, LATE_PATTERNS, "latedelivered")
    on_time = False
    if not late:
        text, on_time = _mask_first(text, ON_TIME_PATTERNS, "ontimedelivered")
    text, ranges = _mask_dates(text, today)
    text, amounts = _mask_amounts(text)
    text, statuses, excluded = _mask_statuses(text)
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
        sort_order=sort_order,
    )
    _place_masked(parsed, ranges, amounts)
    _mark_values(parsed, words, values)
    _unknown_names(question, words, parsed)
    parsed.words = [singular(w) if w.islower() else w for w in words]
    parsed.limit = _limit(parsed.words)
    return parsed


def _mask_first(text: str, patterns: list[str], token: str) -> tuple[str, bool]:
    """Mask the first pattern that matches; whether one did."""
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return _mask(text, match.span(), token), True
    return text, False


def _mask_sort(text: str) -> tuple[str, str | None]:
    """Mask the first sort phrase ("highest first", "in descending order"); its direction."""
    for pattern, token in SORT_PHRASES:
        match = re.search(pattern, text)
        if match:
            return _mask(text, match.span(), token), SORT_TOKENS[token]
    return text, None


def _mask_dates(text: str, today: date) -> tuple[str, list[DateRange]]:
    found = find_dates(text, today)
    for index, item in reversed(list(enumerate(found))):  # from the right: spans stay valid
        text = _mask(text, item.span, f"DATE{index}")
    return text, [item.range for item in found]


def _mask_amounts(text: str) -> tuple[str, list[Amount]]:
    amounts: list[Amount] = []
    for regex in (AMOUNT_RE, AMOUNT_POST_RE):
        while match := regex.search(text):
            amounts.append(read_amount(match))
            text = _mask(text, match.span(), f"AMOUNT{len(amounts) - 1}")
    return text, amounts


def _mask_statuses(text: str) -> tuple[str, list[str], list[str]]:
    """(text, statuses asked for, statuses excluded: "not yet delivered")."""
    statuses: list[str] = []
    excluded: list[str] = []
    for pattern, meaning in STATUS_PHRASES:
        match = re.search(pattern, text)
        if match:
            (excluded if negated(text[: match.start()]) else statuses).extend(meaning)
            text = _mask(text, match.span(), "STATUS")
    return text, statuses, excluded


def _place_masked(parsed: Parsed, ranges: list[DateRange], amounts: list[Amount]) -> None:
    """Record at which word each masked date and amount sits."""
    for index, word in enumerate(parsed.words):
        if word.startswith("DATE"):
            parsed.dates.append((ranges[int(word[4:])], index))
        elif word.startswith("AMOUNT"):
            op, number, noun = amounts[int(word[6:])]
            parsed.amounts.append((op, number, noun, index))


def _mark_values(parsed: Parsed, words: list[str], values: ValueIndex) -> None:
    """Database values (countries, categories, names...) become VALUE in `words`."""
    blocked = {i for i, w in enumerate(words) if not w.islower() or not w.isalnum()}
    normalized = [singular(w) if w.islower() else w for w in words]
    for hit in values.find(normalized, blocked):
        before = " ".join(words[max(0, hit.start - 3) : hit.start])
        parsed.values.append((hit.column, hit.value, negated(before)))
        for i in range(hit.start, hit.end):
            words[i] = "VALUE"
            parsed.value_at[i] = hit.column


_NAME_WORD = r"[A-Z][a-z\u00c0-\u024f]+"
_PLACE = re.compile(rf"\b(?:to|in|from|at|near) ({_NAME_WORD}(?: {_NAME_WORD}){{0,2}})")
_PERSON = re.compile(r"(?<!^)\b([A-Z][a-z]+ [A-Z][a-z]+)(?:'s)?\b")


def _unknown_names(question: str, words: list[str], parsed: Parsed) -> None:
    """Capitalised names the database does not hold: a place after 'in/to/from' is a city, two
    capitalised words are a customer's name. Filtering on them (finding nothing) is more honest
    than dropping them."""
    for regex, column in ((_PLACE, CUSTOMERS__CITY), (_PERSON, CUSTOMERS__NAME)):
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
