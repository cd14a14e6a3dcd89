"""The database's own values (countries, cities, categories, product and customer names), read
once at start-up, and matching of question words against them (case, plurals, small typos).

Start-up reads only SELECT DISTINCT from the small tables (customers, products), so it stays fast
on a database with millions of orders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein
from sqlalchemy import func, select

from nl2sql import schema
from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__CITY,
    CUSTOMERS__COUNTRY,
    CUSTOMERS__NAME,
    PRODUCTS__CATEGORY,
    PRODUCTS__NAME,
)
from nl2sql.words import words_of

# Everyday names for countries: demonyms and abbreviations (only used if the country exists).
COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "United States": (  # "us" and "states" only via mark_countries: "spent with us"
        "usa",
        "u s a",
        "america",
        "american",
        "americans",
        "united states of america",
    ),
    "United Kingdom": ("uk", "u k", "britain", "great britain", "british", "england", "english"),
    "Germany": ("german", "germans", "deutschland"),
    "France": ("french",),
    "Canada": ("canadian", "canadians"),
    "Japan": ("japanese",),
    "Australia": ("australian", "australians", "aussie"),
    "Brazil": ("brazilian", "brazilians", "brasil"),
    "Italy": ("italian", "italians"),
    "Spain": ("spanish", "spaniards"),
    "Mexico": ("mexican", "mexicans"),
    "Netherlands": ("dutch", "holland"),
    "India": ("indian", "indians"),
    "China": ("chinese",),
}
CATEGORY_ALIASES: dict[str, tuple[str, ...]] = {
    "Clothing": ("clothes", "apparel", "fashion"),
    "Home & Kitchen": ("home and kitchen", "kitchen", "kitchenware", "home goods"),
    "Sports": ("sport", "sporting goods", "sports gear"),
    "Electronics": ("electronic", "gadgets", "tech"),
    "Toys": ("toy",),
    "Books": ("book",),
    "Beauty": ("cosmetics",),
}

# When "US" / "the states" is the country rather than the pronoun "us" (run on the question as
# typed, before lower-casing): dotted "U.S.", upper-case "US" (unless the whole question is
# shouted), "the us" / "the states", and "in us". Lower-case "us" after a verb or with/from/to/
# for/by/of ("spent with us", "bought from us") stays the pronoun.
US_DOTTED = re.compile(r"\bu\.\s?s\b\.?(?:\s?a\b\.?)?", re.IGNORECASE)
US_UPPER = re.compile(r"\bUS\b")
US_AFTER_THE = re.compile(r"\bthe (?:us|states)\b", re.IGNORECASE)
US_AFTER_IN = re.compile(r"\bin us\b")


def mark_countries(question: str) -> str:
    """Country references to the United States written as "USA", pronouns left alone."""
    text = US_DOTTED.sub("USA ", question)
    if any(c.islower() for c in text):
        text = US_UPPER.sub("USA", text)
    text = US_AFTER_THE.sub("the USA", text)
    return US_AFTER_IN.sub("in USA", text)


# Words of the question language itself: never part of a fuzzy value match.
VOCABULARY = frozenset(
    """
order orders ordered ordering customer customers product products item items category categories
country countries city cities status statuses revenue sales sale sold units unit total totals
amount amounts value values price prices count number many much average mean sum list show
placed ship shipped shipping delivered delivery deliveries canceled cancelled returned pending
processing late month months week weeks year years day days quarter quarters today yesterday
buyer buyers bought buy purchase purchases people client clients spent spend spending top best
selling popular least most highest lowest biggest largest smallest cheapest expensive latest
recent newest oldest first last per each every by from with in of the and for to what which who
how many where when did does do have has had our my me i we their there this that those these
them all any only just over under above below more less than at least signed joined new open
between since before after ago past older time on yet still not never been were was is are
tally headcount total number breakdown distribution copies copy piece pieces
""".split()
)
STOPWORDS = frozenset(
    "the a an of in on for to from with by and or our my their its at as is".split()
)


def normalize(text: str) -> str:
    """Lower case, '&' as 'and', punctuation as spaces, a plural 's' dropped per word."""
    return " ".join(words_of(text))


def _namesakes(connection: Any) -> dict[str, list[tuple[int, str, str]]]:
    """Names held by more than one customer, with who holds them."""
    customers = schema.customers
    shared = select(customers.c.name).group_by(customers.c.name).having(func.count() > 1).subquery()
    rows = connection.execute(
        select(customers.c.id, customers.c.name, customers.c.city, customers.c.country)
        .where(customers.c.name.in_(select(shared.c.name)))
        .order_by(customers.c.id)
    )
    found: dict[str, list[tuple[int, str, str]]] = {}
    for id_, name, city, country in rows:
        found.setdefault(name, []).append((id_, city, country))
    return found


def _swapped(phrase: str, choices: list[str]) -> tuple[str, float, int] | None:
    """The choice one swap of neighbouring letters away (scored like a close fuzzy match)."""
    hit = process.extractOne(phrase, choices, scorer=DamerauLevenshtein.distance, score_cutoff=1)
    if hit is None or hit[0][0] != phrase[0] or len(hit[0]) != len(phrase):
        return None
    return hit[0], 86.0, hit[2]


# The columns whose values questions name, read at start-up (small tables: read whole).
INDEXED_COLUMNS = (
    CUSTOMERS__COUNTRY,
    CUSTOMERS__CITY,
    CUSTOMERS__NAME,
    PRODUCTS__CATEGORY,
    PRODUCTS__NAME,
)
WHOLE_TABLE = 10_000_000


@dataclass(frozen=True)
class Match:
    column: str  # qualified column, e.g. "customers.country"
    value: str  # the value as stored in the database
    start: int  # word index in the question
    end: int  # word index one past the match
    exact: bool


@dataclass
class ValueIndex:
    """Normalized phrase -> (column, stored value), per column; longest phrases win."""

    exact: dict[str, tuple[str, str]] = field(default_factory=dict)
    fuzzy: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {norm: value}
    choices: dict[str, list[str]] = field(default_factory=dict)  # column -> norms, for rapidfuzz
    distinct_words: dict[str, tuple[str, str]] = field(default_factory=dict)
    max_words: int = 4
    # Customer names that several customers share: name -> [(id, city, country)], so a
    # question naming one is asked back instead of adding their orders together.
    namesakes: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, db: Any | None, customer_id: int | None = None) -> ValueIndex:
        """The values of the indexed columns the tool shows, as the tenant may see them: under
        a customer scope only that customer's own name, city and country (products are
        shared), so no other customer's name can be matched, or guessed at by a typo. Hidden
        columns are never read."""
        if db is None:
            return cls.build({})
        values: dict[str, list[str]] = {}
        for column in INDEXED_COLUMNS:
            if column in db.tool.columns:
                found = db.distinct_values(
                    column, customer_id=customer_id, sample_rows=WHOLE_TABLE, most=WHOLE_TABLE
                )
                values[column] = [value for value in found or [] if value]
        index = cls.build(values)
        people = {CUSTOMERS__NAME, CUSTOMERS__CITY, CUSTOMERS__COUNTRY}
        if customer_id is None and people <= set(db.tool.columns):
            with db.engine.connect() as connection:
                index.namesakes = _namesakes(connection)
        return index

    @classmethod
    def build(cls, values: dict[str, list[str]]) -> ValueIndex:
        index = cls()
        # Later entries win on a clash: customers' names are least specific, categories most.
        order = [
            CUSTOMERS__NAME,
            CUSTOMERS__CITY,
            CUSTOMERS__COUNTRY,
            PRODUCTS__NAME,
            PRODUCTS__CATEGORY,
        ]
        for column in order:
            pool: dict[str, str] = {}
            for value in values.get(column, []):
                key = normalize(value)
                if not key:
                    continue
                pool[key] = value
                index.exact[key] = (column, value)
                index.max_words = max(index.max_words, min(len(key.split()), 6))
            index.fuzzy[column] = pool
            index.choices[column] = list(pool)
        for country, aliases in COUNTRY_ALIASES.items():
            if country in values.get(CUSTOMERS__COUNTRY, []):
                for name in aliases:
                    index.exact[normalize(name)] = (CUSTOMERS__COUNTRY, country)
        for category, others in CATEGORY_ALIASES.items():
            if category in values.get(PRODUCTS__CATEGORY, []):
                for name in others:
                    index.exact[normalize(name)] = (PRODUCTS__CATEGORY, category)
        # A distinctive single word of a product name ("keyboard") names that product.
        counts: dict[str, list[str]] = {}
        for key, value in index.fuzzy.get(PRODUCTS__NAME, {}).items():
            for word in key.split():
                if len(word) >= 5 and word not in VOCABULARY and not word.isdigit():
                    counts.setdefault(word, []).append(value)
        for word, names in counts.items():
            if len(names) == 1 and word not in index.exact:
                index.distinct_words[word] = (PRODUCTS__NAME, names[0])
        return index

    def find(self, words: list[str], blocked: set[int]) -> list[Match]:
        """Non-overlapping matches in the (normalized) words, longest first, left to right."""
        matches: list[Match] = []
        taken = set(blocked)
        for size in range(min(self.max_words, len(words)), 0, -1):
            for start in range(0, len(words) - size + 1):
                span = range(start, start + size)
                if any(i in taken for i in span):
                    continue
                phrase = " ".join(words[start : start + size])
                hit = self._lookup(phrase, size)
                if hit is None:
                    continue
                column, value, exact = hit
                matches.append(Match(column, value, start, start + size, exact))
                taken.update(span)
        matches.sort(key=lambda m: m.start)
        return matches

    def _lookup(self, phrase: str, size: int) -> tuple[str, str, bool] | None:
        if phrase in self.exact:
            column, value = self.exact[phrase]
            return column, value, True
        if size == 1 and phrase in self.distinct_words:
            column, value = self.distinct_words[phrase]
            return column, value, True
        parts = phrase.split()
        if parts[0] in STOPWORDS or parts[-1] in STOPWORDS:
            return None
        if any(p in VOCABULARY or p.isdigit() for p in parts) or len(phrase) < 5:
            return None
        best: tuple[str, str, float] | None = None
        for column, pool in self.fuzzy.items():
            if column == CUSTOMERS__NAME and size < 2:
                continue  # a first name alone is not enough to pick a customer
            hit = process.extractOne(
                phrase, self.choices[column], scorer=fuzz.ratio, score_cutoff=self._cutoff(phrase)
            )
            if hit is None and len(phrase) >= 6:  # one swapped pair: "germnay", "tokoy"
                hit = _swapped(phrase, self.choices[column])
            if hit is not None and len(phrase) < 7 and hit[0][0] != phrase[0]:
                continue  # short words: a typo keeps the first letter ("tokio"), else no match
            if hit is not None and (best is None or hit[1] > best[2]):
                best = (column, pool[hit[0]], hit[1])
        if best is None:
            return None
        return best[0], best[1], False

    def closeness(self, word: str) -> float:
        """How close one word is to a database value (100 for an exact value or alias)."""
        if word in self.exact or word in self.distinct_words:
            return 100.0
        best = 0.0
        for column, choices in self.choices.items():
            if column == CUSTOMERS__NAME:
                continue
            hit = process.extractOne(word, choices, scorer=fuzz.ratio)
            if hit is not None:
                best = max(best, float(hit[1]))
        return best

    @staticmethod
    def _cutoff(phrase: str) -> float:
        # One typo in a five-letter word scores 80; shorter words are never fuzzy-matched.
        return 80.0 if len(phrase) < 7 else 86.0
