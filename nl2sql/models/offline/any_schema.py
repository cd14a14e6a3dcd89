"""The offline model on any database: pure recognisers over the catalog's words.

Each recogniser reads the question's words (and what earlier ones took) and returns one typed
part of the intent: the values it names, the dates, what is measured, the grouping, the ranking,
the table asked about. ``understand_any`` combines them into a Query. A word no recogniser read
and that is not filler refuses the question (naming the word): on a schema it was not tuned
on, the model would rather say so than guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

from nl2sql.models.offline.dates import find_dates
from nl2sql.models.offline.schema_words import NUMERIC_KINDS, Phrase, SchemaWords, words_of

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
        ordered = sorted(phrases, key=len, reverse=True)
        for index in range(start, len(self.items)):
            for phrase in ordered:
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


def understand_any(question: str, today: date, words: SchemaWords) -> dict[str, Any]:
    """The Query for a question on any schema; NotRead when some of it cannot be mapped."""
    read, intent = read_question(question, today, words)
    read_values(read, words, intent)
    read_keys(read, words, intent)
    read_comparisons(read, words, intent)
    read_grouping(read, words, intent)
    read_date_extreme(read, intent)
    read_ranking(read, words, intent)
    read_measure(read, words, intent)
    read_entity(read, words, intent)
    read_asked_columns(read, words, intent)
    read_date_column(read, words, intent)
    unread = read.unread()
    if unread:
        raise NotRead(f"I do not know what {', '.join(repr(w) for w in unread)} means here")
    return build_query(intent, words)


def read_question(question: str, today: date, words: SchemaWords) -> tuple[Words, Intent]:
    """The question's words (dates masked, '$400,000' as one number, slips corrected) and an
    intent holding its periods."""
    text, dates = _mask_dates(question.lower(), today)
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


def _mask_dates(text: str, today: date) -> tuple[str, list[Any]]:
    found = find_dates(text, today)
    ranges: list[Any] = []
    for item in reversed(found):  # right to left, so earlier spans keep their offsets
        start, end = item.span
        text = f"{text[:start]} {DATE_MARK} {text[end:]}"
        ranges.insert(0, item.range)
    return text, ranges


def corrected(items: list[str], words: SchemaWords) -> list[str]:
    """Words one slip away from a word the recognisers know ('custmers', 'averge') read as it."""
    known = vocabulary(words)
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


# -- recognisers ------------------------------------------------------------------------------


def read_values(read: Words, words: SchemaWords, intent: Intent) -> None:
    """Database values named in the question: each becomes `column = value` (or `in`).

    A value inside a longer column or table phrase is that phrase ('ship mode', not the value
    SHIP); a value of several columns is decided by the column word beside it ('status F')."""
    position = 0
    while (hit := read.find(words.values, position)) is not None:
        start, end, phrase = hit
        position = start + 1
        if _inside_longer_name(read, words, start, end):
            continue
        matches = words.values[phrase]
        columns = {column for column, _ in matches}
        # A letter code ('F') or a value spelt like a common word ('a', 'count') is only a
        # value beside its column's word: 'return flag A', 'status F'.
        weak = len("".join(phrase)) < 3 or set(phrase) <= CUE_WORDS | FILLER
        named = _named_beside(read, words, start, end, columns, alone=not weak)
        if named is None and weak:
            continue
        if named is None:
            listed = ", ".join(sorted(columns))
            raise NotRead(f"'{' '.join(phrase)}' is a value of several columns ({listed})")
        read.take(start, end)
        value = next(value for column, value in matches if column == named)
        _add_value(intent, named, value)


def _inside_longer_name(read: Words, words: SchemaWords, start: int, end: int) -> bool:
    for names in (words.columns, words.tables):
        for phrase in names:
            size = len(phrase)
            if size <= end - start:
                continue
            for first in range(max(0, end - size), start + 1):
                if tuple(read.items[first : first + size]) == phrase:
                    return True
    return False


def _named_beside(
    read: Words, words: SchemaWords, start: int, end: int, columns: set[str], *, alone: bool
) -> str | None:
    """The one column whose word stands right before or after the value (taking the word), or,
    when `alone` allows it, the only column there is."""
    for phrase, named in words.columns.items():
        size = len(phrase)
        for first in (start - size, end):
            if first < 0 or read.taken & set(range(first, first + size)):
                continue
            if tuple(read.items[first : first + size]) == phrase:
                chosen = [c for c in named if c in columns]
                if len(chosen) == 1:
                    read.take(first, first + size)
                    return chosen[0]
    return next(iter(columns)) if alone and len(columns) == 1 else None


def _add_value(intent: Intent, column: str, value: str) -> None:
    for condition in intent.filters:
        if condition["column"] == column and condition["operator"] in ("=", "in"):
            earlier = condition["value"] if condition["operator"] == "in" else [condition["value"]]
            condition.update(operator="in", value=[*earlier, value])
            return
    intent.filters.append(_condition(column, "=", value))


def read_keys(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'order 35', 'customer 12': a table's name and a number is that row's key."""
    for index in range(len(read.items) - 1):
        following = read.items[index + 1]
        if index in read.taken or not NUMBER.match(following) or "." in following:
            continue
        hit = read.find(words.tables, index)
        key = words.count_column(words.tables[hit[2]]) if hit and hit[1] == index + 1 else None
        if key is not None and words.info(key).key:
            read.take(index + 1, index + 2)
            intent.filters.append(_condition(key, "=", int(following)))


def read_comparisons(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'over 300000', 'more than 5 quantity': a number compared with a numeric column;
    'a negative balance': the column compared with zero."""
    while (hit := read.find(SIGNS)) is not None:
        start, end, phrase = hit
        column = _numeric_column_at(read, words, end)
        if column is None:
            break
        read.take(start, end)
        intent.filters.append(_condition(column, SIGNS[phrase], 0))
    while (hit := read.find(COMPARISONS)) is not None:
        start, end, phrase = hit
        if end >= len(read.items) or not NUMBER.match(read.items[end]):
            return
        read.take(start, end + 1)
        column = _numeric_column_at(read, words, end + 1)
        intent.filters.append(
            {
                "pending_column": column,
                "operator": COMPARISONS[phrase],
                "value": _number(read.items[end]),
            }
        )


def _numeric_column_at(read: Words, words: SchemaWords, index: int) -> str | None:
    """The numeric column named at `index`, past filler words ('biggest single order total')."""
    numeric = {p: c for p, c in words.columns.items() if any(_is_numeric(words, q) for q in c)}
    hit = read.find(numeric, index)
    while hit is not None and hit[0] != index and read.items[index] in FILLER:
        index += 1  # past filler: 'biggest single order total'
    if hit is None or hit[0] != index:
        return None
    read.take(hit[0], hit[1])
    return next(q for q in numeric[hit[2]] if _is_numeric(words, q))


def _is_numeric(words: SchemaWords, qualified: str) -> bool:
    return words.info(qualified).kind in NUMERIC_KINDS


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def read_grouping(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'by nation', 'per month', 'for each market segment'."""
    while (hit := read.find(GROUP_CUES)) is not None:
        start, end, _ = hit
        if start and read.items[start - 1] in words.past_verbs and read.items[start] == "by":
            read.take(start, end)  # 'placed by customers': who did it, not a grouping
            continue
        grain = read.items[end] if end < len(read.items) else ""
        if grain in GRAINS:
            read.take(start, end + 1)
            intent.groups.append(("", GRAINS[grain]))
            continue
        column = _column_or_table_at(read, words, end, intent.owners)
        if column is None:
            read.take(start, end)  # 'by' as a plain word ("placed by customers")
            continue
        read.take(start, end)
        if _is_numeric(words, column) and not words.info(column).key:
            intent.aggregate, intent.measure = "sum", column  # 'top 10 parts by quantity'
            continue
        intent.groups.append((column, None))


def _column_or_table_at(
    read: Words, words: SchemaWords, index: int, owners: list[str] | None = None
) -> str | None:
    """The column named right at `index`: a column's phrase, or a table (its label column).
    A table named just before it ('customer region') is whose it is: kept in `owners`."""
    owner_hit = read.find(words.tables, index)
    if owner_hit is not None and owner_hit[0] == index and owners is not None:
        following = _column_or_table_at(read, words, owner_hit[1])
        if following is not None:
            read.take(owner_hit[0], owner_hit[1])
            owners.append(words.tables[owner_hit[2]])
            return following
    column_hit = read.find(words.columns, index)
    table_hit = read.find(words.tables, index)
    column_hit = column_hit if column_hit and column_hit[0] == index else None
    table_hit = table_hit if table_hit and table_hit[0] == index else None
    if column_hit and (not table_hit or column_hit[1] >= table_hit[1]):
        read.take(column_hit[0], column_hit[1])
        return _preferred(words, words.columns[column_hit[2]], read)
    if table_hit:
        read.take(table_hit[0], table_hit[1])
        return words.label(words.tables[table_hit[2]])
    return None


def read_ranking(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'top 5', 'the 3 largest', 'which nation has the most orders' (limit 1)."""
    hit = read.find(RANK_CUES)
    best = read.items.index("best") if "best" in read.items else -1
    if hit is None and best >= 0 and "by" in read.items[best:]:
        hit = (best, best + 1, ("top",))  # 'the five best items by revenue'; alone, vague
    if hit is None:
        return
    start, end, phrase = hit
    before = read.items[start - 1] if start else ""
    after = read.items[end] if end < len(read.items) else ""
    limit = 1
    if NUMBER.match(after) or after in WORD_NUMBERS:
        limit = int(after) if NUMBER.match(after) else WORD_NUMBERS[after]
        read.take(end, end + 1)
    elif NUMBER.match(before) or before in WORD_NUMBERS:
        limit = int(before) if NUMBER.match(before) else WORD_NUMBERS[before]
        read.take(start - 1, start)
    elif (counted := _count_before_table(read, words)) is not None:
        limit = counted
    elif (grouped := _count_before_column(read, words)) is not None:
        limit, column = grouped  # 'which 3 brands sold the most units'
        intent.groups.append((column, None))
    elif phrase in (("highest",), ("lowest",), ("largest",), ("smallest",), ("biggest",)):
        if not any(w in ("which", "who", "what") for w in read.items[:start]):
            return  # 'the highest order value' is a max, not a ranking
    read.take(start, end)
    intent.order = (RANK_CUES[phrase], limit)


def _count_before_column(read: Words, words: SchemaWords) -> tuple[int, str] | None:
    """'which 3 brands': a number right before a text column's name, the groups ranked."""
    for index, word in enumerate(read.items[:-1]):
        if index in read.taken or not (NUMBER.match(word) or word in WORD_NUMBERS):
            continue
        hit = read.find(words.columns, index + 1)
        if hit is None or hit[0] != index + 1:
            continue
        column = _preferred(words, words.columns[hit[2]], read)
        if words.info(column).kind == "text":
            read.take(index, hit[1])
            return (int(word) if NUMBER.match(word) else WORD_NUMBERS[word]), column
    return None


def _count_before_table(read: Words, words: SchemaWords) -> int | None:
    """'the 10 customers', 'which five suppliers': a number right before a table's name."""
    for index, word in enumerate(read.items[:-1]):
        if index in read.taken or not (NUMBER.match(word) or word in WORD_NUMBERS):
            continue
        hit = read.find(words.tables, index + 1)
        if hit is not None and hit[0] == index + 1:
            read.take(index, index + 1)
            return int(word) if NUMBER.match(word) else WORD_NUMBERS[word]
    return None


def read_measure(read: Words, words: SchemaWords, intent: Intent) -> None:
    """What is computed: a count of rows, or an aggregate of a numeric column."""
    if intent.measure == "date" and intent.aggregate:
        return
    count = read.find(COUNT_CUES)
    if count is not None:
        read.take(count[0], count[1])
        intent.aggregate = "count"
        return
    cue = read.find(AGGREGATE_CUES)
    if cue is not None:
        column = _numeric_column_at(read, words, cue[1])
        if column is not None:
            read.take(cue[0], cue[1])
            intent.aggregate, intent.measure = AGGREGATE_CUES[cue[2]], column
            return
    if intent.measure:
        return
    numeric = {p: c for p, c in words.columns.items() if any(_is_numeric(words, q) for q in c)}
    hit = read.find(numeric)
    if hit is None:
        return
    column = _preferred(words, [q for q in numeric[hit[2]] if _is_numeric(words, q)], read)
    if intent.order and _ranked_table(read, words) == words.info(column).table:
        read.take(hit[0], hit[1])  # 'the five suppliers with the highest balance': sort by it
        intent.measure = column
        return
    opens = not any(i in read.taken for i in range(hit[0]))  # 'gross sales of line items ...'
    first = all(w in FILLER for w in read.items[: hit[0]])
    if intent.order or intent.groups or (opens and first and words.info(column).money):
        read.take(hit[0], hit[1])
        intent.aggregate = "sum"
        intent.measure = column


DATE_EXTREMES: dict[Phrase, bool] = {  # True: the latest
    ("most", "recent"): True,
    ("latest",): True,
    ("newest",): True,
    ("earliest",): False,
    ("oldest",): False,
}


def read_date_extreme(read: Words, intent: Intent) -> None:
    """'when was the most recent order placed' (max of its date), 'the 5 oldest orders'."""
    hit = read.find(DATE_EXTREMES)
    if hit is None:
        return
    read.take(hit[0], hit[1])
    latest = DATE_EXTREMES[hit[2]]
    intent.measure = "date"  # the date column, once the table is known
    if "when" in read.items:
        read.take(read.items.index("when"), read.items.index("when") + 1)
        intent.aggregate = "max" if latest else "min"
        return
    before = read.items[hit[0] - 1] if hit[0] else ""
    limit = int(before) if NUMBER.match(before) else WORD_NUMBERS.get(before, 1)
    if before in WORD_NUMBERS or NUMBER.match(before):
        read.take(hit[0] - 1, hit[0])
    intent.order = (latest, limit)


def _ranked_table(read: Words, words: SchemaWords) -> str | None:
    hit = read.find(words.tables)
    return words.tables[hit[2]] if hit else None


def _preferred(words: SchemaWords, columns: list[str], read: Words) -> str:
    """Of several columns one phrase names, the one on a table the question names."""
    named = {words.tables[p] for p in words.tables if _occurs(read.items, p)}
    return next((c for c in columns if words.info(c).table in named), columns[0])


def _occurs(items: list[str], phrase: Phrase) -> bool:
    size = len(phrase)
    return any(tuple(items[i : i + size]) == phrase for i in range(len(items) - size + 1))


def read_entity(read: Words, words: SchemaWords, intent: Intent) -> None:
    """The table asked about: the first table named; with a ranking, the table ranked."""
    names: list[str] = []
    last_end = -1
    while (hit := read.find(words.tables)) is not None:
        read.take(hit[0], hit[1])
        if hit[0] == last_end and names:  # 'customer region': the region, the customer's
            intent.owners.append(names.pop())
        names.append(words.tables[hit[2]])
        last_end = hit[1]
    intent.named = [*names, *intent.owners]
    if intent.order and names and intent.aggregate in (None, "count"):
        ranked, counted = names[0], names[-1]
        if len(names) > 1 or intent.aggregate == "count":
            intent.groups.append((words.label(ranked) or "", None))
            intent.table = counted
            intent.aggregate = "count"
            return
    if intent.order and names and intent.aggregate and intent.measure and not intent.groups:
        intent.groups.append((words.label(names[0]) or "", None))  # 'top 5 customers by sales'
    intent.table = names[0] if names else None
    column = intent.measure if intent.measure != "date" else None
    if column and (intent.table is None or intent.aggregate != "count"):
        intent.table = words.info(column).table
    if intent.aggregate is None and intent.groups:  # 'orders per year': how many in each
        intent.aggregate = "count"
    if intent.aggregate is None:
        intent.listing = True


def read_asked_columns(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'what is the phone number of Customer#000000100': the columns a lookup asks for; with
    no table named, the table of what it names."""
    if not intent.listing:
        return
    while (hit := read.find(words.columns)) is not None:
        read.take(hit[0], hit[1])
        intent.asked.append(_preferred(words, words.columns[hit[2]], read))
    if intent.table is None:
        named = [*intent.asked, *(c["column"] for c in intent.filters if "column" in c)]
        intent.table = words.info(named[0]).table if named else None


def read_date_column(read: Words, words: SchemaWords, intent: Intent) -> None:
    """The date a period applies to: the verb nearest before the period ('shipped by truck,
    received in 1997'), else the first verb, else the table's own date."""
    verbs = [i for i, w in enumerate(read.items) if w in words.verbs and i not in read.taken]
    marks = [i for i, w in enumerate(read.items) if w == DATE_MARK]
    if verbs:
        before = [i for i in verbs if marks and i < marks[0]]
        chosen = before[-1] if before else verbs[0]
        intent.date_column = intent.date_column or words.verbs[read.items[chosen]]
        for index in verbs:
            read.take(index, index + 1)
    if DATE_MARK in read.items:
        read.take(*[(i, i + 1) for i, w in enumerate(read.items) if w == DATE_MARK][0])
        for index, word in enumerate(read.items):
            if word == DATE_MARK:
                read.take(index, index + 1)
    needs_date = intent.dates or any(g for _, g in intent.groups) or intent.measure == "date"
    if needs_date and intent.date_column is None and intent.table:
        intent.date_column = words.date_column(intent.table)


# -- the Query --------------------------------------------------------------------------------


def build_query(intent: Intent, words: SchemaWords) -> dict[str, Any]:
    if intent.table is None:
        raise NotRead("I cannot tell which table the question is about")
    conditions = [*resolved_filters(intent, words), *date_conditions(intent)]
    columns = [_field(c, None, grain) for c, grain in _grouped(intent)]
    columns += [_field(c, None) for c in intent.asked if c not in {f["column"] for f in columns}]
    order_by: list[dict[str, Any]] = []
    limit = None
    if intent.measure == "date":
        if intent.date_column is None:
            raise NotRead(f"{intent.table} has no date to tell recent from old")
        intent.measure = intent.date_column
    measured = intent.measure or (words.count_column(intent.table) if intent.aggregate else None)
    if intent.aggregate and measured:
        columns.append(_field(measured, intent.aggregate))
    if intent.order:
        descending, limit = intent.order
        direction = "desc" if descending else "asc"
        if intent.aggregate and measured:
            order_by.append(
                {"column": measured, "aggregate": intent.aggregate, "direction": direction}
            )
        else:
            size = intent.measure or words.measure_column(intent.table)
            if size is None:
                raise NotRead(
                    f"I do not know what makes one {intent.table} row larger than another"
                )
            order_by.append({"column": size, "aggregate": None, "direction": direction})
    query = {
        "table_name": intent.table,
        "columns": columns,
        "conditions": conditions,
        "order_by": order_by,
        "limit": limit,
    }
    via = _via(intent, words, [c["column"] for c in [*columns, *conditions]])
    return {**query, "via": via} if via else query


def _via(intent: Intent, words: SchemaWords, used: list[str]) -> list[str]:
    """The foreign keys that make a column the named table's ('customers in FRANCE' asked of
    line items: the customer's nation, not the supplier's, which is nearer)."""
    catalog, base = words.tool.catalog, str(intent.table)
    targets = {words.info(c).table for c in used if c in words.tool.columns}
    via: list[str] = []
    for owner in dict.fromkeys([*intent.owners, *intent.named]):
        to_owner = catalog.reach(base).paths.get(owner)
        if owner == base or to_owner is None or any(e.to_many for e in to_owner):
            continue
        for target in sorted(targets - {owner, base}):
            path = catalog.reach(owner).paths.get(target)
            if not path or any(e.to_many for e in path):
                continue
            steps = tuple(k for c in via for k in catalog.foreign_keys(*c.split(".", 1)))
            route = catalog.routed(base, steps).paths.get(target, ())
            column = f"{path[0].source}.{path[0].source_columns[0]}"
            if owner not in {e.target for e in route} and column in words.tool.columns:
                via.append(column)
    return list(dict.fromkeys(via))


def _grouped(intent: Intent) -> list[tuple[str, str | None]]:
    groups = []
    for column, grain in intent.groups:
        if grain:
            if intent.date_column is None:
                raise NotRead(f"there is no date to group by {grain}")
            column = intent.date_column
        if column and (column, grain) not in groups:
            groups.append((column, grain))
    return groups


def resolved_filters(intent: Intent, words: SchemaWords) -> list[dict[str, Any]]:
    """Comparisons whose column was left open ('over 300000') take the table's size column."""
    resolved = []
    for condition in intent.filters:
        if "pending_column" not in condition:
            resolved.append(condition)
            continue
        column = condition["pending_column"] or words.measure_column(intent.table or "")
        if column is None:
            raise NotRead("I cannot tell which number the comparison is about")
        resolved.append(_condition(column, condition["operator"], condition["value"]))
    return resolved


def date_conditions(intent: Intent) -> list[dict[str, Any]]:
    if not intent.dates:
        return []
    if intent.date_column is None:
        raise NotRead("there is no date in that table for the period to apply to")
    conditions = []
    for found in intent.dates:
        if found.start is not None:
            conditions.append(_condition(intent.date_column, ">=", found.start.isoformat()))
        if found.end is not None:
            end = found.end + timedelta(days=1)
            conditions.append(_condition(intent.date_column, "<", end.isoformat()))
    return conditions


def _field(column: str, aggregate: str | None, grain: str | None = None) -> dict[str, Any]:
    return {"column": column, "aggregate": aggregate, "time_grain": grain}


def _condition(column: str, operator: str, value: Any) -> dict[str, Any]:
    return {"column": column, "aggregate": None, "operator": operator, "value": value}
