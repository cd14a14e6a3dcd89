"""Build phase: a Plan becomes one SQLAlchemy ``Select`` with bound parameters. No error paths:
everything that could be wrong was found when the plan was made (``plan.py``).

Filters on the many side of the base table are EXISTS semi-joins, and measures over rows that a
join repeats are computed over de-duplicated rows, so counts and sums of base rows are never
inflated. Every table is its tenant-scoped source when the plan names a customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Float,
    FromClause,
    Select,
    and_,
    distinct,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from nl2sql.catalog import Catalog
from nl2sql.compiler.plan import (
    AggregateOf,
    Branch,
    Members,
    OtherColumn,
    Plan,
    Range,
    Term,
    Test,
    Value,
)
from nl2sql.compiler.scope import (
    Sources,
    column_expression,
    join_chain,
    scoped_source,
    step_link,
)
from nl2sql.compiler.shape.count_rows import counts_every_row
from nl2sql.dialects import AsDate, DateBucket, DaysBetween
from nl2sql.operators import AGGREGATES, CHANGES, COMPARISONS, DAY_COMPARISONS, SHARES, ratio
from nl2sql.query import Aggregate, ColumnInfo, Operator, ShareOf
from nl2sql.values import DayRange

Expr = ColumnElement[Any]


def build(plan: Plan, catalog: Catalog) -> Select[Any]:
    """The plan's SELECT, asking for one row more than the page (to know it was cut)."""
    return select_of(plan, catalog).limit(plan.limit + 1)


def select_of(plan: Plan, catalog: Catalog, rank_by: Term | None = None) -> Select[Any]:
    """The plan's SELECT without its page limit. `rank_by`: add each row's value of that term
    and its sort keys, which per_group_select ranks the rows by."""
    if plan.per_group is not None:
        return per_group_select(plan, catalog)
    if plan.average_per is not None:
        return averaged_select(plan, catalog)
    rows = rows_of(plan, catalog)
    if not plan.aggregated:
        return plain_select(catalog, plan, rows, rank_by)
    if plan.distinct_owner:
        return distinct_rows_select(catalog, plan, rows, rank_by)
    columns = Columns(catalog, rows.sources)
    return grouped_select(plan, columns, plan.repeated, rows.from_clause, rows.where, rank_by)


@dataclass(frozen=True)
class Rows:
    """What a select reads: the joined, scoped tables, their joins and the row conditions."""

    sources: Sources
    from_clause: FromClause
    where: list[ColumnElement[bool]]


def rows_of(plan: Plan, catalog: Catalog, alias: str = "") -> Rows:
    """The joined, scoped tables and the row conditions on them (`alias`: a second copy of
    them, for an aggregate over the same rows inside the query)."""
    sources = {
        name: _aliased(scoped_source(catalog, name, plan.customer_id), name, alias)
        for name in plan.joined
    }
    # Outer joins on to-many steps keep base rows that have no related rows (count = 0).
    from_clause = join_chain(
        sources[plan.base], plan.joined[1:], plan.paths, sources, outer_to_many=True
    )
    columns = Columns(catalog, sources)
    # The copy keeps the rows the *other* conditions keep: not a comparison with an aggregate,
    # nor an any_of group holding one (its alternatives are one condition together).
    inner = bool(alias)
    where = [
        test_sql(columns, plan, t) for t in plan.where if not (inner and _compares_aggregate(t))
    ]
    where += [branch_sql(catalog, plan, branch, sources) for branch in plan.branches]
    if plan.any_rows and not (inner and any(_compares_aggregate(t) for t in plan.any_rows)):
        alternatives = [
            test_sql(columns, plan, t)
            if isinstance(t, Test)
            else branch_sql(catalog, plan, t, sources)
            for t in plan.any_rows
        ]
        where.append(or_(*alternatives) if len(alternatives) > 1 else alternatives[0])
    return Rows(sources, from_clause, where)


def _aliased(source: FromClause, name: str, alias: str) -> FromClause:
    return source.alias(f"{name}_{alias}") if alias else source


def _compares_aggregate(test: Test | Branch) -> bool:
    return isinstance(test, Test) and isinstance(test.operand, AggregateOf)


class Columns:
    """Row values of terms in one FROM: columns of `sources`, or of a subquery (`slots`)."""

    def __init__(self, catalog: Catalog, sources: Sources, slots: Any = None) -> None:
        self.catalog = catalog
        self.sources = sources
        self.slots = slots  # slot -> column of a subquery holding the row values

    def column(self, info: ColumnInfo) -> Expr:
        if self.slots is not None:
            return self.slots[Term(info).slot]  # type: ignore[no-any-return]
        return column_expression(self.catalog, info, self.sources[info.table])

    def row_value(self, term: Term) -> Expr:
        """A term before aggregation: its column (or days since another), bucketed by grain."""
        if self.slots is not None:
            return self.slots[term.slot]  # type: ignore[no-any-return]
        expression = self.column(term.info)
        if term.days_from:
            expression = DaysBetween(self.column(term.days_from), expression)
        return DateBucket(expression, term.grain) if term.grain else expression


def ordered(expression: Expr, descending: bool) -> Expr:
    return expression.desc() if descending else expression.asc()


# -- conditions -------------------------------------------------------------------------------


def test_sql(columns: Columns, plan: Plan, test: Test) -> ColumnElement[bool]:
    """A row condition on the rows `columns` reads."""
    expression = columns.row_value(test.term)
    right = None
    if isinstance(test.operand, OtherColumn):
        right = columns.column(test.operand.info)
    elif isinstance(test.operand, AggregateOf):
        right = aggregate_of_rows(plan, columns, test.operand)
    return compare(expression, test, right)


def compare(expression: Expr, test: Test, right: Expr | None = None) -> ColumnElement[bool]:
    """`expression` against the test's operand (`right`: the other column's expression, or
    the aggregate's)."""
    operator, operand = test.operator, test.operand
    if operator is Operator.is_null:
        return expression.is_(None)
    if operator is Operator.is_not_null:
        return expression.is_not(None)
    if isinstance(operand, OtherColumn):
        assert right is not None
        if operand.calendar:  # a date against a timestamp: compare calendar days
            expression = AsDate(expression) if test.term.info.kind == "datetime" else expression
            right = AsDate(right) if operand.info.kind == "datetime" else right
        return COMPARISONS[operator](expression, right)
    if isinstance(operand, AggregateOf):
        assert right is not None
        return COMPARISONS[operator](expression, right)
    if isinstance(operand, Members):
        return membership(expression, operator, operand)
    if isinstance(operand, Range):
        low = operand.low.start if isinstance(operand.low, DayRange) else operand.low
        if isinstance(operand.high, DayRange):
            return and_(expression >= low, expression < operand.high.end)
        return and_(expression >= low, expression <= operand.high)
    assert isinstance(operand, Value)
    if operator is Operator.contains:
        return expression.icontains(operand.value, autoescape=True)
    if isinstance(operand.value, DayRange):
        return DAY_COMPARISONS[operator](expression, operand.value)
    return COMPARISONS[operator](expression, operand.value)


def membership(expression: Expr, operator: Operator, members: Members) -> ColumnElement[bool]:
    days = [v for v in members.values if isinstance(v, DayRange)]
    exact = [v for v in members.values if not isinstance(v, DayRange)]
    parts = [DAY_COMPARISONS[Operator.eq](expression, d) for d in days]
    if exact:
        parts.append(expression.in_(exact))
    matched = or_(*parts) if len(parts) > 1 else parts[0]
    return matched if operator is Operator.in_ else and_(expression.is_not(None), not_(matched))


def branch_sql(catalog: Catalog, plan: Plan, branch: Branch, outer: Sources) -> ColumnElement[bool]:
    """EXISTS (rows on the many side that meet every test of the branch), or NOT EXISTS."""
    inner: Sources = {
        name: scoped_source(catalog, name, plan.customer_id).alias(f"{name}_match")
        for name in branch.tables
    }
    edge = branch.edge
    clause = join_chain(
        inner[edge.target], branch.tables[1:], branch.paths, inner, outer_to_many=False
    )
    link = step_link(edge.reversed(), inner[edge.target], outer[edge.source])
    columns = Columns(catalog, inner)
    tests = [test_sql(columns, plan, test) for test in branch.tests]
    found = exists(select(1).select_from(clause).where(link, *tests))
    return not_(found) if branch.negated else found


def aggregate_of_rows(plan: Plan, outer: Columns, operand: AggregateOf) -> Expr:
    """The aggregate of a column over the rows the query's other row conditions keep (each of
    its table's rows once), for those with the outer row's `within` value when one is named."""
    every = rows_of(plan, outer.catalog, alias="all")
    columns = Columns(outer.catalog, every.sources)
    table = every.sources[operand.info.table]
    keys = [table.c[key] for key in outer.catalog.primary_key(operand.info.table)]
    values = [*keys, columns.column(operand.info).label("value")]
    if operand.within:
        values.append(columns.column(operand.within).label("within"))
    rows = (select(*values).distinct().select_from(every.from_clause).where(*every.where)).subquery(
        "all_rows"
    )
    statement = select(AGGREGATES[operand.aggregate].sql(rows.c.value))
    if operand.within:
        statement = statement.where(rows.c.within == outer.column(operand.within))
    return statement.scalar_subquery()


# -- selects ----------------------------------------------------------------------------------


def plain_select(
    catalog: Catalog, plan: Plan, rows: Rows, rank_by: Term | None = None
) -> Select[Any]:
    columns = Columns(catalog, rows.sources)
    selected: list[Expr] = [columns.row_value(t).label(t.label) for t in plan.fields]
    keys = [(columns.row_value(t), desc) for t, desc in plan.sorts]
    if rank_by is not None:
        selected += rank_columns(columns.row_value(rank_by), keys)
    order = [ordered(key, desc) for key, desc in keys]
    return select(*selected).select_from(rows.from_clause).where(*rows.where).order_by(*order)


def rank_columns(group: Expr, keys: list[tuple[Expr, bool]]) -> list[Expr]:
    """A row's group and its sort keys, which per_group_select ranks the rows by."""
    return [
        group.label("row_group"),
        *(key.label(f"sort_key{index}") for index, (key, _) in enumerate(keys)),
    ]


class Measures:
    """The SQL of a grouped query's aggregates, and of what is made of them."""

    def __init__(self, plan: Plan, columns: Columns, repeated: frozenset[str]) -> None:
        self.plan = plan
        self.columns = columns
        self.repeated = repeated
        self.groups = {t.slot: columns.row_value(t) for t in plan.groups}

    def aggregate(self, term: Term, *, filtered: bool = True) -> Expr:
        argument = self.columns.row_value(term.row_value)
        value: Any
        if term.aggregate is Aggregate.count and term.info.table in self.repeated:
            value = func.count(distinct(argument))  # a key repeated by the join: count it once
        elif counts_every_row(self.plan, term, self.repeated):
            value = func.count()  # count(*): the same number, without reading the key
        else:
            value = AGGREGATES[term.aggregate].sql(argument)  # type: ignore[index]
        if filtered and term.filter:
            tests = [
                compare(self.columns.row_value(t.term), t, self._right(t)) for t in term.filter
            ]
            value = value.filter(and_(*tests) if len(tests) > 1 else tests[0])
        return value  # type: ignore[no-any-return]

    def _right(self, test: Test) -> Expr | None:
        if isinstance(test.operand, OtherColumn):
            return self.columns.column(test.operand.info)
        return None

    def value(self, term: Term) -> Expr:
        """A measured field: its aggregate, as a share or a change when it asks for one."""
        measured = value = self.aggregate(term)
        if term.share is not None:
            whole = SHARES[term.share].whole(value, self.aggregate(term, filtered=False))
            value = ratio(value, whole)
        if term.change is not None:
            if term.share is ShareOf.total:
                # lag() over a share of the total would nest one window in another, which no
                # database allows; the total is the same on every row, so the previous
                # period's share is the previous aggregate over it.
                previous = ratio(self.previous(measured), whole)
            else:
                previous = self.previous(value)
            value = CHANGES[term.change].sql(value, previous)
        return value

    def previous(self, value: Expr) -> Expr:
        """`value` in the period before, within each group of the other columns."""
        return func.lag(value).over(
            partition_by=[e for (q, g, d), e in self.groups.items() if g is None] or None,
            order_by=[e for (q, g, d), e in self.groups.items() if g is not None],
        )

    def grouped(self, term: Term) -> Expr:
        return grouped_as(self.groups, term)

    def sort_key(self, term: Term) -> Expr:
        return self.aggregate(term) if term.aggregate else self.grouped(term)


def grouped_as(groups: Mapping[Any, Expr], term: Term) -> Expr:
    """A grouped column at whichever grain it is grouped by (for ORDER BY, PARTITION BY)."""
    return next(e for (q, _, _), e in groups.items() if q == term.info.qualified)


def grouped_select(
    plan: Plan,
    columns: Columns,
    repeated: frozenset[str],
    select_from: FromClause,
    where: list[ColumnElement[bool]],
    rank_by: Term | None = None,
) -> Select[Any]:
    """GROUP BY the plain fields, measuring the aggregated ones, with HAVING and ORDER BY."""
    measures = Measures(plan, columns, repeated)
    selected: list[Expr] = [
        (measures.value(t) if t.aggregate else measures.groups[t.slot]).label(t.label)
        for t in plan.fields
    ]
    keys = [(measures.sort_key(term), desc) for term, desc in plan.sorts]
    if rank_by is not None:
        selected += rank_columns(measures.grouped(rank_by), keys)
    order = [ordered(key, desc) for key, desc in keys]
    having = [having_sql(plan, measures, test) for test in plan.having]
    alternatives = [having_sql(plan, measures, test) for test in plan.any_groups]
    if alternatives:
        having.append(or_(*alternatives) if len(alternatives) > 1 else alternatives[0])
    statement = select(*selected).select_from(select_from).where(*where)
    return statement.group_by(*measures.groups.values()).having(*having).order_by(*order)


def having_sql(plan: Plan, measures: Measures, test: Test) -> ColumnElement[bool]:
    """A condition on a group's aggregate; against an aggregate of the groups' values when
    the DynamicValue asks for one ("spent more than the average customer")."""
    right = None
    if isinstance(test.operand, AggregateOf):
        right = aggregate_of_groups(plan, measures.columns.catalog, test)
    return compare(measures.aggregate(test.term), test, right)


def aggregate_of_groups(plan: Plan, catalog: Catalog, test: Test) -> Expr:
    """The aggregate, over every group the query's row conditions keep, of the group's value
    (the same aggregate of the DynamicValue's column)."""
    operand = test.operand
    assert isinstance(operand, AggregateOf)
    value = Term(operand.info, test.term.aggregate)
    each_group = replace(
        plan,
        fields=unique((*plan.groups, value)),
        sorts=(),
        having=(),
        any_groups=(),
        per_group=None,
    )
    groups = select_of(each_group, catalog).subquery("each_group")
    return select(AGGREGATES[operand.aggregate].sql(groups.c[value.label])).scalar_subquery()


def distinct_rows_select(
    catalog: Catalog, plan: Plan, rows: Rows, rank_by: Term | None = None
) -> Select[Any]:
    """Aggregate over distinct rows of the measured table, so a join cannot repeat them."""
    owner = plan.distinct_owner
    assert owner is not None
    columns = Columns(catalog, rows.sources)
    inner_columns = [
        rows.sources[owner].c[key].label(f"row_key{index or ''}")
        for index, key in enumerate(catalog.primary_key(owner))
    ]
    names: dict[Any, str] = {}
    read = [*plan.groups, *(t.row_value for t in plan.measured)]
    tests = [test for t in plan.measured for test in t.filter]
    read += [test.term.row_value for test in tests]
    read += [Term(test.operand.info) for test in tests if isinstance(test.operand, OtherColumn)]
    for term in read:
        if term.slot not in names:
            names[term.slot] = f"v{len(names)}"
            inner_columns.append(columns.row_value(term).label(names[term.slot]))
    inner = (
        select(*inner_columns).distinct().select_from(rows.from_clause).where(*rows.where)
    ).subquery()
    slots = {slot: inner.c[name] for slot, name in names.items()}
    on_inner = Columns(catalog, {}, slots)
    return grouped_select(plan, on_inner, frozenset(), inner, [], rank_by)


def averaged_select(plan: Plan, catalog: Catalog) -> Select[Any]:
    """Each measure per value of `average_per` first, then averaged over those values."""
    per = plan.average_per
    assert per is not None
    measures = [t for t in plan.fields if t.aggregate]
    inner_fields = unique((*plan.groups, Term(per), *(t.measure_only for t in measures)))
    inner_plan = replace(plan, fields=inner_fields, sorts=(), per_group=None)
    inner = select_of(inner_plan, catalog).subquery("per_value")
    groups = {t.slot: inner.c[t.label] for t in plan.groups}
    averages = {t.label: func.avg(inner.c[t.measure_only.label], type_=Float) for t in measures}
    selected = [
        (averages[t.label] if t.aggregate else groups[t.slot]).label(t.label) for t in plan.fields
    ]
    order = []
    for term, descending in plan.sorts:
        if term.aggregate:
            match = next(t for t in measures if t.measure_only == term)
            order.append(ordered(averages[match.label], descending))
        else:
            order.append(ordered(grouped_as(groups, term), descending))
    return select(*selected).select_from(inner).group_by(*groups.values()).order_by(*order)


def unique(terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """The terms, each label once (the columns of a subquery must have distinct names)."""
    first: dict[str, Term] = {}
    for term in terms:
        first.setdefault(term.label, term)
    return tuple(first.values())


def per_group_select(plan: Plan, catalog: Catalog) -> Select[Any]:
    """The first rows of each group, in the query's order: the finished rows (grouped and
    filtered), then ROW_NUMBER() within each group over them. Ranked in a layer of its own:
    DuckDB cannot bind a window beside a HAVING that holds a subquery."""
    per_group = plan.per_group
    assert per_group is not None
    # A subquery's columns need distinct names: a field asked twice is selected once inside.
    inner_plan = replace(plan, per_group=None, fields=unique(plan.fields))
    rows = select_of(inner_plan, catalog, rank_by=per_group.term).order_by(None).subquery("rows")
    keys = [(rows.c[f"sort_key{index}"], desc) for index, (_, desc) in enumerate(plan.sorts)]
    rank = func.row_number().over(
        partition_by=rows.c.row_group, order_by=[ordered(key, desc) for key, desc in keys]
    )
    ranked = select(rows, rank.label("row_rank")).subquery("ranked")
    order = [ordered(ranked.c[key.name], desc) for key, desc in keys]
    return (
        select(*(ranked.c[t.label] for t in plan.fields))
        .where(ranked.c.row_rank <= per_group.limit)
        .order_by(ranked.c.row_group, *order)
    )
