"""The database as nl2sql sees it: its tables, what they mean, how they join, whose rows they are.

One ``Catalog`` per database. It is built from nl2sql's own schema (``schema.py``, whose tables
carry their meaning as ``info=``) or by reflecting any other database (``reflect.py``), then
completed by the config file (``config.py``), which writes into the same ``info`` and
``comment``. The tool, the compiler, the tenant scope, ``understood`` and the offline model all
read the catalog; no module outside the schema names a table.

Meaning read from ``info``:
- a table: ``row`` / ``rows`` (what one row and several rows are called), ``words`` (other
  names for its rows), ``label`` (the column that names a row), ``tenant: "shared"``;
- a column: ``phrase``, ``verb`` (a date: what happened then), ``unit`` (``"money"``),
  ``values`` (allowed values), ``words``, ``hint`` (a note for the model), ``tenant: "key"``,
  ``derived_from`` (columns it is computed from in the data: hiding one hides the others);
- the metadata: ``description`` (what the database holds) and ``notes`` for the model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, MetaData, Table
from sqlalchemy.sql import visitors

from nl2sql.errors import ConfigError

MAX_CANDIDATE_PATHS = 4  # tied paths named in a message; more only adds noise


@dataclass(frozen=True)
class Edge:
    """One join step along a foreign key: to one row (child -> parent) or to many rows."""

    source: str
    target: str
    to_many: bool
    source_columns: tuple[str, ...]
    target_columns: tuple[str, ...]

    def reversed(self) -> Edge:
        return Edge(
            self.target, self.source, not self.to_many, self.target_columns, self.source_columns
        )

    def describe(self) -> str:
        """`lineitem.l_orderkey -> orders.o_orderkey`, as people read a join."""
        left = ", ".join(f"{self.source}.{c}" for c in self.source_columns)
        right = ", ".join(f"{self.target}.{c}" for c in self.target_columns)
        return f"{left} -> {right}"


Path = tuple[Edge, ...]


def describe_path(base: str, path: Path) -> str:
    """`lineitem -> orders -> customer`."""
    return " -> ".join([base, *(edge.target for edge in path)])


@dataclass(frozen=True)
class Tenant:
    """What a customer scope means: the key column, and the tables every tenant sees whole."""

    table: str
    column: str
    shared: frozenset[str]

    @property
    def qualified(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class Reach:
    """How a base table reaches other tables: one shortest path each, or tied candidates."""

    paths: Mapping[str, Path]
    ties: Mapping[str, tuple[Path, ...]]


@dataclass
class Catalog:
    """Every table of one database, the join graph between them, and the tenant scope.

    `tables` holds every table, hidden ones too: the tenant scope may pass through a table the
    model never sees. Queries join only across exposed tables.
    """

    metadata: MetaData
    computed: tuple[Any, ...] = ()  # schema.ComputedColumn entries of exposed tables
    extra_joins: tuple[Edge, ...] = ()  # many -> one steps the database does not declare
    hidden_tables: frozenset[str] = frozenset()
    hidden_columns: frozenset[str] = frozenset()
    builtin: bool = False  # nl2sql's own schema: the tuned offline grammar serves it
    _reach: dict[tuple[str, bool], Reach] = field(default_factory=dict, repr=False)
    _readable: Mapping[str, frozenset[str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.edges_all = _adjacency(self.metadata.tables.values(), self.extra_joins)
        exposed = set(self.exposed)
        self.edges = {
            name: [e for e in edges if e.target in exposed]
            for name, edges in self.edges_all.items()
            if name in exposed
        }
        self.tenant = _tenant_of(self.metadata)

    # -- tables ------------------------------------------------------------------------------

    @property
    def tables(self) -> Mapping[str, Table]:
        return self.metadata.tables

    @property
    def exposed(self) -> list[str]:
        """Tables the model may name, in declaration order."""
        return [name for name in self.metadata.tables if name not in self.hidden_tables]

    @property
    def description(self) -> str:
        return str(self.metadata.info.get("description", "the database"))

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self.metadata.info.get("notes", ()))

    def primary_key(self, name: str) -> tuple[str, ...]:
        """The primary-key columns of a table; every column when it declares none."""
        table = self.tables[name]
        key = tuple(column.name for column in table.primary_key.columns)
        return key or tuple(column.name for column in table.columns)

    def computed_column(self, table: str, name: str) -> Any:
        return next(c for c in self.computed if c.table == table and c.name == name)

    def without(self, hidden: Iterable[str]) -> Catalog:
        return without(self, hidden)

    @property
    def readable(self) -> Mapping[str, frozenset[str]]:
        """The stored columns a query may read, per table: every visible column of an exposed
        table, and the keys the tenant scope follows (through hidden tables too). What the
        SQLite authorizer allows and what a scoped source selects. Computed once."""
        if self._readable is None:
            self._readable = _readable_columns(self)
        return self._readable

    # -- joins -------------------------------------------------------------------------------

    def reach(self, base: str, *, hidden_too: bool = False) -> Reach:
        """The shortest join path from `base` to every table; tables tied between several
        shortest paths are in `ties` instead. Cached: the graph never changes."""
        key = (base, hidden_too)
        if key not in self._reach:
            self._reach[key] = _shortest_paths(base, self.edges_all if hidden_too else self.edges)
        return self._reach[key]

    def foreign_keys(self, table: str, column: str) -> list[Edge]:
        """The to-one join steps that start at this column (one, unless it is part of several
        keys)."""
        return [
            e for e in self.edges.get(table, []) if not e.to_many and column in e.source_columns
        ]

    def routed(self, base: str, via: tuple[Edge, ...]) -> Reach:
        """`reach(base)`, with the tables beyond each `via` step reached through it: the
        shortest path to the step's table, the step, then on along to-one steps (the step's
        table and its parents: a nation, its region). How a query says "the customer's nation"
        where the supplier's is nearer."""
        plain = self.reach(base)
        if not via:
            return plain
        paths, ties = dict(plain.paths), dict(plain.ties)
        rerouted: set[str] = set()
        for step in via:
            start = () if step.source == base else plain.paths.get(step.source)
            if start is None:
                continue  # the compiler reports a step it cannot reach
            onward = self.reach(step.target)
            for name, rest in [(step.target, ()), *onward.paths.items()]:
                if name in rerouted or name == base or any(e.to_many for e in rest):
                    continue
                paths[name] = (*start, step, *rest)
                ties.pop(name, None)
                rerouted.add(name)
        return Reach(paths, ties)

    def require_tenant(self, where: str = "This database") -> Tenant:
        """The tenant key, or ConfigError saying a customer scope needs one."""
        if self.tenant is None:
            raise ConfigError(
                f"{where} has no tenant key, so a customer scope cannot be applied; name it in "
                'the config ([tenant] column = "table.column") or drop --customer.'
            )
        return self.tenant

    def scope_path(self, name: str) -> Path | None:
        """The path from a table to the tenant key's table (over every table, hidden too).

        None when the table cannot reach it. Raises ConfigError when it reaches it along
        several equally short paths: which customer a row belongs to must not be a guess.
        """
        assert self.tenant is not None
        reach = self.reach(name, hidden_too=True)
        if self.tenant.table in reach.ties:
            candidates = "; ".join(
                describe_path(name, p) for p in reach.ties[self.tenant.table][:MAX_CANDIDATE_PATHS]
            )
            raise ConfigError(
                f"{name} reaches the tenant table {self.tenant.table} along several paths "
                f"({candidates}); mark {name} as shared in [tenant] or hide it."
            )
        return reach.paths.get(self.tenant.table)


def _readable_columns(catalog: Catalog) -> dict[str, frozenset[str]]:
    readable = {
        name: {
            column.name
            for column in catalog.tables[name].columns
            if f"{name}.{column.name}" not in catalog.hidden_columns
        }
        for name in catalog.exposed
    }
    for table, column in scope_keys(catalog):
        readable.setdefault(table, set()).add(column)
    return {name: frozenset(columns) for name, columns in readable.items()}


def scope_keys(catalog: Catalog) -> set[tuple[str, str]]:
    """Every (table, column) the tenant scope reads: the key, and both ends of each step on
    the tables' paths to it. A table with tied paths is left out: the compiler refuses it."""
    tenant = catalog.tenant
    if tenant is None:
        return set()
    keys = {(tenant.table, tenant.column)}
    for name in catalog.tables:
        if name in tenant.shared:
            continue
        try:
            path = catalog.scope_path(name)
        except ConfigError:
            continue
        for step in path or ():
            keys |= {(step.source, column) for column in step.source_columns}
            keys |= {(step.target, column) for column in step.target_columns}
    return keys


def _adjacency(tables: Iterable[Table], extra: Iterable[Edge]) -> dict[str, list[Edge]]:
    """Each table's join steps: declared foreign keys (composite ones too) and extra joins."""
    tables = list(tables)
    edges: dict[str, list[Edge]] = {table.name: [] for table in tables}
    steps = [
        _edge_of(constraint) for table in tables for constraint in table.foreign_key_constraints
    ]
    for step in [*steps, *extra]:
        if step is None or step.target not in edges or step.source not in edges:
            continue
        if step not in edges[step.source]:
            edges[step.source].append(step)
            edges[step.target].append(step.reversed())
    return edges


def _edge_of(constraint: Any) -> Edge | None:
    elements = list(constraint.elements)
    if not elements:
        return None
    return Edge(
        constraint.table.name,
        elements[0].column.table.name,
        False,
        tuple(element.parent.name for element in elements),
        tuple(element.column.name for element in elements),
    )


def _shortest_paths(base: str, edges: Mapping[str, list[Edge]]) -> Reach:
    """Breadth-first, keeping every shortest path (up to a few) to each table."""
    found: dict[str, list[Path]] = {base: [()]}
    depth = {base: 0}
    queue = deque([base])
    while queue:
        current = queue.popleft()
        for edge in edges.get(current, []):
            target = edge.target
            if target not in depth:
                depth[target] = depth[current] + 1
                found[target] = []
                queue.append(target)
            if depth[target] == depth[current] + 1:
                for path in found[current]:
                    if len(found[target]) < MAX_CANDIDATE_PATHS:
                        found[target].append((*path, edge))
    paths = {name: options[0] for name, options in found.items() if len(options) == 1}
    ties = {name: tuple(options) for name, options in found.items() if len(options) > 1}
    return Reach(paths, ties)


def _tenant_of(metadata: MetaData) -> Tenant | None:
    """The tenant key column (`info={"tenant": "key"}`) and the shared tables, if any."""
    keys = [
        (table.name, column.name)
        for table in metadata.tables.values()
        for column in table.columns
        if column.info.get("tenant") == "key"
    ]
    if not keys:
        return None
    if len(keys) > 1:
        names = ", ".join(f"{t}.{c}" for t, c in keys)
        raise ConfigError(f"Only one column can be the tenant key; found {names}.")
    shared = frozenset(
        table.name for table in metadata.tables.values() if table.info.get("tenant") == "shared"
    )
    return Tenant(keys[0][0], keys[0][1], shared)


def qualified_columns(catalog: Catalog) -> set[str]:
    """Every `table.column` of the catalog, stored and computed."""
    names = {f"{t.name}.{c.name}" for t in catalog.tables.values() for c in t.columns}
    return names | {f"{c.table}.{c.name}" for c in catalog.computed}


def without(catalog: Catalog, hidden: Iterable[str]) -> Catalog:
    """The same catalog with more columns hidden, and what would show them again (the columns
    computed from them, the foreign keys that equal them); ValueError names an unknown one."""
    hidden_set = frozenset(hidden)
    unknown = hidden_set - qualified_columns(catalog)
    if unknown:
        raise ValueError(f"cannot hide unknown columns: {', '.join(sorted(unknown))}")
    hidden_set = hidden_closure(catalog, hidden_set)
    return Catalog(
        catalog.metadata,
        computed=catalog.computed,
        extra_joins=catalog.extra_joins,
        hidden_tables=catalog.hidden_tables,
        hidden_columns=catalog.hidden_columns | hidden_set,
        builtin=catalog.builtin,
    )


def hidden_closure(catalog: Catalog, hidden: frozenset[str]) -> frozenset[str]:
    """`hidden`, plus every column that would rebuild one of them: a computed column that reads
    it (line_total from unit_price), a key's twins across a foreign key (customers.id is
    orders.customer_id), and the columns a stored column is declared `derived_from`
    (orders.total_amount is the sum of its order_items.line_total: each rebuilds the other)."""
    closed = set(hidden)
    while True:
        grown = (
            closed
            | _computed_from(catalog, closed)
            | _key_twins(catalog, closed)
            | _derived_twins(catalog, closed)
        )
        if grown == closed:
            return frozenset(closed)
        closed = grown


def _computed_from(catalog: Catalog, hidden: set[str]) -> set[str]:
    found = set()
    for computed in catalog.computed:
        table = catalog.tables[computed.table]
        reads = {
            f"{table.name}.{element.name}"
            for element in visitors.iterate(computed.expression(table))
            if isinstance(element, Column)
        }
        if reads & hidden:
            found.add(f"{computed.table}.{computed.name}")
    return found


def _derived_twins(catalog: Catalog, hidden: set[str]) -> set[str]:
    found = set()
    known = qualified_columns(catalog)
    for table in catalog.tables.values():
        for column in table.columns:
            sources = set(column.info.get("derived_from", ()))
            if not sources:
                continue
            unknown = sources - known
            if unknown:
                raise ConfigError(
                    f"{table.name}.{column.name} is derived_from unknown columns "
                    f"({', '.join(sorted(unknown))}); name them as table.column."
                )
            group = sources | {f"{table.name}.{column.name}"}
            if group & hidden:
                found |= group
    return found


def _key_twins(catalog: Catalog, hidden: set[str]) -> set[str]:
    found = set()
    for edges in catalog.edges_all.values():
        for edge in edges:
            pairs = zip(edge.source_columns, edge.target_columns, strict=True)
            for left, right in pairs:
                ends = {f"{edge.source}.{left}", f"{edge.target}.{right}"}
                if ends & hidden:
                    found |= ends
    return found


def builtin_catalog(hidden: Iterable[str] = ()) -> Catalog:
    """nl2sql's own schema, as `schema.py` defines it, minus the hidden columns."""
    from nl2sql import schema

    catalog = Catalog(schema.metadata, computed=schema.COMPUTED_COLUMNS, builtin=True)
    return without(catalog, hidden) if hidden else catalog
