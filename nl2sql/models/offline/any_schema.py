"""The offline model on any database: pure recognisers over the catalog's words.

Each recogniser reads the question's words (and what earlier ones took) and fills one slot of
the intent: values, keys and comparisons (schema_filters.py), grouping, ranking, the measure and
the table asked about (schema_shape.py); schema_query.py turns the intent into a Query and
schema_question.py holds the words, the intent and the cue tables they share. A word no
recogniser read and that is not filler refuses the question (naming the word): on a schema it
was not tuned on, the model would rather say so than guess.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from nl2sql.models.offline.schema_filters import (
    read_comparisons,
    read_date_column,
    read_keys,
    read_values,
)
from nl2sql.models.offline.schema_query import (
    build_query,
)
from nl2sql.models.offline.schema_question import NotRead, read_question
from nl2sql.models.offline.schema_shape import (
    read_asked_columns,
    read_date_extreme,
    read_entity,
    read_grouping,
    read_measure,
    read_ranking,
)
from nl2sql.models.offline.schema_words import SchemaWords


def understand_any(question: str, today: date, words: SchemaWords) -> dict[str, Any]:
    """The Query for a question on any schema; NotRead when some of it cannot be mapped."""
    read, intent = read_question(question, today, words)
    read_values(read, words, intent)
    read_keys(read, words, intent)
    read_comparisons(read, words, intent)
    read_grouping(read, words, intent)
    read_date_extreme(read, intent)
    read_ranking(read, words, intent)
    read_measure(read, words, intent)
    read_entity(read, words, intent)
    read_asked_columns(read, words, intent)
    read_date_column(read, words, intent)
    unread = read.unread()
    if unread:
        raise NotRead(f"I do not know what {', '.join(repr(w) for w in unread)} means here")
    return build_query(intent, words)


__all__ = ["NotRead", "understand_any"]
