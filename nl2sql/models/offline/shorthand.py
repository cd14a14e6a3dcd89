"""Shorthand typed on phones and by power users, spelt out before anything else reads the text.

"no. of orders last wk" -> "number of orders last week", "rev this yr" -> "revenue this year",
"over 50k" / "$1.2k" -> "over 50000" / "1200 dollars". Every entry was checked against the
database values: no product, category, city or country is one of these words, and "4K Monitor"
keeps its "4k" (a "k" amount needs a comparison or a money word around it). "no" alone stays a
negation; only "no." before "of" or a noun phrase is "number".
"""

from __future__ import annotations

import re

# Whole words -> what they stand for.
SHORTHAND = {
    "qty": "quantity",
    "qtys": "quantities",
    "rev": "revenue",
    "avg": "average",
    "yr": "year",
    "yrs": "years",
    "mo": "month",
    "mos": "months",
    "mth": "month",
    "mths": "months",
    "qtr": "quarter",
    "qtrs": "quarters",
    "wk": "week",
    "wks": "weeks",
    "amt": "amount",
    "amts": "amounts",
    "cust": "customer",
    "custs": "customers",
    "prod": "product",
    "prods": "products",
    "cat": "category",
    "cats": "categories",
    "ord": "order",
    "ords": "orders",
    "pls": "",
    "plz": "",
    "thx": "",
    "thanks": "",
    "w/": "with",
    "aov": "average order value",
    "cnt": "count",
}
# Comparison signs, typed as words would be: "orders > 1k" -> "orders over 1k".
SIGNS = [(">=", " at least "), ("<=", " at most "), (">", " over "), ("<", " under ")]
_WORD = re.compile(r"(?<![\w/])(?:[a-z]+/?)(?![\w/])")
# "no. of orders", "no. orders", "# of orders": the number of.
NUMBER_OF = re.compile(r"(?:\bno\.|#) ?(?:of )?(?=[a-z])")
# A "k" amount: after a comparison or a dollar sign, or before a money word.
_K_CONTEXT = (
    r"(?:(?<=\$)|(?<=\$ )|(?<=than )|(?<=over )|(?<=above )|(?<=under )|(?<=below )|"
    r"(?<=least )|(?<=most )|(?<=of )|(?<=exceeding )|(?<=to ))"
)
K_AMOUNT = re.compile(
    rf"{_K_CONTEXT}(\d+(?:\.\d+)?) ?k\b|\b(\d+(?:\.\d+)?)k(?= (?:dollars|usd|bucks|in|of|"
    r"revenue|sales|spend|spent|total)\b)"
)


def expand_shorthand(text: str) -> str:
    """Lower-case text with its shorthand spelt out (punctuation still in place)."""
    text = NUMBER_OF.sub("number of ", text)
    for sign, words in SIGNS:
        text = text.replace(sign, words)
    text = re.sub(r"  +", " ", text)
    text = K_AMOUNT.sub(_thousands, text)
    return _WORD.sub(lambda m: SHORTHAND.get(m[0], m[0]), text)


def _thousands(match: re.Match[str]) -> str:
    number = float(match[1] or match[2]) * 1000
    return f"{number:.2f}".rstrip("0").rstrip(".")
