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
FILLER = frozenset(
    """
    the a an of in on at for to from with by did do doe does is are was were be been being have
    has had how what which who whose that this these those there their it its me my our we i you
    please show list give tell find get all any and made there much value number
    s i e ie what s whats overall altogether so far ever
    """.split()
)
NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
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


def understand_any(question: str, today: date, words: SchemaWords) -> dict[str, Any]:
    """The Query for a question on any schema; NotRead when some of it cannot be mapped."""
    text, dates = _mask_dates(question.lower(), today)
    read = Words(words_of(text))
    intent = Intent(dates=dates)
    read_values(read, words, intent)
    read_comparisons(read, words, intent)
    read_grouping(read, words, intent)
    read_ranking(read, words, intent)
    read_measure(read, words, intent)
    read_entity(read, words, intent)
    read_date_column(read, words, intent)
    unread = read.unread()
    if unread:
        raise NotRead(f"I do not know what {', '.join(repr(w) for w in unread)} means here")
    return build_query(intent, words)


def _mask_dates(text: str, today: date) -> tuple[str, list[Any]]:
    found = find_dates(text, today)
    ranges = []
    for item in reversed(found):  # right to left, so earlier spans keep their offsets
        start, end = item.span
        text = f"{text[:start]} {DATE_MARK} {text[end:]}"
        ranges.insert(0, item.range)
    return text, ranges


# -- recognisers ------------------------------------------------------------------------------


def read_values(read: Words, words: SchemaWords, intent: Intent) -> None:
    """Database values named in the question: each becomes `column = value` (or `in`)."""
    while (hit := read.find(words.values)) is not None:
        start, end, phrase = hit
        matches = words.values[phrase]
        if len({column for column, _ in matches}) > 1:
            columns = ", ".join(sorted({column for column, _ in matches}))
            raise NotRead(f"'{' '.join(phrase)}' is a value of several columns ({columns})")
        read.take(start, end)
        column, value = matches[0]
        _add_value(intent, column, value)
        _take_column_word(read, words, column, end)


def _add_value(intent: Intent, column: str, value: str) -> None:
    for condition in intent.filters:
        if condition["column"] == column and condition["operator"] in ("=", "in"):
            earlier = condition["value"] if condition["operator"] == "in" else [condition["value"]]
            condition.update(operator="in", value=[*earlier, value])
            return
    intent.filters.append(_condition(column, "=", value))


def _take_column_word(read: Words, words: SchemaWords, column: str, after: int) -> None:
    """'the AUTOMOBILE segment': the column's own word right after its value says nothing new."""
    hit = read.find([p for p, cols in words.columns.items() if column in cols], after)
    if hit is not None and hit[0] == after:
        read.take(hit[0], hit[1])


def read_comparisons(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'over 300000', 'more than 5 quantity': a number compared with a numeric column."""
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
    numeric = {p: c for p, c in words.columns.items() if any(_is_numeric(words, q) for q in c)}
    hit = read.find(numeric, index)
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
        grain = read.items[end] if end < len(read.items) else ""
        if grain in GRAINS:
            read.take(start, end + 1)
            intent.groups.append(("", GRAINS[grain]))
            continue
        column = _column_or_table_at(read, words, end)
        if column is None:
            read.take(start, end)  # 'by' as a plain word ("placed by customers")
            continue
        read.take(start, end)
        intent.groups.append((column, None))


def _column_or_table_at(read: Words, words: SchemaWords, index: int) -> str | None:
    """The column named right at `index`: a column's phrase, or a table (its label column)."""
    column_hit = read.find(words.columns, index)
    table_hit = read.find(words.tables, index)
    column_hit = column_hit if column_hit and column_hit[0] == index else None
    table_hit = table_hit if table_hit and table_hit[0] == index else None
    if column_hit and (not table_hit or column_hit[1] >= table_hit[1]):
        read.take(column_hit[0], column_hit[1])
        return words.columns[column_hit[2]][0]
    if table_hit:
        read.take(table_hit[0], table_hit[1])
        return words.label(words.tables[table_hit[2]])
    return None


def read_ranking(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'top 5', 'the 3 largest', 'which nation has the most orders' (limit 1)."""
    hit = read.find(RANK_CUES)
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
    elif phrase in (("highest",), ("lowest",), ("largest",), ("smallest",), ("biggest",)):
        if not any(w in ("which", "who", "what") for w in read.items[:start]):
            return  # 'the highest order value' is a max, not a ranking
    read.take(start, end)
    intent.order = (RANK_CUES[phrase], limit)


def read_measure(read: Words, words: SchemaWords, intent: Intent) -> None:
    """What is computed: a count of rows, or an aggregate of a numeric column."""
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
    numeric = {p: c for p, c in words.columns.items() if any(_is_numeric(words, q) for q in c)}
    hit = read.find(numeric)
    if hit is not None and (intent.order or intent.groups):  # 'revenue by nation', 'top 5 by sales'
        read.take(hit[0], hit[1])
        intent.aggregate = "sum"
        intent.measure = next(q for q in numeric[hit[2]] if _is_numeric(words, q))


def read_entity(read: Words, words: SchemaWords, intent: Intent) -> None:
    """The table asked about: the first table named; with a ranking, the table ranked."""
    names = []
    while (hit := read.find(words.tables)) is not None:
        read.take(hit[0], hit[1])
        names.append(words.tables[hit[2]])
    if intent.order and names and intent.aggregate in (None, "count"):
        ranked, counted = names[0], names[-1]
        if len(names) > 1 or intent.aggregate == "count":
            intent.groups.append((words.label(ranked) or "", None))
            intent.table = counted
            intent.aggregate = "count"
            return
    if intent.order and names and intent.measure and not intent.groups:
        intent.groups.append((words.label(names[0]) or "", None))
    intent.table = names[0] if names else None
    if intent.measure and (intent.table is None or intent.aggregate != "count"):
        intent.table = words.info(intent.measure).table
    if intent.aggregate is None and intent.groups:  # 'orders per year': how many in each
        intent.aggregate = "count"
    if intent.aggregate is None:
        intent.listing = True


def read_date_column(read: Words, words: SchemaWords, intent: Intent) -> None:
    """The date a period applies to: the one a verb names ('shipped'), else the table's own."""
    for index, word in enumerate(read.items):
        if word in words.verbs and index not in read.taken:
            read.take(index, index + 1)
            intent.date_column = intent.date_column or words.verbs[word]
    if DATE_MARK in read.items:
        read.take(*[(i, i + 1) for i, w in enumerate(read.items) if w == DATE_MARK][0])
        for index, word in enumerate(read.items):
            if word == DATE_MARK:
                read.take(index, index + 1)
    needs_date = intent.dates or any(grain for _, grain in intent.groups)
    if needs_date and intent.date_column is None and intent.table:
        intent.date_column = words.date_column(intent.table)


# -- the Query --------------------------------------------------------------------------------


def build_query(intent: Intent, words: SchemaWords) -> dict[str, Any]:
    if intent.table is None:
        raise NotRead("I cannot tell which table the question is about")
    conditions = [*_resolved(intent, words), *_date_conditions(intent)]
    columns = [_field(c, None, grain) for c, grain in _grouped(intent)]
    order_by: list[dict[str, Any]] = []
    limit = None
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
            size = words.measure_column(intent.table)
            if size is None:
                raise NotRead(
                    f"I do not know what makes one {intent.table} row larger than another"
                )
            order_by.append({"column": size, "aggregate": None, "direction": direction})
    return {
        "table_name": intent.table,
        "columns": columns,
        "conditions": conditions,
        "order_by": order_by,
        "limit": limit,
    }


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


def _resolved(intent: Intent, words: SchemaWords) -> list[dict[str, Any]]:
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


def _date_conditions(intent: Intent) -> list[dict[str, Any]]:
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
