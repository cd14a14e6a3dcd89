"""Where rows come from: tables joined along foreign keys, each limited to one customer's rows
under a tenant scope (a row is theirs when its join path to the tenant key ends at their key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import FromClause, and_, exists, select
from sqlalchemy.sql.elements import ColumnElement

from nl2sql.catalog import Catalog, Edge, Path
from nl2sql.query import ColumnInfo

Sources = dict[str, FromClause]
Expr = ColumnElement[Any]


def join_chain(
    start: FromClause,
    names: tuple[str, ...] | list[str],
    paths: Mapping[str, Path],
    sources: Sources,
    *,
    outer_to_many: bool,
) -> FromClause:
    """Join `names` (ordered nearest first) onto `start`, each along its last foreign-key step."""
    clause = start
    for name in names:
        step = paths[name][-1]
        clause = clause.join(
            sources[name],
            step_link(step, sources[step.source], sources[name]),
            isouter=outer_to_many and step.to_many,
        )
    return clause


def step_link(step: Edge, source: FromClause, target: FromClause) -> ColumnElement[bool]:
    """The ON clause of one join step (every column of a composite key)."""
    pairs = zip(step.source_columns, step.target_columns, strict=True)
    links = [source.c[left] == target.c[right] for left, right in pairs]
    return links[0] if len(links) == 1 else and_(*links)


def column_expression(catalog: Catalog, info: ColumnInfo, source: FromClause) -> Expr:
    if info.computed:
        return catalog.computed_column(info.table, info.name).expression(source)  # type: ignore[no-any-return]
    return source.c[info.name]


def scope_refusal(catalog: Catalog, name: str, customer_id: int | None) -> str | None:
    """Why a table cannot be limited to one customer, or None when it can (or need not be)."""
    tenant = catalog.tenant
    if customer_id is None or tenant is None or name in tenant.shared:
        return None
    if catalog.scope_path(name) is not None:
        return None
    return (
        f"{name} cannot be limited to one customer: none of its joins reach the tenant key "
        f"{tenant.qualified}. Ask without a customer scope, or mark {name} as shared in "
        "the config ([tenant] shared) if every customer may see all of it."
    )


class ScopeRefused(Exception):
    """A table the tenant scope cannot cover: it is not shared and does not reach the key."""


def scoped_source(catalog: Catalog, name: str, customer_id: int | None) -> FromClause:
    """A table, or only the rows one customer may see, under the table's own name.

    A row is the customer's when its join path to the tenant key's table ends at their key;
    shared tables stay whole; any other table raises ScopeRefused (the plan refuses it first).
    """
    table = catalog.tables[name]
    refusal = scope_refusal(catalog, name, customer_id)
    if refusal:
        raise ScopeRefused(refusal)
    tenant = catalog.tenant
    if customer_id is None or tenant is None or name in tenant.shared:
        return table
    path = catalog.scope_path(name)
    assert path is not None  # scope_refusal said it reaches the key
    condition = scope_condition(catalog, table, path, customer_id, seen={name})
    readable = catalog.readable.get(name, frozenset())
    columns = [column for column in table.columns if column.name in readable]
    return select(*columns).where(condition).subquery(name)


def scope_condition(
    catalog: Catalog,
    table: FromClause,
    path: Path,
    customer_id: int | ColumnElement[Any],
    seen: set[str],
) -> ColumnElement[bool]:
    """`table`'s rows whose path ends at the customer's key: nested IN subqueries, one per step
    (EXISTS for a composite key). `customer_id` is a value, or an SQL expression (the
    PostgreSQL row-level security policies compare with the transaction's setting)."""
    tenant = catalog.tenant
    assert tenant is not None
    if not path:
        return table.c[tenant.column] == customer_id
    step, rest = path[0], path[1:]
    if not rest and step.target_columns == (tenant.column,):  # the key itself: no subquery
        return table.c[step.source_columns[0]] == customer_id
    target: FromClause = catalog.tables[step.target]
    if step.target in seen:  # a table met twice on the path (a self-join): keep them apart
        target = target.alias(f"{step.target}_scope{len(seen)}")
    inner = scope_condition(catalog, target, rest, customer_id, seen | {step.target})
    if len(step.source_columns) == 1:
        keys = select(target.c[step.target_columns[0]]).where(inner)
        return table.c[step.source_columns[0]].in_(keys)
    return exists(select(1).select_from(target).where(step_link(step, table, target), inner))
