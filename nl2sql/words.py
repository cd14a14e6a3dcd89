"""English word forms shared by the catalog (row nouns from table names) and the offline model."""

from __future__ import annotations


def singular(word: str) -> str:
    """A plural's singular, by the common rules: categories -> category, orders -> order."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
