"""Recognisers of what narrows the rows: database values, keys, comparisons, and which date a
period is on. Each reads the question's free words and fills one slot of the intent."""

from __future__ import annotations

from nl2sql.models.offline.schema_question import (
    COMPARISONS,
    CUE_WORDS,
    DATE_MARK,
    FILLER,
    NUMBER,
    SIGNS,
    Intent,
    NotRead,
    Words,
    make_condition,
    number_of,
    numeric_column_at,
)
from nl2sql.models.offline.schema_words import SchemaWords


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
    intent.filters.append(make_condition(column, "=", value))


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
            intent.filters.append(make_condition(key, "=", int(following)))


def read_comparisons(read: Words, words: SchemaWords, intent: Intent) -> None:
    """'over 300000', 'more than 5 quantity': a number compared with a numeric column;
    'a negative balance': the column compared with zero."""
    while (hit := read.find(SIGNS)) is not None:
        start, end, phrase = hit
        column = numeric_column_at(read, words, end)
        if column is None:
            break
        read.take(start, end)
        intent.filters.append(make_condition(column, SIGNS[phrase], 0))
    while (hit := read.find(COMPARISONS)) is not None:
        start, end, phrase = hit
        if end >= len(read.items) or not NUMBER.match(read.items[end]):
            return
        read.take(start, end + 1)
        column = numeric_column_at(read, words, end + 1)
        intent.filters.append(
            {
                "pending_column": column,
                "operator": COMPARISONS[phrase],
                "value": number_of(read.items[end]),
            }
        )


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
