"""Follow-ups on any schema: a fragment ("only FRANCE", "what about 1996?", "by region",
"top 3") read by the same recognisers and applied to the previous Query as an edit."""

from __future__ import annotations

from datetime import date
from typing import Any

from nl2sql.models.offline.schema_filters import read_comparisons, read_date_column, read_values
from nl2sql.models.offline.schema_query import date_conditions, resolved_filters
from nl2sql.models.offline.schema_question import FILLER, NotRead, read_question
from nl2sql.models.offline.schema_shape import read_grouping, read_ranking
from nl2sql.models.offline.schema_words import SchemaWords

# Words that only say "the same rows as before": they read as nothing else in a follow-up.
POINTING = frozenset("only just those them these same now instead also but then about".split())


def follow_up_any(
    question: str, today: date, words: SchemaWords, previous: dict[str, Any]
) -> dict[str, Any]:
    """The previous Query edited by the fragment; NotRead when part of it cannot be read."""
    read, intent = read_question(question, today, words)
    intent.table = str(previous.get("table_name"))
    read_values(read, words, intent)
    read_comparisons(read, words, intent)
    read_grouping(read, words, intent)
    read_ranking(read, words, intent)
    intent.date_column = _previous_date_column(previous, words)
    read_date_column(read, words, intent)
    unread = [w for w in read.unread() if w not in POINTING and w not in FILLER]
    if unread:
        raise NotRead(f"I do not know what {', '.join(repr(w) for w in unread)} means here")
    added = [*resolved_filters(intent, words), *date_conditions(intent)]
    if not added and not intent.groups and not intent.order:
        raise NotRead("the follow-up changes nothing in the previous question")
    query = dict(previous)
    query["conditions"] = _merged(previous.get("conditions") or [], added, words)
    if intent.groups:
        query["columns"] = _regrouped(previous, intent.groups, intent.date_column)
    if intent.order:
        query = _reranked(query, *intent.order)
    return query


def _previous_date_column(previous: dict[str, Any], words: SchemaWords) -> str | None:
    """The date the previous question's period was on, else the base table's own."""
    for condition in previous.get("conditions") or []:
        info = words.tool.columns.get(str(condition.get("column")))
        if info is not None and info.kind in ("date", "datetime"):
            return info.qualified
    return words.date_column(str(previous.get("table_name")))


def _merged(
    earlier: list[dict[str, Any]], added: list[dict[str, Any]], words: SchemaWords
) -> list[dict[str, Any]]:
    """Earlier conditions, minus those on a column the follow-up filters again (a new period
    replaces the old one), plus the follow-up's."""
    replaced = {c["column"] for c in added}
    kept = [c for c in earlier if c.get("column") not in replaced]
    return [*kept, *added]


def _regrouped(
    previous: dict[str, Any], groups: list[tuple[str, str | None]], date_column: str | None
) -> list[dict[str, Any]]:
    """The previous measures, grouped by the follow-up's columns instead of the old ones."""
    measures = [f for f in previous.get("columns") or [] if f.get("aggregate")]
    if not measures:
        raise NotRead("the previous answer has nothing to break down")
    fields = []
    for column, grain in groups:
        if grain and date_column is None:
            raise NotRead(f"there is no date to group by {grain}")
        chosen = date_column if grain else column
        fields.append({"column": chosen, "aggregate": None, "time_grain": grain})
    return [*fields, *measures]


def _reranked(query: dict[str, Any], descending: bool, limit: int) -> dict[str, Any]:
    """'top 3' / 'bottom 5' of the previous answer: by its measure, or its existing order."""
    measures = [f for f in query.get("columns") or [] if f.get("aggregate")]
    order = list(query.get("order_by") or [])
    direction = "desc" if descending else "asc"
    if measures:
        measure = measures[-1]
        order = [
            {"column": measure["column"], "aggregate": measure["aggregate"], "direction": direction}
        ]
    elif not order:
        raise NotRead("the previous answer has no order to take the top of")
    else:
        order = [{**item, "direction": direction} for item in order]
    return {**query, "order_by": order, "limit": limit}
