"""Plan phase: resolve a validated Query into a typed, frozen plan, or raise once with every
problem.

Everything that can be wrong with a Query is found here: names that cannot be reached, values
that do not fit their column, aggregates that a join would inflate, tables a tenant scope cannot
cover. The build phase (``build.py``) turns a plan into SQL and has no error paths.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from nl2sql.catalog import MAX_CANDIDATE_PATHS, Catalog, Edge, Path, describe_path
from nl2sql.compiler.scope import scope_refusal
from nl2sql.errors import QueryValidationError
from nl2sql.operators import COMPARISONS, PERCENTILES
from nl2sql.query import (
    LIST_OPERATORS,
    NULL_OPERATORS,
    Aggregate,
    Change,
    ColumnInfo,
    Operator,
    QueryTool,
    ShareOf,
    TimeGrain,
)
from nl2sql.values import DayRange, ValueProblem, coerce

QUERY_LIMITS = {"columns": 30, "conditions": 30, "any_of": 30, "order_by": 10, "via": 10}
MAX_LIST_VALUES = 500  # values of one 'in' / 'not in' list

# Aggregates whose value changes when a join repeats rows.
REPEAT_SENSITIVE = frozenset({Aggregate.count, Aggregate.sum, Aggregate.avg}) | PERCENTILES
NUMERIC_ONLY = frozenset({Aggregate.sum, Aggregate.avg}) | PERCENTILES
DATE_KINDS = frozenset({"date", "datetime"})
NO_PERCENTILES = frozenset({"sqlite"})  # dialects without percentile_cont


# -- plan nodes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A column as the query uses it: maybe the days since another date, bucketed by a time
    grain, aggregated (over the rows its filter keeps), and what is made of that aggregate: a
    share, a change from the previous period, an average of per-entity values."""

    info: ColumnInfo
    aggregate: Aggregate | None = None
    grain: TimeGrain | None = None
    days_from: ColumnInfo | None = None
    filter: tuple[Test, ...] = ()
    share: ShareOf | None = None
    change: Change | None = None
    average_per: ColumnInfo | None = None

    @property
    def label(self) -> str:
        name = self.info.qualified
        if self.days_from:
            name = f"days({self.days_from.qualified}, {name})"
        if self.grain:
            name = f"{self.grain.value}({name})"
        if self.aggregate:
            only = " where " + " and ".join(t.text for t in self.filter) if self.filter else ""
            name = f"{self.aggregate.value}({name}{only})"
        if self.average_per:
            name = f"avg({name} per {self.average_per.qualified})"
        if self.share:
            name = f"share({name})" if self.share is ShareOf.group else f"share_of_total({name})"
        if self.change:
            name = f"{'' if self.change is Change.difference else 'percent_'}change({name})"
        return name

    @property
    def row_value(self) -> Term:
        """The same column before aggregation (what an aggregate is computed over)."""
        return Term(self.info, None, self.grain, self.days_from)

    @property
    def slot(self) -> tuple[str, TimeGrain | None, str | None]:
        """What identifies a row value: column, grain and the date it counts days from."""
        start = self.days_from.qualified if self.days_from else None
        return (self.info.qualified, self.grain, start)

    @property
    def measure_only(self) -> Term:
        """The aggregate itself, without what is made of it (share, change, average)."""
        return Term(self.info, self.aggregate, self.grain, self.days_from, self.filter)

    @property
    def value_kind(self) -> str:
        """The kind of the term's values before a share or change is made of them: the
        column's (a number of days with days_from), as its aggregate leaves it."""
        return aggregate_value_kind("number" if self.days_from else self.info.kind, self.aggregate)

    @property
    def counts_keys(self) -> bool:
        """count of a table's key: a join repeats it, but counting it distinctly is exact."""
        return self.aggregate is Aggregate.count and self.info.key and not self.days_from

    @property
    def columns(self) -> tuple[ColumnInfo, ...]:
        """Every column the term reads."""
        found = [self.info] + ([self.days_from] if self.days_from else [])
        for test in self.filter:
            found += test.columns
        return tuple(found)


@dataclass(frozen=True)
class Value:
    """One value, coerced to the column's type (a DayRange: a bare date on a timestamp)."""

    value: Any


@dataclass(frozen=True)
class Members:
    """The values of an 'in' / 'not in' list, coerced."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class OtherColumn:
    """Another column of a joined table (DynamicValue); `calendar`: compare calendar days."""

    info: ColumnInfo
    calendar: bool = False


@dataclass(frozen=True)
class Range:
    """The bounds of 'between', coerced; both included (a bare date: that whole day)."""

    low: Any
    high: Any


@dataclass(frozen=True)
class AggregateOf:
    """An aggregate of another column to compare with: over the rows the query's other row
    conditions keep (`within`: only those with the same value of that column), or, in a
    condition with an aggregate, over the groups' values of the same aggregate."""

    info: ColumnInfo
    aggregate: Aggregate
    within: ColumnInfo | None = None


Operand = Value | Members | Range | OtherColumn | AggregateOf | None


@dataclass(frozen=True)
class Test:
    """One condition: a term (aggregated for HAVING), an operator and what it compares with."""

    term: Term
    operator: Operator
    operand: Operand

    @property
    def text(self) -> str:
        """The condition as a short formula, for column labels."""
        operand = self.operand
        if isinstance(operand, Value):
            shown = _shown(operand.value)
        elif isinstance(operand, Members | Range):
            values = operand.values if isinstance(operand, Members) else (operand.low, operand.high)
            shown = "(" + ", ".join(_shown(v) for v in values) + ")"
        elif isinstance(operand, OtherColumn):
            shown = operand.info.qualified
        elif isinstance(operand, AggregateOf):
            shown = f"{operand.aggregate.value}({operand.info.qualified})"
        else:
            shown = ""
        return f"{self.term.label} {self.operator.value} {shown}".strip()

    @property
    def columns(self) -> tuple[ColumnInfo, ...]:
        """The columns the test reads in the rows it tests (not those of a subquery)."""
        found = list(self.term.columns)
        if isinstance(self.operand, OtherColumn):
            found.append(self.operand.info)
        if isinstance(self.operand, AggregateOf) and self.operand.within:
            found.append(self.operand.within)
        return tuple(found)


def _shown(value: Any) -> str:
    return value.start.date().isoformat() if isinstance(value, DayRange) else str(value)


@dataclass(frozen=True)
class PerGroup:
    """Keep the first `limit` rows of each value of `term`, in the query's sort order."""

    term: Term
    limit: int


@dataclass(frozen=True)
class Branch:
    """An EXISTS (NOT EXISTS when `negated`) over rows on the many side of `edge`: the tables
    it joins (nearest first, its paths from `edge.target`) and the tests they must meet."""

    edge: Edge
    tables: tuple[str, ...]
    paths: Mapping[str, Path]
    tests: tuple[Test, ...]
    negated: bool


@dataclass(frozen=True)
class Plan:
    """One Query, resolved: what to join, filter, group, measure and sort."""

    base: str
    paths: Mapping[str, Path]
    joined: tuple[str, ...]  # the base first, then nearest first
    fields: tuple[Term, ...]
    sorts: tuple[tuple[Term, bool], ...]  # (term, descending)
    where: tuple[Test, ...]  # on joined tables
    branches: tuple[Branch, ...]  # on the many side of the base
    having: tuple[Test, ...]
    any_rows: tuple[Test | Branch, ...]  # at least one holds (any_of, row conditions)
    any_groups: tuple[Test, ...]  # at least one holds (any_of, conditions with an aggregate)
    per_group: PerGroup | None
    aggregated: bool
    repeated: frozenset[str]  # joined tables whose rows the joins repeat
    distinct_owner: str | None  # measure over distinct rows of this table (a join repeats them)
    limit: int
    customer_id: int | None

    @property
    def groups(self) -> tuple[Term, ...]:
        return tuple(t for t in self.fields if t.aggregate is None)

    @property
    def measured(self) -> tuple[Term, ...]:
        """Every aggregate the query computes: in columns, in order_by and in HAVING."""
        return (
            tuple(t for t in self.fields if t.aggregate)
            + tuple(t for t, _ in self.sorts if t.aggregate)
            + tuple(test.term for test in self.having + self.any_groups)
        )

    @property
    def average_per(self) -> ColumnInfo | None:
        """The column whose per-value aggregates the query averages (one per query)."""
        return next((t.average_per for t in self.fields if t.average_per), None)


@dataclass(frozen=True)
class Limits:
    """The compiler's page size and hard cap, the tenant it scopes to, the SQL dialect."""

    default_limit: int
    max_rows: int
    customer_id: int | None
    dialect: str | None = None  # None: not known yet; every construct is allowed


# -- planning ---------------------------------------------------------------------------------


class Problems:
    """Collects every problem in a Query so the model can fix them all in one retry."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, where: str, message: str) -> None:
        self.items.append({"field": where, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            raise QueryValidationError.from_problems(self.items)


# A condition as read from the Query: (position, the Condition, its column, "conditions" or
# "any_of").
Filter = tuple[int, Any, ColumnInfo, str]


def plan_query(tool: QueryTool, query: Any, limits: Limits) -> Plan:
    """Resolve a validated Query into a Plan; QueryValidationError names every problem."""
    return _Planner(tool, query, limits).plan()


class _Planner:
    """The state of planning one Query: its base, its join paths and the problems found."""

    def __init__(self, tool: QueryTool, query: Any, limits: Limits) -> None:
        self.tool = tool
        self.query = query
        self.limits = limits
        self.catalog: Catalog = tool.catalog
        self.base: str = query.table_name.value
        self.problems = Problems()
        self._check_sizes()
        reach = self.catalog.routed(self.base, self._via())
        self.paths = reach.paths
        self.ties = reach.ties

    def plan(self) -> Plan:
        conditions = self._read_conditions(self.query.conditions, "conditions")
        alternatives = self._read_conditions(self.query.any_of, "any_of")
        row_filters = [f for f in conditions if not f[1].aggregate]
        group_filters = [f for f in conditions if f[1].aggregate]
        any_rows = [f for f in alternatives if not f[1].aggregate]
        any_groups = [f for f in alternatives if f[1].aggregate]
        if any_rows and any_groups:
            self.problems.add(
                "any_of",
                "mixes conditions with and without an aggregate; either can be ORed, not both "
                "in one any_of.",
            )
        # Fields and sorts first: the tables they join decide where conditions are tested.
        draft_fields = self._draft_fields()
        sorts = self._sorts()
        per_group_column = self._per_group_column()
        joined = self._joined_tables(
            draft_fields, sorts, row_filters + any_rows, group_filters + any_groups,
            per_group_column,
        )  # fmt: skip
        visible = set(joined)
        finished = [self._finish_field(index, item, visible) for index, item in draft_fields]
        fields = [f for f in finished if f is not None] or self._all_columns()
        direct, branches = self._place(row_filters, joined)
        where = [self._test(f, visible) for f in direct]
        having = [self._test(f, set(), aggregate=f[1].aggregate) for f in group_filters]
        any_row_tests = self._alternatives(any_rows, joined)
        any_group_tests = [self._test(f, set(), aggregate=f[1].aggregate) for f in any_groups]
        self._check_scope(joined, branches + [b for b in any_row_tests if isinstance(b, Branch)])
        aggregated = (
            any(t.aggregate for t in fields)
            or any(t.aggregate for t, _ in sorts)
            or bool(group_filters or any_groups)
        )
        plan = Plan(
            base=self.base,
            paths=self.paths,
            joined=tuple(joined),
            fields=tuple(fields),
            sorts=tuple(sorts),
            where=_present(where),
            branches=tuple(branches),
            having=_present(having),
            any_rows=tuple(t for t in any_row_tests if t is not None),
            any_groups=_present(any_group_tests),
            per_group=None,
            aggregated=aggregated,
            repeated=frozenset(self._repeated_tables(joined)),
            distinct_owner=None,
            limit=self._limit(),
            customer_id=self.limits.customer_id,
        )
        if per_group_column is not None:
            plan = replace(plan, per_group=self._per_group(plan, per_group_column))
        if aggregated:
            self._check_group_order(plan)
            self._check_measures(plan)
            plan = self._with_distinct_owner(plan)
        self.problems.raise_if_any()
        return plan

    # -- reading the query ------------------------------------------------------------------

    def _check_sizes(self) -> None:
        """Bounds on what one Query may ask: each a clear problem, never a huge statement."""
        filters = [(f"columns[{i}].filter", f.filter) for i, f in enumerate(self.query.columns)]
        sized = [
            (part, getattr(self.query, part) or [], most) for part, most in QUERY_LIMITS.items()
        ]
        sized += [(where, items, QUERY_LIMITS["conditions"]) for where, items in filters]
        for where, items, most in sized:
            if len(items) > most:
                self.problems.add(where, f"has {len(items)} items; at most {most} are allowed.")
        tested = [("conditions", self.query.conditions), ("any_of", self.query.any_of), *filters]
        for part, conditions in tested:
            for index, condition in enumerate(conditions):
                if isinstance(condition.value, list) and len(condition.value) > MAX_LIST_VALUES:
                    self.problems.add(
                        f"{part}[{index}].value",
                        f"lists {len(condition.value)} values; at most {MAX_LIST_VALUES} are "
                        "allowed.",
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
        return self.tool.columns.get(getattr(column, "value", column))

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

    def _days_from(self, item: Any, info: ColumnInfo, where: str) -> ColumnInfo | None:
        """The date a term counts days from (`days_from`), checked: two dates, one table path."""
        name = getattr(item, "days_from", None)
        if name is None:
            return None
        start = self._info(name, f"{where}.days_from")
        if start is None:
            return None
        if info.kind not in DATE_KINDS or start.kind not in DATE_KINDS:
            odd = info if info.kind not in DATE_KINDS else start
            self.problems.add(
                f"{where}.days_from",
                f"days_from counts days between two dates; {odd.qualified} is {odd.kind}.",
            )
            return None
        return start

    def _term(self, item: Any, where: str, grain: Any = None) -> Term | None:
        info = self._info(item.column, where)
        if info is None:
            return None
        days_from = self._days_from(item, info, where)
        kind = "number" if days_from else info.kind
        aggregate = item.aggregate
        for problem in self._aggregate_problems(aggregate, info, kind):
            self.problems.add(where, problem)
        if grain is not None and kind not in DATE_KINDS:
            self.problems.add(
                where,
                f"time_grain {grain.value} needs a date or datetime "
                f"column; {info.qualified} is {kind}.",
            )
            grain = None
        if grain is not None and aggregate is not None:
            self.problems.add(
                where, "use either time_grain (to group by it) or an aggregate, not both."
            )
        return Term(info, aggregate, grain, days_from)

    def _aggregate_problems(
        self, aggregate: Aggregate | None, info: ColumnInfo, kind: str
    ) -> list[str]:
        """Why an aggregate cannot be taken of a column's values (of `kind`) here, if it cannot."""
        problems: list[str] = []
        if aggregate is None:
            return problems
        if aggregate in NUMERIC_ONLY and kind not in ("integer", "number"):
            problems.append(
                f"{aggregate.value} needs a numeric column; "
                f"{info.qualified} is {info.kind}. Use count or min/max."
            )
        if aggregate in PERCENTILES and self.limits.dialect in NO_PERCENTILES:
            problems.append(
                f"{aggregate.value} needs percentiles, which {self.limits.dialect} does not "
                "compute; ask on PostgreSQL or DuckDB, or use avg, min or max."
            )
        return problems

    def _draft_fields(self) -> list[tuple[int, Any]]:
        """The columns whose tables must be joined (checked in full once the joins are known)."""
        drafts = []
        for index, item in enumerate(self.query.columns):
            if self._info(item.column, f"columns[{index}]") is not None:
                drafts.append((index, item))
        return drafts

    def _all_columns(self) -> list[Term]:
        if self.query.columns:
            return []  # every column was refused; the problems say why
        # No columns: every column of the base table, as a list.
        return [Term(info) for info in self.tool.columns.values() if info.table == self.base]

    def _finish_field(self, index: int, item: Any, visible: set[str]) -> Term | None:
        where = f"columns[{index}]"
        term = self._term(item, where, item.time_grain)
        if term is None:
            return None
        tests = tuple(
            t
            for n, condition in enumerate(item.filter)
            if (t := self._filter_test(condition, f"{where}.filter[{n}]", term, visible))
        )
        share, change, per = item.share, item.change, item.average_per
        average_per = self._info(per, f"{where}.average_per") if per is not None else None
        finished = Term(
            term.info, term.aggregate, term.grain, term.days_from, tests, share, change, average_per
        )
        self._check_derived(finished, item, where)
        return finished

    def _filter_test(
        self, condition: Any, where: str, term: Term, visible: set[str]
    ) -> Test | None:
        info = self._info(condition.column, f"{where}.column")
        if info is None:
            return None
        if condition.aggregate:
            self.problems.add(where, "a field's filter tests rows; remove its aggregate.")
            return None
        if info.table not in visible or not self._one_per_row(term.info.table, info.table):
            self.problems.add(where, self._not_joined(info, term))
            return None
        return self._test((0, condition, info, "filter"), visible, where=where)

    def _one_per_row(self, table: str, other: str) -> bool:
        """Each row of `table` has at most one row of `other` (the same table, or to-one)."""
        path = self.catalog.reach(table).paths.get(other)
        return table == other or (path is not None and not any(e.to_many for e in path))

    def _not_joined(self, info: ColumnInfo, term: Term) -> str:
        return (
            f"{info.qualified} is not on a table each {self.tool.row_nouns(term.info.table)[0]} "
            f"row has one of; filter on columns of {term.info.table} or of tables it points to."
        )

    def _check_derived(self, term: Term, item: Any, where: str) -> None:
        """share, change and average_per each build on an aggregate."""
        needs = [n for n in ("share", "change", "average_per") if getattr(item, n, None)]
        if item.filter:
            needs.append("filter")
        if not needs:
            return
        if term.aggregate is None:
            self.problems.add(where, f"{needs[0]} needs an aggregate on this column.")
            return
        kind = term.value_kind
        made = [n for n in needs if n != "filter"]
        if made and kind not in ("integer", "number"):
            self.problems.add(
                where,
                f"{made[0]} needs a number; {term.aggregate.value} of {term.info.qualified} is "
                f"{kind}. Use count, sum or avg.",
            )
            return
        if term.share is ShareOf.group and not term.filter:
            self.problems.add(
                f"{where}.share",
                "share group divides the filtered aggregate by the unfiltered one; give a "
                "filter (e.g. status = returned), or use share total for a share of all groups.",
            )
        if term.average_per and (term.share or term.change):
            self.problems.add(where, "average_per cannot be combined with share or change.")

    def _sorts(self) -> list[tuple[Term, bool]]:
        sorts = []
        for index, item in enumerate(self.query.order_by):
            term = self._term(item, f"order_by[{index}]")
            if term is not None:
                sorts.append((term, item.direction.value == "desc"))
        return sorts

    def _read_conditions(self, conditions: list[Any], part: str) -> list[Filter]:
        found: list[Filter] = []
        for index, condition in enumerate(conditions):
            info = self._info(condition.column, f"{part}[{index}].column")
            if info is None:
                continue
            if condition.aggregate:  # HAVING: the same aggregate rules as columns and order_by
                self._term(condition, f"{part}[{index}]")
            found.append((index, condition, info, part))
        return found

    def _limit(self) -> int:
        limit = self.query.limit
        if limit is None:
            return self.limits.default_limit
        if limit < 1:
            self.problems.add("limit", f"must be a positive whole number or null, not {limit}.")
            return self.limits.default_limit
        return min(limit, self.limits.max_rows)

    def _per_group_column(self) -> ColumnInfo | None:
        per_group = self.query.per_group_limit
        if per_group is None:
            return None
        if per_group.limit < 1:
            self.problems.add(
                "per_group_limit.limit", f"must be a positive whole number, not {per_group.limit}."
            )
        if not self.query.order_by:
            self.problems.add(
                "per_group_limit",
                "needs order_by to say which rows of each group come first (e.g. price asc).",
            )
        return self._info(per_group.column, "per_group_limit.column")

    def _per_group(self, plan: Plan, info: ColumnInfo) -> PerGroup | None:
        limit = min(max(self.query.per_group_limit.limit, 1), self.limits.max_rows)
        if plan.aggregated:
            grouped = [t for t in plan.groups if t.info.qualified == info.qualified]
            if not grouped:
                self.problems.add(
                    "per_group_limit.column",
                    f"{info.qualified} is not one of the grouped columns; add it to columns.",
                )
                return None
            return PerGroup(grouped[0], limit)
        return PerGroup(Term(info), limit)

    # -- tables and joins -------------------------------------------------------------------

    def _many_side(self, table: str) -> bool:
        return any(edge.to_many for edge in self.paths[table])

    def _joined_tables(
        self,
        fields: list[tuple[int, Any]],
        sorts: list[tuple[Term, bool]],
        row_filters: list[Filter],
        group_filters: list[Filter],
        per_group_column: ColumnInfo | None,
    ) -> list[str]:
        needed = {t.info.table for t, _ in sorts} | {info.table for _, _, info, _ in group_filters}
        for _, item in fields:
            for name in self._field_columns(item):
                info = self._lookup(name)
                if info is not None and info.table in self.paths:
                    needed.add(info.table)
        if per_group_column is not None:
            needed.add(per_group_column.table)
        for _, condition, info, _ in row_filters:
            if not self._many_side(info.table):
                needed.add(info.table)
            else:
                # A filter on the many side is an EXISTS from the last to-one table before the
                # first to-many step (supplier -> nation -> customers): that table is joined.
                path = self.paths[info.table]
                prefix = list(itertools.takewhile(lambda e: not e.to_many, path))
                if prefix:
                    needed.add(prefix[-1].target)
            # Another column it is compared with, or counts days from, on a to-one table.
            for name in (
                getattr(condition.value, "column_name", None),
                getattr(condition.value, "within", None),
                condition.days_from,
            ):
                other = self._lookup(name)
                if other is None or other.table not in self.paths:
                    continue  # reported when the comparison is resolved
                if not self._many_side(info.table) and not self._many_side(other.table):
                    needed.add(other.table)
        tables: set[str] = {self.base}
        for name in needed:
            tables.update(edge.target for edge in self.paths[name])
        # A condition tested in WHERE (its table joined anyway) brings along the tables its
        # `within` and `days_from` read: each row has one of them, so no row is repeated.
        for _, condition, info, _ in row_filters:
            if info.table not in tables:
                continue
            for name in (getattr(condition.value, "within", None), condition.days_from):
                other = self._lookup(name)
                if other is not None and other.table in self.paths:
                    if self._one_per_row(info.table, other.table):
                        tables.update(edge.target for edge in self.paths[other.table])
        return sorted(tables, key=lambda name: (len(self.paths[name]), name))

    @staticmethod
    def _field_columns(item: Any) -> list[Any]:
        """Every column a field names: its own, its days_from, its average_per, its filter's."""
        names = [item.column, item.days_from, item.average_per]
        for condition in item.filter:
            names += [condition.column, condition.days_from]
        return [n for n in names if n is not None]

    def _place(
        self, row_filters: list[Filter], joined: list[str]
    ) -> tuple[list[Filter], list[Branch]]:
        """Row filters on joined tables stay in WHERE; the others become one EXISTS per first
        to-many step (NOT EXISTS when an absence marker says no such row may exist)."""
        direct: list[Filter] = []
        by_edge: dict[Edge, list[Filter]] = {}
        for item in row_filters:
            info = item[2]
            if info.table in joined:
                direct.append(item)
            else:
                first_many = next(e for e in self.paths[info.table] if e.to_many)
                by_edge.setdefault(first_many, []).append(item)
        branches = []
        for edge, filters in by_edge.items():
            markers = [f for f in filters if is_absence_marker(f)]
            tested = [f for f in filters if not is_absence_marker(f)] if markers else filters
            branches.append(self._branch(edge, tested, markers, negated=bool(markers)))
        return direct, branches

    def _alternatives(self, filters: list[Filter], joined: list[str]) -> list[Test | Branch | None]:
        """any_of's row conditions: each tested on its own, on a joined table or as an EXISTS."""
        found: list[Test | Branch | None] = []
        for item in filters:
            direct, branches = self._place([item], joined)
            found += [self._test(f, set(joined)) for f in direct] + list(branches)
        return found

    def _branch(
        self, edge: Edge, tested: list[Filter], markers: list[Filter], *, negated: bool
    ) -> Branch:
        """An EXISTS branch: the tables its filters (and absence markers) need, and its tests."""
        paths = self.catalog.reach(edge.target).paths
        names = {edge.target}
        for _, condition, info, _ in [*tested, *markers]:
            for column in (info, self._lookup(condition.days_from)):
                if column is None:
                    continue
                if column.table not in paths:  # only a tie from the branch start lands here
                    self.problems.add("conditions", self._unreachable(column))
                    continue
                names.update(e.target for e in paths[column.table] if e.target != edge.source)
        tables = tuple(sorted(names, key=lambda n: (len(paths[n]), n)))
        tests = [self._test(f, set(tables), inside=True) for f in tested if f[2].table in paths]
        return Branch(edge, tables, paths, _present(tests), negated)

    def _check_scope(self, joined: list[str], branches: list[Branch]) -> None:
        for name in {*joined, *(t for b in branches for t in b.tables)}:
            refusal = scope_refusal(self.catalog, name, self.limits.customer_id)
            if refusal:
                self.problems.add("table_name", refusal)

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

    # -- groups and measures ----------------------------------------------------------------

    def _check_group_order(self, plan: Plan) -> None:
        grouped = {t.info.qualified for t in plan.groups}
        for index, (term, _) in enumerate(plan.sorts):
            if term.aggregate is None and term.info.qualified not in grouped:
                self.problems.add(
                    f"order_by[{index}]",
                    f"{term.info.qualified} is neither grouped "
                    "nor aggregated; add it to columns or give it an aggregate.",
                )

    def _check_measures(self, plan: Plan) -> None:
        """What share, change and average_per need of the rest of the query."""
        for index, term in enumerate(plan.fields):
            if term.change and not any(g.grain for g in plan.groups):
                self.problems.add(
                    f"columns[{index}].change",
                    "change compares each period with the one before: group by a date column "
                    "with a time_grain (e.g. month of orders.ordered_at).",
                )
        per = plan.average_per
        if per is None:
            return
        measures = [t for t in plan.fields if t.aggregate]
        if any(t.average_per != per for t in measures):
            self.problems.add(
                "columns",
                f"every aggregate must be averaged per {per.qualified} when one is; ask for the "
                "others separately.",
            )
        if plan.having or plan.any_groups or plan.per_group:
            self.problems.add(
                "conditions",
                "average_per cannot be combined with conditions with an aggregate or with "
                "per_group_limit.",
            )
        for index, (term, _) in enumerate(plan.sorts):
            if term.aggregate and not any(t.measure_only == term for t in measures):
                self.problems.add(
                    f"order_by[{index}]",
                    "with average_per, sort by one of the averaged columns (the same column "
                    "and aggregate).",
                )

    def _with_distinct_owner(self, plan: Plan) -> Plan:
        """Measures a join would inflate are computed over distinct rows of their table; that
        needs every measure (and what its filters read) to be of one table."""
        sensitive = [
            t
            for t in plan.measured
            if t.info.table in plan.repeated
            and t.aggregate in REPEAT_SENSITIVE
            and not t.counts_keys
        ]
        if not sensitive:
            return plan
        owners = {column.table for t in plan.measured for column in t.columns}
        if len(owners) > 1:
            first = sensitive[0]
            self.problems.add(
                "columns",
                f"{first.label} would count each {first.info.table} row once per matching "
                f"row of the joined tables. Aggregate columns of one table per query, or make "
                f"{first.info.table} the base table.",
            )
            return plan
        return replace(plan, distinct_owner=owners.pop())

    # -- conditions -------------------------------------------------------------------------

    def _test(
        self,
        item: Filter,
        reachable: set[str],
        aggregate: Aggregate | None = None,
        *,
        inside: bool = False,
        where: str | None = None,
    ) -> Test | None:
        """A condition resolved against the tables it can see, or None after a problem.
        `inside`: tested in an EXISTS, where an aggregate of other rows cannot be asked."""
        index, condition, info, part = item
        where = where or f"{part}[{index}]"
        days_from = self._days_from(condition, info, where)
        if days_from is not None and days_from.table not in reachable:
            self.problems.add(f"{where}.days_from", self._not_joined(days_from, Term(info)))
            return None
        term = Term(info, aggregate, None, days_from)
        try:
            operand = self._operand(term, condition.operator, condition.value, reachable, inside)
        except ValueProblem as problem:
            self.problems.add(where, str(problem))
            return None
        return Test(term, condition.operator, operand)

    def _operand(
        self, term: Term, operator: Operator, value: Any, reachable: set[str], inside: bool
    ) -> Operand:
        info = term.info
        kind = term.value_kind
        if operator in NULL_OPERATORS:
            return None
        if hasattr(value, "column_name"):
            if value.aggregate is not None:
                return self._aggregate_of(term, operator, value, reachable, inside)
            if value.within is not None:
                raise ValueProblem("within needs an aggregate in the DynamicValue (e.g. avg).")
            if term.days_from:
                raise ValueProblem("days_from compares with a number of days, not a column.")
            return self._other_column(info, operator, value, reachable)
        if value is None:
            raise ValueProblem(
                f"operator '{operator.value}' needs a value; use 'is null' to match missing values."
            )
        if operator is Operator.between:
            if not isinstance(value, list) or len(value) != 2:
                raise ValueProblem("operator 'between' needs [low, high]: a list of two values.")
            low, high = (coerce(info, item, kind) for item in value)
            return Range(low, high)
        if operator in LIST_OPERATORS:
            if not isinstance(value, list) or not value:
                raise ValueProblem(f"operator '{operator.value}' needs a non-empty list of values.")
            return Members(tuple(coerce(info, item, kind) for item in value))
        if isinstance(value, list):
            raise ValueProblem(
                f"operator '{operator.value}' takes one value, not a list; use 'in' for a list."
            )
        if operator is Operator.contains and kind != "text":
            raise ValueProblem(f"'contains' works on text; {info.qualified} is {kind}.")
        return Value(coerce(info, value, kind))

    def _other_column(
        self, info: ColumnInfo, operator: Operator, value: Any, reachable: set[str]
    ) -> OtherColumn:
        other = self._lookup(value.column_name)
        if other is None or other.table not in reachable:
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
        calendar = {info.kind, other.kind} == {"date", "datetime"}
        if not calendar and kind_family(info.kind) != kind_family(other.kind):
            raise ValueProblem(
                f"cannot compare {info.qualified} ({info.kind}) with "
                f"{other.qualified} ({other.kind})."
            )
        return OtherColumn(other, calendar)

    def _aggregate_of(
        self, term: Term, operator: Operator, value: Any, reachable: set[str], inside: bool
    ) -> AggregateOf:
        """A DynamicValue with an aggregate: the average (or other aggregate) to compare with."""
        if inside or (not term.aggregate and term.info.table not in reachable):
            raise ValueProblem(
                "a comparison with an aggregate works on columns of the base table or tables "
                "it points to; make this column's table the base table."
            )
        if operator not in COMPARISONS:
            raise ValueProblem(
                f"operator '{operator.value}' cannot compare with an aggregate; use one of "
                "=, !=, >, >=, <, <=."
            )
        other = self._lookup(value.column_name)
        aggregate: Aggregate = value.aggregate
        if other is None or other.table not in self.paths:
            raise ValueProblem(f"{value.column_name} cannot be reached from {self.base}.")
        for problem in self._aggregate_problems(aggregate, other, other.kind):
            raise ValueProblem(problem)
        within = self._within(term, other, value, reachable)
        kind = aggregate_value_kind(other.kind, aggregate)
        if kind_family(kind) != kind_family(term.value_kind):
            raise ValueProblem(
                f"cannot compare {term.info.qualified} with {aggregate.value} of "
                f"{other.qualified} ({kind})."
            )
        return AggregateOf(other, aggregate, within)

    def _within(
        self, term: Term, other: ColumnInfo, value: Any, reachable: set[str]
    ) -> ColumnInfo | None:
        name = value.within
        if name is None:
            return None
        within = self._lookup(name)
        if term.aggregate:
            raise ValueProblem(
                "within compares rows with others like them; a condition with an aggregate "
                "compares groups with all groups: drop within."
            )
        if (
            within is None
            or within.table not in self.paths
            or not self._one_per_row(other.table, within.table)
            or not self._one_per_row(term.info.table, within.table)
            or within.table not in reachable
        ):
            raise ValueProblem(
                f"within must be a column of {other.table} or of a table each {other.table} "
                f"row has one of (e.g. {other.table}'s own category)."
            )
        return within


def _present(tests: list[Any]) -> tuple[Any, ...]:
    return tuple(t for t in tests if t is not None)


def is_absence_marker(item: Filter) -> bool:
    """`<table>.id is null` on a table that is not joined: "with no such related row"."""
    _, condition, info, _ = item
    return info.key and condition.operator is Operator.is_null


def kind_family(kind: str) -> str:
    """Kinds whose values compare with each other: numbers, calendar values, text."""
    return {"integer": "number", "datetime": "date"}.get(kind, kind)


def aggregate_value_kind(kind: str, aggregate: Aggregate | None) -> str:
    """What an aggregate of values of `kind` is: counts are whole numbers; averages and
    percentiles (interpolated: the median of 1 and 2 is 1.5) are numbers; the rest keep it."""
    if aggregate in (Aggregate.count, Aggregate.count_distinct):
        return "integer"
    if aggregate is Aggregate.avg or aggregate in PERCENTILES:
        return "number"
    return kind


def result_kind(term: Term) -> str:
    if term.share or term.change is Change.percent:
        return "fraction"
    if term.average_per:
        return "number"
    if term.grain:
        return "date"
    return term.value_kind
