"""Compile a validated Query into a SQLAlchemy ``Select`` with bound parameters.

Joins follow foreign keys from the base table. Filters on the "many" side of the base table
become EXISTS semi-joins, and aggregates over rows that a join repeats are computed over
de-duplicated rows, so counts and sums of base rows are never inflated. A tenant scope replaces
every table that reaches customers with a filtered subquery, so no query can see another
customer's rows: a row is theirs when its join path to the tenant key ends at their key.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    FromClause,
    Select,
    and_,
    distinct,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

from nl2sql.catalog import MAX_CANDIDATE_PATHS, Catalog, Edge, Path, describe_path
from nl2sql.dialects import AsDate, DateBucket
from nl2sql.errors import QueryValidationError
from nl2sql.operators import AGGREGATES, COMPARISONS, DAY_COMPARISONS
from nl2sql.query import (
    LIST_OPERATORS,
    NULL_OPERATORS,
    Aggregate,
    ColumnInfo,
    Operator,
    QueryTool,
    TimeGrain,
    builtin_tool,
)
from nl2sql.values import DayRange, ValueProblem, coerce

DEFAULT_PAGE_SIZE = 100
HARD_ROW_CAP = 1000
QUERY_LIMITS = {"columns": 30, "conditions": 30, "order_by": 10, "via": 10}  # items per part
MAX_LIST_VALUES = 500  # values of one 'in' / 'not in' list

# Aggregates whose value changes when a join repeats rows.
REPEAT_SENSITIVE = frozenset({Aggregate.count, Aggregate.sum, Aggregate.avg})
NUMERIC_ONLY = frozenset({Aggregate.sum, Aggregate.avg})
ORDERABLE_KINDS = frozenset({"integer", "number", "date", "datetime", "text"})


def join_chain(
    start: FromClause,
    names: list[str],
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


Sources = dict[str, FromClause]
Expr = ColumnElement[Any]
Ordering = tuple["Term", bool]  # (what to sort by, descending?)
Filter = tuple[int, Any, ColumnInfo]  # (position in conditions, the Condition, its column)


@dataclass(frozen=True)
class Term:
    """A column as the query uses it: maybe bucketed by a time grain, maybe aggregated."""

    info: ColumnInfo
    aggregate: Aggregate | None = None
    grain: TimeGrain | None = None

    @property
    def label(self) -> str:
        name = self.info.qualified
        if self.grain:
            name = f"{self.grain.value}({name})"
        return f"{self.aggregate.value}({name})" if self.aggregate else name


@dataclass
class Compiled:
    """A compiled query and what is needed to run and show it."""

    statement: Select[Any]
    labels: list[str]
    kinds: list[str]
    limit: int
    tables: set[str] = field(default_factory=set)
    customer_id: int | None = None  # the tenant it is scoped to: its session names them too


class Problems:
    """Collects every problem in a Query so the model can fix them all in one retry."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"field": where, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            raise QueryValidationError.from_problems(self.items)


class Compiler:
    """Turns Query tool calls into scoped, capped SQLAlchemy selects."""

    def __init__(
        self,
        tool: QueryTool | None = None,
        *,
        customer_id: int | None = None,
        default_limit: int = DEFAULT_PAGE_SIZE,
        max_rows: int = HARD_ROW_CAP,
    ) -> None:
        self.tool = tool or builtin_tool()
        if customer_id is not None:
            self.tool.catalog.require_tenant()
        self.customer_id = customer_id
        self.default_limit = min(default_limit, max_rows)
        self.max_rows = max_rows

    def compile(self, query: BaseModel | str | dict[str, Any]) -> Compiled:
        if not isinstance(query, BaseModel):
            query = self.tool.parse(query)
        return _Build(self, query).compile()


class _Build:
    """The state of compiling one Query."""

    def __init__(self, compiler: Compiler, query: Any) -> None:
        self.compiler = compiler
        self.query = query
        self.catalog = compiler.tool.catalog
        self.base = query.table_name.value
        self.problems = Problems()
        reach = self.catalog.routed(self.base, self._via())
        self.paths = reach.paths
        self.ties = reach.ties

    # -- entry ------------------------------------------------------------------------------

    def compile(self) -> Compiled:
        self._check_sizes()
        fields = self._fields()
        sorts = self._sorts()
        row_filters, group_filters = self._split_conditions()
        limit = self._limit()
        # No raise yet: conditions are checked too, so every problem is reported in one go.

        joined = self._joined_tables(fields, sorts, row_filters, group_filters)
        sources = {name: self._source(name) for name in joined}
        from_clause = self._from(joined, sources)
        where = self._where(row_filters, joined, sources)
        self.problems.raise_if_any()

        aggregated = (
            any(t.aggregate for t in fields)
            or any(s.aggregate for s, _ in sorts)
            or bool(group_filters)
        )
        if aggregated:
            statement = self._aggregate_select(
                fields, sorts, group_filters, joined, sources, from_clause, where
            )
        else:
            statement = self._plain_select(fields, sorts, sources, from_clause, where)
        self.problems.raise_if_any()
        # Ask for one row more than the page, to know whether the result was cut.
        statement = statement.limit(limit + 1)
        return Compiled(
            statement=statement,
            labels=[t.label for t in fields],
            kinds=[result_kind(t) for t in fields],
            limit=limit,
            tables=set(joined),
            customer_id=self.compiler.customer_id,
        )

    # -- reading the query ------------------------------------------------------------------

    def _check_sizes(self) -> None:
        """Bounds on what one Query may ask: each a clear problem, never a huge statement."""
        for part, most in QUERY_LIMITS.items():
            items = getattr(self.query, part, None) or []
            if len(items) > most:
                self.problems.add(part, f"has {len(items)} items; at most {most} are allowed.")
        for index, condition in enumerate(self.query.conditions):
            if isinstance(condition.value, list) and len(condition.value) > MAX_LIST_VALUES:
                self.problems.add(
                    f"conditions[{index}].value",
                    f"lists {len(condition.value)} values; at most {MAX_LIST_VALUES} are allowed.",
                )
        self.problems.raise_if_any()

    def _via(self) -> tuple[Edge, ...]:
        """The join steps the query names (`via`): each a foreign-key column its base reaches."""
        steps = []
        plain = self.catalog.reach(self.base).paths
        for index, column in enumerate(getattr(self.query, "via", None) or []):
            where = f"via[{index}]"
            info = self._lookup(column)
            keys = self.catalog.foreign_keys(info.table, info.name) if info else []
            if info is None or len(keys) != 1:
                name = getattr(column, "value", column)
                self.problems.add(
                    where,
                    f"{name} is not a foreign key; via names the column a join leaves by, "
                    f"e.g. {self._a_foreign_key()}.",
                )
            elif info.table != self.base and info.table not in plain:
                self.problems.add(where, f"{info.table} is not reachable from {self.base}.")
            else:
                steps.append(keys[0])
        return tuple(steps)

    def _a_foreign_key(self) -> str:
        for edges in self.catalog.edges.values():
            for edge in edges:
                if not edge.to_many and len(edge.source_columns) == 1:
                    return f"{edge.source}.{edge.source_columns[0]}"
        return "a table's foreign-key column"

    def _lookup(self, column: Any) -> ColumnInfo | None:
        """The exposed column named by an enum member or a plain string, if any."""
        return self.compiler.tool.columns.get(getattr(column, "value", column))

    def _info(self, column: Any, where: str) -> ColumnInfo | None:
        info = self._lookup(column)
        if info is None:
            self.problems.add(where, f"unknown column {column!r}")
        elif info.table not in self.paths:
            self.problems.add(where, self._unreachable(info))
            return None
        return info

    def _unreachable(self, info: ColumnInfo) -> str:
        """Why a column's table cannot be joined to the base table, and what to do instead."""
        if info.table not in self.ties:
            return (
                f"{info.qualified} cannot be reached from {self.base}: no foreign key joins "
                f"{info.table} to it. Use {info.table} as the base table, or declare the join "
                "in the config (joins)."
            )
        candidates = self.ties[info.table][:MAX_CANDIDATE_PATHS]
        named = "; ".join(describe_path(self.base, path) for path in candidates)
        middle = sorted({e.target for path in candidates for e in path[:-1]})
        advice = f"make one of {', '.join(middle)} the base table" if middle else "pick one"
        return (
            f"{info.table} is reached from {self.base} along several equally short paths "
            f"({named}); say which: {advice}."
        )

    def _term(self, item: Any, where: str, grain: Any = None) -> Term | None:
        info = self._info(item.column, where)
        if info is None:
            return None
        aggregate = item.aggregate
        if aggregate in NUMERIC_ONLY and info.kind not in ("integer", "number"):
            self.problems.add(
                where,
                f"{aggregate.value} needs a numeric column; "
                f"{info.qualified} is {info.kind}. Use count or min/max.",
            )
        if grain is not None and info.kind not in ("date", "datetime"):
            self.problems.add(
                where,
                f"time_grain {grain.value} needs a date or datetime "
                f"column; {info.qualified} is {info.kind}.",
            )
            grain = None
        if grain is not None and aggregate is not None:
            self.problems.add(
                where, "use either time_grain (to group by it) or an aggregate, not both."
            )
        return Term(info, aggregate, grain)

    def _fields(self) -> list[Term]:
        terms = []
        for index, item in enumerate(self.query.columns):
            term = self._term(item, f"columns[{index}]", item.time_grain)
            if term is not None:
                terms.append(term)
        if not self.query.columns:  # no columns: every column of the base table, as a list
            terms = [
                Term(info)
                for info in self.compiler.tool.columns.values()
                if info.table == self.base
            ]
        return terms

    def _sorts(self) -> list[tuple[Term, bool]]:
        sorts = []
        for index, item in enumerate(self.query.order_by):
            term = self._term(item, f"order_by[{index}]")
            if term is not None:
                sorts.append((term, item.direction.value == "desc"))
        return sorts

    def _split_conditions(self) -> tuple[list[Filter], list[Filter]]:
        rows: list[Filter] = []
        groups: list[Filter] = []
        for index, condition in enumerate(self.query.conditions):
            info = self._info(condition.column, f"conditions[{index}].column")
            if info is None:
                continue
            if condition.aggregate:  # HAVING: the same aggregate rules as columns and order_by
                self._term(condition, f"conditions[{index}]")
            (groups if condition.aggregate else rows).append((index, condition, info))
        return rows, groups

    def _limit(self) -> int:
        limit = self.query.limit
        if limit is None:
            return self.compiler.default_limit
        if limit < 1:
            self.problems.add("limit", f"must be a positive whole number or null, not {limit}.")
            return self.compiler.default_limit
        return min(limit, self.compiler.max_rows)

    # -- tables and joins -------------------------------------------------------------------

    def _many_side(self, table: str) -> bool:
        return any(edge.to_many for edge in self.paths[table])

    def _joined_tables(
        self,
        fields: list[Term],
        sorts: list[Ordering],
        row_filters: list[Filter],
        group_filters: list[Filter],
    ) -> list[str]:
        needed = {t.info.table for t in fields} | {t.info.table for t, _ in sorts}
        needed |= {info.table for _, _, info in group_filters}
        needed |= {info.table for _, _, info in row_filters if not self._many_side(info.table)}
        # A filter on the many side is an EXISTS from the last to-one table before the first
        # to-many step (supplier -> nation -> customers): that table is joined here.
        for _, _, info in row_filters:
            prefix = list(itertools.takewhile(lambda e: not e.to_many, self.paths[info.table]))
            if prefix and self._many_side(info.table):
                needed.add(prefix[-1].target)
        # A column compared with another (DynamicValue) on a to-one table joins that table too.
        for _, condition, info in row_filters:
            other = self._lookup(getattr(condition.value, "column_name", None))
            if other is None or other.table not in self.paths:
                continue  # reported when the comparison is built
            if not self._many_side(info.table) and not self._many_side(other.table):
                needed.add(other.table)
        tables: set[str] = {self.base}
        for name in needed:
            tables.update(edge.target for edge in self.paths[name])
        return sorted(tables, key=lambda name: (len(self.paths[name]), name))

    def _source(self, name: str) -> FromClause:
        """The table, or under a tenant scope a subquery holding only that customer's rows."""
        try:
            return scoped_source(self.catalog, name, self.compiler.customer_id)
        except ScopeRefused as refused:
            self.problems.add("table_name", str(refused))
            return refused.empty

    def _from(self, joined: list[str], sources: Sources) -> FromClause:
        # Outer joins on to-many steps keep base rows that have no related rows (count = 0).
        return join_chain(sources[self.base], joined[1:], self.paths, sources, outer_to_many=True)

    # -- conditions -------------------------------------------------------------------------

    def _where(
        self, row_filters: list[Filter], joined: list[str], sources: Sources
    ) -> list[ColumnElement[bool]]:
        direct: list[Filter] = []
        branches: dict[Edge, list[Filter]] = {}
        for index, condition, info in row_filters:
            if info.table in joined:
                direct.append((index, condition, info))
            else:
                first_many = next(e for e in self.paths[info.table] if e.to_many)
                branches.setdefault(first_many, []).append((index, condition, info))
        clauses = [self._condition(i, c, info, sources) for i, c, info in direct]
        for edge, conditions in branches.items():
            markers = [f for f in conditions if is_absence_marker(f)]
            others = [f for f in conditions if not is_absence_marker(f)]
            if markers:  # "<many table>.id is null": no related row may meet the others
                branch = self._semi_join(edge, others, sources, extra_tables=markers)
                clauses.append(not_(branch))
            else:
                clauses.append(self._semi_join(edge, conditions, sources))
        return [c for c in clauses if c is not None]

    def _semi_join(
        self,
        edge: Edge,
        conditions: list[Filter],
        outer: Sources,
        extra_tables: Sequence[Filter] = (),
    ) -> ColumnElement[bool]:
        """EXISTS (rows on the many side that meet every condition of this branch).

        `extra_tables`: filters whose tables must be joined in without testing them (the
        absence markers of a NOT EXISTS).
        """
        branch_paths = self.catalog.reach(edge.target).paths
        names = {edge.target}
        for _, _, info in [*conditions, *extra_tables]:
            if info.table not in branch_paths:  # only a tie from the branch start lands here
                self.problems.add("conditions", self._unreachable(info))
                continue
            names.update(e.target for e in branch_paths[info.table] if e.target != edge.source)
        ordered = sorted(names, key=lambda n: (len(branch_paths[n]), n))
        inner: Sources = {name: self._source(name).alias(f"{name}_match") for name in ordered}
        clause = join_chain(
            inner[edge.target], ordered[1:], branch_paths, inner, outer_to_many=False
        )
        link = step_link(edge.reversed(), inner[edge.target], outer[edge.source])
        tests = [self._condition(i, c, info, inner) for i, c, info in conditions]
        return exists(
            select(1).select_from(clause).where(link, *[t for t in tests if t is not None])
        )

    def _condition(
        self, index: int, condition: Any, info: ColumnInfo, sources: Sources
    ) -> ColumnElement[bool] | None:
        where = f"conditions[{index}]"
        expression = self._column(info, sources[info.table])
        try:
            return self._test(expression, info, condition.operator, condition.value, sources, None)
        except ValueProblem as problem:
            self.problems.add(where, str(problem))
            return None

    def _test(
        self,
        expression: Expr,
        info: ColumnInfo,
        operator: Operator,
        value: Any,
        sources: Sources,
        aggregate: Aggregate | None,
    ) -> ColumnElement[bool]:
        kind = aggregate_value_kind(info, aggregate)
        if operator in NULL_OPERATORS:
            return expression.is_(None) if operator is Operator.is_null else expression.is_not(None)
        if hasattr(value, "column_name"):
            return self._column_comparison(expression, info, operator, value, sources)
        if value is None:
            raise ValueProblem(
                f"operator '{operator.value}' needs a value; use 'is null' to match missing values."
            )
        if operator in LIST_OPERATORS:
            return self._membership(expression, info, operator, value, kind)
        if isinstance(value, list):
            raise ValueProblem(
                f"operator '{operator.value}' takes one value, not a list; use 'in' for a list."
            )
        if operator is Operator.contains:
            if kind != "text":
                raise ValueProblem(f"'contains' works on text; {info.qualified} is {kind}.")
            return expression.icontains(coerce(info, value, kind), autoescape=True)
        coerced = coerce(info, value, kind)
        if isinstance(coerced, DayRange):
            return DAY_COMPARISONS[operator](expression, coerced)
        return COMPARISONS[operator](expression, coerced)

    def _membership(
        self, expression: Expr, info: ColumnInfo, operator: Operator, value: Any, kind: str
    ) -> ColumnElement[bool]:
        if not isinstance(value, list) or not value:
            raise ValueProblem(f"operator '{operator.value}' needs a non-empty list of values.")
        coerced = [coerce(info, item, kind) for item in value]
        days = [c for c in coerced if isinstance(c, DayRange)]
        exact = [c for c in coerced if not isinstance(c, DayRange)]
        parts = [DAY_COMPARISONS[Operator.eq](expression, d) for d in days]
        if exact:
            parts.append(expression.in_(exact))
        matched = or_(*parts) if len(parts) > 1 else parts[0]
        return matched if operator is Operator.in_ else and_(expression.is_not(None), not_(matched))

    def _column_comparison(
        self, expression: Expr, info: ColumnInfo, operator: Operator, value: Any, sources: Sources
    ) -> ColumnElement[bool]:
        other = self._lookup(value.column_name)
        if other is None or other.table not in sources:
            name = getattr(value.column_name, "value", value.column_name)
            raise ValueProblem(
                f"cannot compare with {name}: it is not reachable here; compare "
                "columns of the base table or tables joined to it."
            )
        if operator not in COMPARISONS:
            raise ValueProblem(
                f"operator '{operator.value}' cannot compare two columns; use one "
                "of =, !=, >, >=, <, <=."
            )
        right = self._column(other, sources[other.table])
        if {info.kind, other.kind} == {"date", "datetime"}:  # compare calendar days
            expression = AsDate(expression) if info.kind == "datetime" else expression
            right = AsDate(right) if other.kind == "datetime" else right
        elif kind_family(info.kind) != kind_family(other.kind):
            raise ValueProblem(
                f"cannot compare {info.qualified} ({info.kind}) with "
                f"{other.qualified} ({other.kind})."
            )
        return COMPARISONS[operator](expression, right)

    # -- selects ----------------------------------------------------------------------------

    def _plain_select(
        self,
        fields: list[Term],
        sorts: list[Ordering],
        sources: Sources,
        from_clause: FromClause,
        where: list[ColumnElement[bool]],
    ) -> Select[Any]:
        columns = [self._row_expression(t, sources).label(t.label) for t in fields]
        order = [self._ordered(self._row_expression(t, sources), desc) for t, desc in sorts]
        return select(*columns).select_from(from_clause).where(*where).order_by(*order)

    def _row_expression(self, term: Term, sources: dict[str, FromClause]) -> ColumnElement[Any]:
        expression = self._column(term.info, sources[term.info.table])
        return DateBucket(expression, term.grain) if term.grain else expression

    @staticmethod
    def _ordered(expression: ColumnElement[Any], descending: bool) -> ColumnElement[Any]:
        return expression.desc() if descending else expression.asc()

    def _aggregate_select(
        self,
        fields: list[Term],
        sorts: list[Ordering],
        group_filters: list[Filter],
        joined: list[str],
        sources: Sources,
        from_clause: FromClause,
        where: list[ColumnElement[bool]],
    ) -> Select[Any]:
        groups = [t for t in fields if t.aggregate is None]
        measured = [t for t in fields if t.aggregate] + [t for t, _ in sorts if t.aggregate]
        measured += [Term(info, c.aggregate) for _, c, info in group_filters]
        repeated = self._repeated_tables(joined)
        sensitive = [
            t
            for t in measured
            if t.info.table in repeated and t.aggregate in REPEAT_SENSITIVE and not self._is_key(t)
        ]
        if sensitive:
            return self._deduplicated_select(
                fields,
                groups,
                measured,
                sorts,
                group_filters,
                sensitive,
                sources,
                from_clause,
                where,
            )
        resolve = lambda term: self._row_expression(term, sources)  # noqa: E731
        return self._grouped(
            fields,
            groups,
            sorts,
            group_filters,
            resolve,
            repeated,
            select_from=from_clause,
            where=where,
        )

    def _grouped(
        self,
        fields: list[Term],
        groups: list[Term],
        sorts: list[Ordering],
        group_filters: list[Filter],
        resolve: Callable[[Term], Expr],
        repeated: set[str],
        select_from: FromClause,
        where: list[ColumnElement[bool]],
    ) -> Select[Any]:
        def measure(term: Term) -> ColumnElement[Any]:
            argument = resolve(Term(term.info, None, term.grain))
            if term.aggregate is Aggregate.count and term.info.table in repeated:
                return func.count(distinct(argument))  # a key repeated by the join: count it once
            return AGGREGATES[term.aggregate].sql(argument)  # type: ignore[index]

        group_exprs = {(t.info.qualified, t.grain): resolve(t) for t in groups}
        columns = [
            (measure(t) if t.aggregate else group_exprs[(t.info.qualified, t.grain)]).label(t.label)
            for t in fields
        ]
        order = self._group_order(sorts, group_exprs, measure)
        having = self._having(group_filters, measure)
        statement = select(*columns).select_from(select_from).where(*where)
        return statement.group_by(*group_exprs.values()).having(*having).order_by(*order)

    def _group_order(
        self,
        sorts: list[Ordering],
        group_exprs: dict[tuple[str, TimeGrain | None], Expr],
        measure: Callable[[Term], Expr],
    ) -> list[Expr]:
        """ORDER BY for a grouped query: by an aggregate, or by one of the grouped columns."""
        order = []
        for index, (term, descending) in enumerate(sorts):
            if term.aggregate:
                order.append(self._ordered(measure(term), descending))
                continue
            match = next((e for (q, _), e in group_exprs.items() if q == term.info.qualified), None)
            if match is None:
                self.problems.add(
                    f"order_by[{index}]",
                    f"{term.info.qualified} is neither grouped "
                    "nor aggregated; add it to columns or give it an aggregate.",
                )
                continue
            order.append(self._ordered(match, descending))
        return order

    def _having(
        self, group_filters: list[Filter], measure: Callable[[Term], Expr]
    ) -> list[ColumnElement[bool]]:
        having = []
        for index, condition, info in group_filters:
            aggregate = condition.aggregate
            try:
                test = self._test(
                    measure(Term(info, aggregate)),
                    info,
                    condition.operator,
                    condition.value,
                    {},
                    aggregate,
                )
            except ValueProblem as problem:
                self.problems.add(f"conditions[{index}]", str(problem))
                continue
            having.append(test)
        return having

    def _deduplicated_select(
        self,
        fields: list[Term],
        groups: list[Term],
        measured: list[Term],
        sorts: list[Ordering],
        group_filters: list[Filter],
        sensitive: list[Term],
        sources: Sources,
        from_clause: FromClause,
        where: list[ColumnElement[bool]],
    ) -> Select[Any]:
        """Aggregate over distinct rows of the measured table, so a join cannot repeat them."""
        owners = {t.info.table for t in measured}
        if len(owners) > 1:
            first = sensitive[0]
            self.problems.add(
                "columns",
                (
                    f"{first.label} would count each {first.info.table} row once per matching "
                    f"row of the joined tables. Aggregate columns of one table per query, or make "
                    f"{first.info.table} the base table."
                ),
            )
            return select(true())
        owner = owners.pop()
        inner_columns = [
            sources[owner].c[key].label(f"row_key{index or ''}")
            for index, key in enumerate(self.catalog.primary_key(owner))
        ]
        names: dict[tuple[str, TimeGrain | None], str] = {}
        for term in groups + [Term(t.info, None, t.grain) for t in measured]:
            slot = (term.info.qualified, term.grain)
            if slot not in names:
                names[slot] = f"v{len(names)}"
                inner_columns.append(self._row_expression(term, sources).label(names[slot]))
        inner = select(*inner_columns).distinct().select_from(from_clause).where(*where).subquery()
        resolve = lambda term: inner.c[names[(term.info.qualified, term.grain)]]  # noqa: E731
        return self._grouped(
            fields, groups, sorts, group_filters, resolve, set(), select_from=inner, where=[]
        )

    def _repeated_tables(self, joined: list[str]) -> set[str]:
        """Joined tables whose rows the join repeats: another joined table is on their many side."""
        repeated = set()
        for name in joined:
            reach = self.catalog.reach(name)
            for other in joined:
                candidates = reach.ties.get(other) or (reach.paths.get(other, ()),)
                if other != name and any(e.to_many for path in candidates for e in path):
                    repeated.add(name)
        return repeated

    def _column(self, info: ColumnInfo, source: FromClause) -> ColumnElement[Any]:
        return column_expression(self.catalog, info, source)

    @staticmethod
    def _is_key(term: Term) -> bool:
        return term.aggregate is Aggregate.count and term.info.key


def is_absence_marker(item: Filter) -> bool:
    """`<table>.id is null` on a table that is not joined: "with no such related row"."""
    _, condition, info = item
    return info.key and condition.operator is Operator.is_null


def column_expression(catalog: Catalog, info: ColumnInfo, source: FromClause) -> Expr:
    if info.computed:
        return catalog.computed_column(info.table, info.name).expression(source)  # type: ignore[no-any-return]
    return source.c[info.name]


class ScopeRefused(Exception):
    """A table the tenant scope cannot cover: it is not shared and does not reach the key."""

    def __init__(self, catalog: Catalog, name: str) -> None:
        tenant = catalog.tenant
        assert tenant is not None
        super().__init__(
            f"{name} cannot be limited to one customer: none of its joins reach the tenant key "
            f"{tenant.qualified}. Ask without a customer scope, or mark {name} as shared in "
            "the config ([tenant] shared) if every customer may see all of it."
        )
        table = catalog.tables[name]
        self.empty = select(table).where(false()).subquery(name)  # never run: the query fails


def scoped_source(catalog: Catalog, name: str, customer_id: int | None) -> FromClause:
    """A table, or only the rows one customer may see, under the table's own name.

    A row is the customer's when its join path to the tenant key's table ends at their key;
    shared tables stay whole; any other table raises ScopeRefused.
    """
    table = catalog.tables[name]
    tenant = catalog.tenant
    if customer_id is None or tenant is None or name in tenant.shared:
        return table
    path = catalog.scope_path(name)
    if path is None:
        raise ScopeRefused(catalog, name)
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


def kind_family(kind: str) -> str:
    """Kinds whose values compare with each other: numbers, calendar values, text."""
    return {"integer": "number", "datetime": "date"}.get(kind, kind)


def aggregate_value_kind(info: ColumnInfo, aggregate: Aggregate | None) -> str:
    if aggregate in (Aggregate.count, Aggregate.count_distinct):
        return "integer"
    if aggregate is Aggregate.avg:
        return "number"
    return info.kind


def result_kind(term: Term) -> str:
    if term.grain:
        return "date"
    return aggregate_value_kind(term.info, term.aggregate)


def compile_query(query: Any, **options: Any) -> Compiled:
    """Shortcut: compile with the default tool."""
    return Compiler(**options).compile(query)


__all__ = [
    "Compiled",
    "Compiler",
    "compile_query",
    "DEFAULT_PAGE_SIZE",
    "HARD_ROW_CAP",
]
