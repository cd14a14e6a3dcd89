"""The Query a filled intent stands for, with the joins a named table asks for (`via`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nl2sql.models.offline.schema_question import (
    Intent,
    NotRead,
    make_condition,
    make_field,
)
from nl2sql.models.offline.schema_words import SchemaWords


def build_query(intent: Intent, words: SchemaWords) -> dict[str, Any]:
    if intent.table is None:
        raise NotRead("I cannot tell which table the question is about")
    conditions = [*resolved_filters(intent, words), *date_conditions(intent)]
    columns = [make_field(c, None, grain) for c, grain in _grouped(intent)]
    columns += [
        make_field(c, None) for c in intent.asked if c not in {f["column"] for f in columns}
    ]
    order_by: list[dict[str, Any]] = []
    limit = None
    if intent.measure == "date":
        if intent.date_column is None:
            raise NotRead(f"{intent.table} has no date to tell recent from old")
        intent.measure = intent.date_column
    measured = intent.measure or (words.count_column(intent.table) if intent.aggregate else None)
    if intent.aggregate and measured:
        columns.append(make_field(measured, intent.aggregate))
    if intent.order:
        descending, limit = intent.order
        direction = "desc" if descending else "asc"
        if intent.aggregate and measured:
            order_by.append(
                {"column": measured, "aggregate": intent.aggregate, "direction": direction}
            )
        else:
            size = intent.measure or words.measure_column(intent.table)
            if size is None:
                raise NotRead(
                    f"I do not know what makes one {intent.table} row larger than another"
                )
            order_by.append({"column": size, "aggregate": None, "direction": direction})
    query = {
        "table_name": intent.table,
        "columns": columns,
        "conditions": conditions,
        "order_by": order_by,
        "limit": limit,
    }
    via = _via(intent, words, [c["column"] for c in [*columns, *conditions]])
    return {**query, "via": via} if via else query


def _via(intent: Intent, words: SchemaWords, used: list[str]) -> list[str]:
    """The foreign keys that make a column the named table's ('customers in FRANCE' asked of
    line items: the customer's nation, not the supplier's, which is nearer)."""
    catalog, base = words.tool.catalog, str(intent.table)
    targets = {words.info(c).table for c in used if c in words.tool.columns}
    via: list[str] = []
    for owner in dict.fromkeys([*intent.owners, *intent.named]):
        to_owner = catalog.reach(base).paths.get(owner)
        if owner == base or to_owner is None or any(e.to_many for e in to_owner):
            continue
        for target in sorted(targets - {owner, base}):
            path = catalog.reach(owner).paths.get(target)
            if not path or any(e.to_many for e in path):
                continue
            steps = tuple(k for c in via for k in catalog.foreign_keys(*c.split(".", 1)))
            route = catalog.routed(base, steps).paths.get(target, ())
            column = f"{path[0].source}.{path[0].source_columns[0]}"
            if owner not in {e.target for e in route} and column in words.tool.columns:
                via.append(column)
    return list(dict.fromkeys(via))


def _grouped(intent: Intent) -> list[tuple[str, str | None]]:
    groups = []
    for column, grain in intent.groups:
        if grain:
            if intent.date_column is None:
                raise NotRead(f"there is no date to group by {grain}")
            column = intent.date_column
        if column and (column, grain) not in groups:
            groups.append((column, grain))
    return groups


def resolved_filters(intent: Intent, words: SchemaWords) -> list[dict[str, Any]]:
    """Comparisons whose column was left open ('over 300000') take the table's size column."""
    resolved = []
    for condition in intent.filters:
        if "pending_column" not in condition:
            resolved.append(condition)
            continue
        column = condition["pending_column"] or words.measure_column(intent.table or "")
        if column is None:
            raise NotRead("I cannot tell which number the comparison is about")
        resolved.append(make_condition(column, condition["operator"], condition["value"]))
    return resolved


def date_conditions(intent: Intent) -> list[dict[str, Any]]:
    if not intent.dates:
        return []
    if intent.date_column is None:
        raise NotRead("there is no date in that table for the period to apply to")
    conditions = []
    for found in intent.dates:
        if found.start is not None:
            conditions.append(make_condition(intent.date_column, ">=", found.start.isoformat()))
        if found.end is not None:
            end = found.end + timedelta(days=1)
            conditions.append(make_condition(intent.date_column, "<", end.isoformat()))
    return conditions
