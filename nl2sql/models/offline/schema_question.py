"""A question as the schema-driven offline model reads it: its words (dates masked, shorthand
spelled out, slips corrected), which of them a recogniser has taken, the intent being filled,
and the cue words every recogniser shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

from nl2sql.models.offline.dates import find_dates
from nl2sql.models.offline.schema_words import (
    NUMERIC_KINDS,
    Phrase,
    Phrases,
    SchemaWords,
    first_word_index,
)
from nl2sql.words import words_of

DATE_MARK = "datemark"  # stands for a date expression, masked before the words are read


MAX_PHRASE = 4


COUNT_CUES: tuple[Phrase, ...] = (
    ("how", "many"),
    ("number", "of"),
    ("count", "of"),
    ("count",),
    ("total", "number", "of"),
)


AGGREGATE_CUES: dict[Phrase, str] = {
    ("total",): "sum",
    ("sum", "of"): "sum",
    ("sum",): "sum",
    ("average",): "avg",
    ("avg",): "avg",
    ("mean",): "avg",
    ("maximum",): "max",
    ("max",): "max",
    ("highest",): "max",
    ("largest",): "max",
    ("biggest",): "max",
    ("minimum",): "min",
    ("min",): "min",
    ("lowest",): "min",
    ("smallest",): "min",
}


RANK_CUES: dict[Phrase, bool] = {  # True: descending
    ("top",): True,
    ("most",): True,
    ("highest",): True,
    ("largest",): True,
    ("biggest",): True,
    ("most", "expensive"): True,
    ("bottom",): False,
    ("least",): False,
    ("fewest",): False,
    ("lowest",): False,
    ("smallest",): False,
    ("cheapest",): False,
}


GROUP_CUES: tuple[Phrase, ...] = (("for", "each"), ("by",), ("per",), ("each",), ("across",))


GRAINS = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year"}


COMPARISONS: dict[Phrase, str] = {
    ("more", "than"): ">",
    ("greater", "than"): ">",
    ("over",): ">",
    ("above",): ">",
    ("at", "least"): ">=",
    ("less", "than"): "<",
    ("under",): "<",
    ("below",): "<",
    ("at", "most"): "<=",
}


SIGNS: dict[Phrase, str] = {("negative",): "<", ("positive",): ">"}


CUE_WORDS = frozenset(
    word
    for table in (COUNT_CUES, AGGREGATE_CUES, RANK_CUES, GROUP_CUES, COMPARISONS, SIGNS)
    for phrase in table
    for word in phrase
)


FILLER = frozenset(
    """
    the a an of in on at for to from with by did do doe does is are was were be been being have
    has had how what which who whose that this these those there their it its me my our we i you
    please show list give tell find get all any and made there much value number
    s i e ie what s whats overall altogether so far ever based located among sold break down
    breakdown when during still came come through include included including contain
    containing sell selling broken single make brought
    """.split()
)


NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


MONEY = re.compile(r"(?:\$\s?)?(\d{1,3}(?:,\d{3})+)(?![\d,])|\$\s?(\d+)")


WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "ten": 10, "twenty": 20}


class NotRead(Exception):
    """The question has words no recogniser read; the message names them."""


@dataclass
class Words:
    """The question's words and which of them a recogniser has taken."""

    items: list[str]
    taken: set[int] = field(default_factory=set)

    def find(self, phrases: Any, start: int = 0) -> tuple[int, int, Phrase] | None:
        """The first free occurrence (longest phrase first at each position) of any phrase."""
        by_first = (
            phrases.by_first_word() if isinstance(phrases, Phrases) else first_word_index(phrases)
        )
        for index in range(start, len(self.items)):
            for phrase in by_first.get(self.items[index], ()):
                end = index + len(phrase)
                if tuple(self.items[index:end]) == phrase and not self.taken & set(
                    range(index, end)
                ):
                    return index, end, phrase
        return None

    def take(self, start: int, end: int) -> None:
        self.taken.update(range(start, end))

    def unread(self) -> list[str]:
        return [w for i, w in enumerate(self.items) if i not in self.taken and w not in FILLER]


@dataclass
class Intent:
    """What the question asks, slot by slot, before it becomes a Query."""

    table: str | None = None
    aggregate: str | None = None
    measure: str | None = None  # qualified column
    groups: list[tuple[str, str | None]] = field(default_factory=list)  # (column, grain)
    filters: list[dict[str, Any]] = field(default_factory=list)
    order: tuple[bool, int] | None = None  # (descending, limit)
    dates: list[Any] = field(default_factory=list)
    date_column: str | None = None
    listing: bool = False
    asked: list[str] = field(default_factory=list)  # columns a lookup asks for
    named: list[str] = field(default_factory=list)  # tables the question names
    owners: list[str] = field(default_factory=list)  # whose: 'customer' in 'customer region'


def read_question(question: str, today: date, words: SchemaWords) -> tuple[Words, Intent]:
    """The question's words (dates masked, '$400,000' as one number, slips corrected) and an
    intent holding its periods."""
    text, dates = mask_dates(question.lower(), today)
    text = MONEY.sub(lambda m: (m.group(1) or m.group(2)).replace(",", ""), text)
    for pattern, spelled in SHORTHAND:
        text = pattern.sub(spelled, text)
    return Words(corrected(words_of(text), words)), Intent(dates=dates)


SHORTHAND = [  # spelled out before the words are read
    (re.compile(r"(?:^|(?<=\s))#\s*of\b"), "number of"),
    (re.compile(r"\bno\.\s*of\b"), "number of"),
    (re.compile(r"\bmonthly\b"), "by month"),
    (re.compile(r"\b(?:yearly|annual)\b"), "by year"),
    (re.compile(r"\bquarterly\b"), "by quarter"),
    (re.compile(r"\bweekly\b"), "by week"),
    (re.compile(r"\bdaily\b"), "by day"),
]


def mask_dates(text: str, today: date) -> tuple[str, list[Any]]:
    found = find_dates(text, today)
    ranges: list[Any] = []
    for item in reversed(found):  # right to left, so earlier spans keep their offsets
        start, end = item.span
        text = f"{text[:start]} {DATE_MARK} {text[end:]}"
        ranges.insert(0, item.range)
    return text, ranges


def corrected(items: list[str], words: SchemaWords) -> list[str]:
    """Words one slip away from a word the recognisers know ('custmers', 'averge') read as it."""
    if words.known is None:  # the same for every question on this database: built once
        words.known = vocabulary(words)
    known = words.known
    fixed = []
    for word in items:
        if len(word) < 5 or word in known or NUMBER.match(word):
            fixed.append(word)
            continue
        near = [k for k in known if k[0] == word[0] and DamerauLevenshtein.distance(word, k) == 1]
        fixed.append(near[0] if len(near) == 1 else word)
    return fixed


def vocabulary(words: SchemaWords) -> frozenset[str]:
    phrases = [
        *words.tables,
        *words.columns,
        *words.values,
        *COUNT_CUES,
        *AGGREGATE_CUES,
        *RANK_CUES,
        *GROUP_CUES,
        *COMPARISONS,
        *DATE_EXTREMES,
    ]
    return frozenset({w for p in phrases for w in p} | set(words.verbs) | FILLER)


def numeric_column_at(read: Words, words: SchemaWords, index: int) -> str | None:
    """The numeric column named at `index`, past filler words ('biggest single order total')."""
    hit = read.find(words.numeric, index)
    while hit is not None and hit[0] != index and read.items[index] in FILLER:
        index += 1  # past filler: 'biggest single order total'
    if hit is None or hit[0] != index:
        return None
    read.take(hit[0], hit[1])
    return str(words.numeric[hit[2]][0])


def is_numeric(words: SchemaWords, qualified: str) -> bool:
    return words.info(qualified).kind in NUMERIC_KINDS


def number_of(text: str) -> int | float:
    return float(text) if "." in text else int(text)


DATE_EXTREMES: dict[Phrase, bool] = {  # True: the latest
    ("most", "recent"): True,
    ("latest",): True,
    ("newest",): True,
    ("earliest",): False,
    ("oldest",): False,
}


def ranked_table(read: Words, words: SchemaWords) -> str | None:
    hit = read.find(words.tables)
    return words.tables[hit[2]] if hit else None


def preferred(words: SchemaWords, columns: list[str], read: Words) -> str:
    """Of several columns one phrase names, the one on a table the question names."""
    named = {words.tables[p] for p in words.tables if occurs(read.items, p)}
    return next((c for c in columns if words.info(c).table in named), columns[0])


def occurs(items: list[str], phrase: Phrase) -> bool:
    size = len(phrase)
    return any(tuple(items[i : i + size]) == phrase for i in range(len(items) - size + 1))


def make_field(column: str, aggregate: str | None, grain: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "time_grain": grain}


def make_condition(column: str, operator: str, value: Any) -> dict[str, Any]:
    return {"column": column, "aggregate": None, "operator": operator, "value": value}
