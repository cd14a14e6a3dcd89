"""English word forms shared by the catalog (row nouns from table names) and the offline model."""

from __future__ import annotations

import re


def singular(word: str) -> str:
    """A plural's singular, by the common rules: categories -> category, orders -> order."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words_of(text: str) -> list[str]:
    """Lower-case words of `text`: '&' as 'and', a possessive 's dropped, punctuation as spaces,
    each word singular: "Line Items & Customer's" -> ['line', 'item', 'and', 'customer']."""
    text = text.lower().replace("&", " and ").replace("'s ", " ")
    return [singular(word) for word in re.findall(r"[a-z0-9]+", text)]
