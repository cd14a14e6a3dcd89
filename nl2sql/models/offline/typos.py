"""Typos in the grammar's own nouns ("custmers", "ordrs", "prodcuts", "catagories", "revenu").

The database values have their own fuzzy matching (values.py); this corrects the words the
grammar itself reads (entities, attributes, measures), so a misspelt noun still says what is
asked. It is deliberately cautious: only words of five letters or more that the grammar does not
know, with the first letter right, close to one target (one typo in five or six letters, about
one in seven or more, or one swapped pair of letters), never a real word listed in NEAR_MISSES,
and never when a database value is at least as close ("Austn" is Austin).
"""

from __future__ import annotations

from collections.abc import Collection

from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from nl2sql.models.offline.values import ValueIndex
from nl2sql.words import singular

# The nouns worth correcting: entities, attributes and measures, in the forms people type.
TARGETS = tuple(
    """
order orders customer customers product products item items client clients buyer buyers
shopper shoppers purchase purchases shipment shipments delivery deliveries category categories
country countries city cities status statuses revenue sales turnover income earnings spending
quantity average units total amount amounts price prices monthly weekly quarterly yearly
delivered canceled cancelled returned processing ordered purchased quarter which
""".split()
)
# Real words one letter away from a target: never "corrected".
NEAR_MISSES = frozenset("sending scales customs princes cites older border borders".split())
SHORT_CUTOFF = 88.0  # five or six letters: one dropped letter ("ordrs", "revenu")
LONG_CUTOFF = 85.0  # seven or more: a swap or a wrong letter ("prodcuts", "catagories")


# Short words too close to others for fuzzy matching: their common misspellings, spelt out.
SHORT_TYPOS = {"wich": "which", "whcih": "which", "whic": "which", "hw": "how", "ordr": "order"}


def correct_typos(text: str, values: ValueIndex, known: Collection[str]) -> str:
    """The cleaned question with misspelt grammar nouns replaced by the intended noun."""
    words = [SHORT_TYPOS.get(word, word) for word in text.split()]
    return " ".join(correct_word(word, values, known) for word in words)


def correct_word(word: str, values: ValueIndex, known: Collection[str]) -> str:
    if len(word) < 5 or not word.isalpha() or word in TARGETS or word in NEAR_MISSES:
        return word
    if word in known or singular(word) in known:
        return word
    cutoff = SHORT_CUTOFF if len(word) < 7 else LONG_CUTOFF
    hit = process.extractOne(word, TARGETS, scorer=fuzz.ratio, score_cutoff=cutoff)
    if hit is None and len(word) >= 6:  # one swapped pair of letters: "ordres", "cutsomers"
        swap = process.extractOne(word, TARGETS, scorer=DamerauLevenshtein.distance, score_cutoff=1)
        hit = swap and (swap[0], cutoff, swap[2])
    if hit is None or hit[0][0] != word[0]:
        return word
    if values.closeness(singular(word)) >= hit[1]:
        return word  # a database value is as close: leave it to the value matching
    return str(hit[0])
