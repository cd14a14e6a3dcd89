"""Recognisers of the answer's shape: grouping, ranking, newest/oldest, what is measured, the
table asked about and the columns a lookup asks for."""

from __future__ import annotations

from nl2sql.models.offline.schema_question import (
    AGGREGATE_CUES,
    COUNT_CUES,
    DATE_EXTREMES,
    FILLER,
    GRAINS,
    GROUP_CUES,
    NUMBER,
    RANK_CUES,
    WORD_NUMBERS,
    Intent,
    Words,
    is_numeric,
    numeric_column_at,
    preferred,
    ranked_table,
)
from nl2sql.models.offline.schema_words import SchemaWords


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
        if is_numeric(words, column) and not words.info(column).key:
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
        return preferred(words, words.columns[column_hit[2]], read)
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
        column = preferred(words, words.columns[hit[2]], read)
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
        column = numeric_column_at(read, words, cue[1])
        if column is not None:
            read.take(cue[0], cue[1])
            intent.aggregate, intent.measure = AGGREGATE_CUES[cue[2]], column
            return
    if intent.measure:
        return
    hit = read.find(words.numeric)
    if hit is None:
        return
    column = preferred(words, words.numeric[hit[2]], read)
    if intent.order and ranked_table(read, words) == words.info(column).table:
        read.take(hit[0], hit[1])  # 'the five suppliers with the highest balance': sort by it
        intent.measure = column
        return
    opens = not any(i in read.taken for i in range(hit[0]))  # 'gross sales of line items ...'
    first = all(w in FILLER for w in read.items[: hit[0]])
    if intent.order or intent.groups or (opens and first and words.info(column).money):
        read.take(hit[0], hit[1])
        intent.aggregate = "sum"
        intent.measure = column


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
        intent.asked.append(preferred(words, words.columns[hit[2]], read))
    if intent.table is None:
        named = [*intent.asked, *(c["column"] for c in intent.filters if "column" in c)]
        intent.table = words.info(named[0]).table if named else None
