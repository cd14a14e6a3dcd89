"""Nothing the question says may be dropped: every word is read by a rule or is known filler.

A parser that skips a word it does not know answers a different question ("orders in the past
fortnight" -> every order). So after the passes, each word left must be a masked token (a date,
an amount, a status, a database value, a sort phrase), a word of the grammar's tables, a word
some rule reads (GRAMMAR_WORDS) or harmless filler (FILLER_WORDS); anything else makes the
question refused, naming the words. Measures the Query tool cannot compute are refused by name
(UNSUPPORTED), and so are periods that cannot both hold.
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from nl2sql.models.offline.lexicon import KNOWN_WORDS, NEGATIONS, SORT_WORDS
from nl2sql.models.offline.passes import Parsed
from nl2sql.words import singular

# Words that change nothing about the result: politeness, pronouns, auxiliaries, hedges.
FILLER_WORDS = frozenset(
    """
a an please hey hi hello kindly thank thanks ok okay so well just really actually basically
right currently moment atm presently you your yours they them it its i me us we our ours mine
can could would will shall should must may might be being been am is are was were
need want wanted like know let tell see check quick quickly also too again here there
some stuff thing one ones both either something anything everything nothing but very
report - look
""".split()
)

# Words that a rule of the grammar reads (in a pattern rather than a word table): "what about",
# "so far", "break down", "sort them", "different customers", "based in", "worth at least".
GRAMMAR_WORDS = frozenset(
    """
about far now same sort break down split group grouped different distinct unique exist ever
live living based instead overdue make bring brought receive received name named cost costs
costing worth ended end start paid already during promised expected estimated supposed due
excluding without exclude include included including consider counting contain content
email e mail created combined overall altogether gross among going went showed happen
happened lose lost process processed next earlier later compare restrict behind shop store
limit back id broken nobody line address addresses does period arrange arranged out
""".split()
)

# Every word a rule reads, also as the passes spell it (singular: "does" -> "doe").
NEGATION_WORDS = frozenset(word for phrase in NEGATIONS for word in phrase.split())
READ_WORDS = KNOWN_WORDS | GRAMMAR_WORDS | FILLER_WORDS | NEGATION_WORDS | set(SORT_WORDS)
READ_FORMS = READ_WORDS | {singular(word) for word in READ_WORDS}
_TYPO_TARGETS = sorted(word for word in READ_FORMS if len(word) >= 3 and word.isalpha())

# Measures the Query tool cannot compute yet: (pattern on the cleaned question, what it is).
UNSUPPORTED: list[tuple[str, str]] = [
    (r"\bmedian\b|\bpercentiles?\b|\bquartiles?\b|\bmode\b", "a median or percentile"),
    (
        r"\b(?:percentage|percent|pct|share|proportion|fraction|ratio)\b|\brates?\b|%",
        "a share, percentage or rate",
    ),
    (
        r"\bhow (?:long|quickly|fast|soon)\b|\b(?:delivery|shipping|transit|lead|turnaround|"
        r"fulfil?ment|processing|handling) (?:time|times|duration)\b|\bduration\b|"
        r"\b(?:days?|hours?|weeks?) (?:between|from|it took|to (?:ship|deliver|arrive))\b|"
        r"\bin (?:days|hours)\b|\btook (?:more|less|longer|over|under)\b|"
        r"\bhow many (?:days|hours|weeks) (?:does|did|do|will|it|on|to|late|early|overdue)\b|"
        r"\b(?:days?|hours?|weeks?) (?:late|early|overdue|behind|delayed)\b",
        "a time between two dates",
    ),
    (
        r"\b(?:growth|grew|increase[ds]?|decrease[ds]?|decline[ds]?|drop(?:ped)?|change[ds]?|"
        r"difference|trend|delta)\b",
        "a change between periods",
    ),
    (
        r"\b(?:than|above|below|over|under|exceeding|exceeds?) (?:the |their |its |our )?"
        r"(?:\w+ )?(?:average|avg|mean|median|typical)\b",
        "a comparison with an average",
    ),
    (  # "items per order on average": an average of per-order totals
        r"\b(?:average|avg|mean|typical)\b(?: \w+){0,4}? (?:items?|units?|products?|lines?|"
        r"things?|pieces?)\b(?: \w+){0,3}? (?:per|in an?|in each|each|for each|in the) order\b"
        r"|\bon average\b(?: \w+){0,3}? how many\b",
        "an average of per-order totals",
    ),
    (  # "the best-selling product in each category", "each customer's most recent order"
        r"\b(?:top|best|worst|most|least|biggest|cheapest|highest|lowest|largest|latest|newest|"
        r"oldest|first|last|earliest|most recent|\d+)\b(?: \w+){0,3}? (?:products?|customers?|"
        r"orders?|items?|sellers?|spenders?|"
        r"buyers?)\b.*\b(?:in|per|for|within|of|from) (?:each|every) \w+"
        r"|\b(?:each|every) (?:\w+ ){0,2}\w+'s (?:most recent|latest|last|first|top|best|"
        r"biggest)\b",
        "the top rows within each group",
    ),
    (  # two steps: find the order by its date, then read its lines
        r"\b(?:what|which \w+) (?:did|do|have) (?:\w+ ){1,2}(?:buy|bought|order|ordered|get|got|"
        r"purchase|purchased) (?:in|with|on) (?:my|the|their|his|her|our) (?:last|latest|most "
        r"recent|newest|previous|first|biggest|largest) order\b"
        r"|\bwhat (?:was|is) in (?:my|the|their|his|her|our) (?:last|latest|most recent|newest|"
        r"previous|first|biggest|largest) order\b",
        'what is inside an order picked by a ranking (ask for that order first, then "what was '
        'in order #N?")',
    ),
    (
        r"\b(?:christmas|xmas|thanksgiving|easter|new years?|holiday|black friday|cyber monday|"
        r"valentines?|halloween) (?:week|weekend|season|period|holidays|rush)\b",
        "a holiday period (ask for its dates, e.g. 2025-12-22 to 2025-12-28)",
    ),
    (  # "customers who placed their first order this year": a first order per customer
        r"\b(?:customers?|clients?|buyers?|people|who)\b.*\b(?:their|whose|his|her) (?:very )?"
        r"(?:first|last|latest|most recent|earliest|newest) (?:order|purchase)\b",
        "each customer's first or last order",
    ),
    (  # "customers who bought both electronics and books": two conditions on different rows
        r"\b(?:bought|ordered|purchased|buy|order|purchase|got) both\b",
        "rows that match two values in different orders",
    ),
    (r"\bstandard deviation\b|\bstddev\b|\bvariance\b", "a spread of values"),
    (r"\brunning total\b|\bcumulative\b|\bmoving average\b", "a running total"),
]

# Between two masked values of one kind, these join them ("Canada or Japan" -> one of both).
JOINERS = frozenset({"or", "vs", "versus"})
MASKED = re.compile(
    r"(?:DATE|AMOUNT)\d+|VALUE|STATUS|IDREF|SORT[A-Z]+|latedelivered|ontimedelivered"
)


def unsupported_measure(text: str) -> tuple[str, str] | None:
    """(the words, what they ask for) when the question asks for a measure the tool lacks."""
    for pattern, what in UNSUPPORTED:
        match = re.search(pattern, text)
        if match:
            return match[0], what
    return None


def counted_amount(parsed: Parsed) -> str | None:
    """A bare number that counts things ("more than 4 different products"): the amounts pass
    took no noun, and reading it as money would answer another question."""
    for _, number, noun, index in parsed.amounts:
        following = parsed.words[index + 1 : index + 3]
        if noun is None and any(singular(w) in COUNTED_NOUNS for w in following):
            return f"{number:g} {' '.join(following)}"
    return None


COUNTED_NOUNS = frozenset("order purchase product item unit line customer piece thing".split())


def unread_words(parsed: Parsed) -> list[str]:
    """The words of the question that no rule read and that are not filler."""
    words = parsed.words
    limit_read = False
    unread: list[str] = []
    for index, word in enumerate(words):
        if MASKED.fullmatch(word) or word in READ_FORMS or is_typo_of_read_word(word):
            continue
        if word.isdigit() and parsed.limit == int(word) and not limit_read:
            limit_read = True  # "top 5": the number the ranking reads
            continue
        if word in JOINERS and _joins_alike(parsed, index):
            continue
        unread.append(word)
    return list(dict.fromkeys(unread))


def is_typo_of_read_word(word: str) -> bool:
    """One slip from a word the grammar reads ("teh", "vaule"): the passes read it the same
    way they read the word, by ignoring what they do not need. Same first letter; a swap of
    two letters for short words, any single edit from five letters on."""
    if len(word) < 3 or not word.isalpha():
        return False
    if len(word) < 5:
        swaps = (word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(1, len(word) - 1))
        return any(swapped in READ_FORMS for swapped in swaps)
    hit = process.extractOne(
        word, _TYPO_TARGETS, scorer=DamerauLevenshtein.distance, score_cutoff=1
    )
    return hit is not None and hit[0][0] == word[0]


def _joins_alike(parsed: Parsed, index: int) -> bool:
    """'VALUE or VALUE' on one column, 'STATUS or STATUS': a list of alternatives."""
    words = parsed.words
    if index == 0 or index + 1 >= len(words):
        return False
    before, after = words[index - 1], words[index + 1]
    if before == after == "STATUS":
        return True
    if before == after == "VALUE":
        return parsed.value_at.get(index - 1) == parsed.value_at.get(index + 1)
    return False


def disjoint_periods(query: dict[str, Any]) -> str | None:
    """The column whose date bounds cannot all hold ("Q3 2026 vs Q3 2025" ANDed), if any."""
    lower: dict[str, str] = {}
    upper: dict[str, str] = {}
    for condition in query.get("conditions", []):
        value, op = condition.get("value"), condition.get("operator")
        if condition.get("aggregate") or not isinstance(value, str):
            continue
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value):
            continue
        column = condition["column"]
        if op in (">=", ">"):
            lower[column] = max(lower.get(column, value), value)
        if op in ("<=", "<"):
            upper[column] = min(upper.get(column, value), value)
    return next((c for c in lower if c in upper and lower[c] > upper[c]), None)
