"""What people may call the tables, columns and values of any database, read from its catalog.

Built once per database from the Query tool (so hidden columns are never in it): each table's
row nouns and ``words``, each column's ``phrase`` and ``words``, the verbs of date columns, and
the values of the text columns as the tenant may see them (read through the scoped compiler).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nl2sql.query import ColumnInfo, QueryTool
from nl2sql.words import words_of

log = logging.getLogger(__name__)

Phrase = tuple[str, ...]
COMMON_WORDS = frozenset(
    "a an the of in on at for to from with by and or is are was be it its as not no".split()
)
MAX_INDEXED_VALUES = 2000  # a column with more distinct values is not something people filter by
SAMPLE_ROWS = 50_000  # rows read per column at start-up, whatever the table's size
MAX_NAME_LENGTH = 40  # values longer than this on average are prose (comments), not names
NAME_SHARE = 0.9  # the share of a column's values that start like a name
NUMERIC_KINDS = ("integer", "number")


def verb_forms(verb: str) -> set[str]:
    """'placed' -> placed, place, placing; 'shipped' -> shipped, ship, shipping."""
    forms = {verb}
    if verb.endswith("ed"):
        stem = verb[:-2]
        if len(stem) > 2 and stem[-1] == stem[-2]:
            stem = stem[:-1]  # shipp -> ship
        forms |= {stem, stem + "ing", verb[:-1]}
        if verb[:-1].endswith("e"):
            forms.add(verb[:-2] + "ing")  # placed -> placing
    return forms


def first_word_index(phrases: Iterable[Phrase]) -> dict[str, list[Phrase]]:
    """The phrases that start with each word, longest first: what `Words.find` tries at a
    position. An empty phrase names nothing and is left out."""
    index: dict[str, list[Phrase]] = {}
    for phrase in sorted(phrases, key=len, reverse=True):
        if phrase:
            index.setdefault(phrase[0], []).append(phrase)
    return index


class Phrases(dict[Phrase, Any]):
    """Phrases and what they name, keeping the first-word index of them once it is built (a
    change to the phrases drops it)."""

    _index: dict[str, list[Phrase]] | None = None

    def __setitem__(self, key: Phrase, value: Any) -> None:
        self._index = None
        super().__setitem__(key, value)

    def setdefault(self, key: Phrase, default: Any = None) -> Any:
        self._index = None
        return super().setdefault(key, default)

    def by_first_word(self) -> dict[str, list[Phrase]]:
        if self._index is None:
            self._index = first_word_index(self)
        return self._index


@dataclass
class SchemaWords:
    """Phrases (word tuples) for tables, columns and values, and the facts recognisers need."""

    tool: QueryTool
    tables: Phrases = field(default_factory=Phrases)  # -> table
    columns: Phrases = field(default_factory=Phrases)  # -> qualified columns
    numeric: Phrases = field(default_factory=Phrases)  # the columns' phrases, numeric ones only
    values: Phrases = field(default_factory=Phrases)  # -> (column, value) pairs
    verbs: dict[str, str] = field(default_factory=dict)  # "placed" -> "orders.o_orderdate"
    past_verbs: set[str] = field(default_factory=set)  # the verbs as configured: "placed"
    known: frozenset[str] | None = None  # every word a recogniser reads (for typo correction)

    @classmethod
    def build(cls, tool: QueryTool, values: dict[str, list[str]] | None = None) -> SchemaWords:
        built = cls(tool)
        for name in tool.catalog.exposed:
            if not any(info.table == name for info in tool.columns.values()):
                continue
            table = tool.catalog.tables[name]
            row, rows = tool.row_nouns(name)
            for phrase in (name, row, rows, *table.info.get("words", ())):
                built.tables.setdefault(tuple(words_of(phrase)), name)
        for info in tool.columns.values():
            for phrase in (info.phrase, *info.words):
                named = built.columns.setdefault(tuple(words_of(phrase)), [])
                if info.qualified not in named:
                    named.append(info.qualified)
            if info.verb:
                for verb in words_of(info.verb):
                    built.past_verbs.add(verb)
                    for form in verb_forms(verb):
                        built.verbs.setdefault(form, info.qualified)
            for value in info.allowed_values:
                built.add_value(info.qualified, value, allowed=True)
            for value in (values or {}).get(info.qualified, ()):
                built.add_value(info.qualified, value)
        for phrase, named in built.columns.items():
            numbers = [q for q in named if tool.columns[q].kind in NUMERIC_KINDS]
            if numbers:
                built.numeric[phrase] = numbers
        return built

    def add_value(self, column: str, value: str, *, allowed: bool = False) -> None:
        """Index a value under its words; one made only of common words (a comment " the ")
        or a lone letter that is not an allowed value names nothing."""
        phrase = tuple(words_of(value))
        short = len("".join(phrase)) < 3  # 'F', 'A': only read beside their column's word
        if not phrase or (not allowed and (short or all(w in COMMON_WORDS for w in phrase))):
            return
        if (column, value) not in self.values.get(phrase, []):
            self.values.setdefault(phrase, []).append((column, value))

    # -- facts -------------------------------------------------------------------------------

    def info(self, qualified: str) -> ColumnInfo:
        return self.tool.columns[qualified]

    def of_table(self, table: str) -> list[ColumnInfo]:
        return [info for info in self.tool.columns.values() if info.table == table]

    def count_column(self, table: str) -> str | None:
        """The column whose count counts the table's rows: its key (the first of a composite)."""
        for key in self.tool.catalog.primary_key(table):
            if f"{table}.{key}" in self.tool.columns:
                return f"{table}.{key}"
        columns = self.of_table(table)
        return columns[0].qualified if columns else None

    def label(self, table: str) -> str | None:
        """The column that names a table's rows: its configured label, else its first text
        column that is not a key, else its key."""
        label = self.tool.catalog.tables[table].info.get("label")
        if label in self.tool.columns:
            return str(label)
        text = [i for i in self.of_table(table) if i.kind == "text" and not i.key]
        return text[0].qualified if text else self.count_column(table)

    def date_column(self, table: str) -> str | None:
        """The table's own first date; for a table without one (order lines), the date of the
        nearest table it belongs to (its order's date)."""
        reach = self.tool.catalog.reach(table)
        parents = sorted(
            (len(path), name)
            for name, path in reach.paths.items()
            if not any(edge.to_many for edge in path)
        )
        for _, name in parents:
            dates = [i for i in self.of_table(name) if i.kind in ("date", "datetime")]
            if dates:
                return dates[0].qualified
        return None

    def measure_column(self, table: str) -> str | None:
        """A table's size column for 'largest'/'most expensive': money first, then a number."""
        numbers = [i for i in self.of_table(table) if i.kind in NUMERIC_KINDS and not i.key]
        money = [i for i in numbers if i.money]
        chosen = money or [i for i in numbers if not i.name.endswith("key")]
        return chosen[0].qualified if chosen else None


def name_like(values: list[str]) -> bool:
    """Whether a column's values read as names people filter by (FRANCE, Brand#13, Ada
    Lovelace, 1-URGENT), not prose (comments): short, and most start with a capital or a digit."""
    if not values or sum(map(len, values)) / len(values) > MAX_NAME_LENGTH:
        return False
    capitalised = sum(1 for v in values if v.strip()[:1].isupper() or v.strip()[:1].isdigit())
    return capitalised >= NAME_SHARE * len(values)


def load_values(db: Any, tool: QueryTool, customer_id: int | None) -> dict[str, list[str]]:
    """The distinct values of each name-like text column, as the tenant may see them.

    Read through the tenant scope, from a bounded sample of each table (start-up stays fast on
    a table of millions of rows; a value only further on is not matched, and the question is
    refused rather than guessed). Hidden columns are not in the tool, so never read.
    """
    found: dict[str, list[str]] = {}
    if db is None:
        return found
    for info in tool.columns.values():
        if info.kind != "text" or info.allowed_values or info.key or info.computed:
            continue
        try:
            values = db.distinct_values(
                info.qualified,
                customer_id=customer_id,
                sample_rows=SAMPLE_ROWS,
                most=MAX_INDEXED_VALUES,
            )
        except Exception as error:  # noqa: BLE001 - a column it cannot read is one it cannot match
            log.info("offline model: cannot read values of %s: %s", info.qualified, error)
            continue
        names = [value for value in values or [] if isinstance(value, str)]
        if values is not None and name_like(names):
            found[info.qualified] = names
    return found
