"""What each operator, aggregate and time grain means: its SQL and its English, side by side.

The compiler builds SQL from these rows and ``understood`` renders the same rows in English, so
what a user is told cannot drift from what ran (datasette's filter table is the model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, cast, distinct, func, or_
from sqlalchemy.sql.elements import ColumnElement

from nl2sql.dialects import Percentile
from nl2sql.query import Aggregate, Change, Operator, ShareOf, TimeGrain
from nl2sql.values import DayRange

Expr = ColumnElement[Any]
Test = ColumnElement[bool]


@dataclass(frozen=True)
class OperatorRule:
    """One operator: its English for plain values and for calendar values, and its SQL.

    `compare` tests a column against one value; `whole_day` against a bare date on a datetime
    column, meaning that whole day [start, end). Membership, `contains` and the null tests have
    SQL of their own in the compiler and no entry here.
    """

    words: str  # "status is shipped", "order total over $100.00"
    date_words: str  # "placed after 2025-11-30"
    compare: Callable[[Expr, Any], Test] | None = None
    whole_day: Callable[[Expr, DayRange], Test] | None = None


OPERATORS: dict[Operator, OperatorRule] = {
    Operator.eq: OperatorRule(
        "is", "on", lambda x, v: x == v, lambda x, d: and_(x >= d.start, x < d.end)
    ),
    Operator.ne: OperatorRule(
        "is not", "not on", lambda x, v: x != v, lambda x, d: or_(x < d.start, x >= d.end)
    ),
    Operator.gt: OperatorRule("over", "after", lambda x, v: x > v, lambda x, d: x >= d.end),
    Operator.ge: OperatorRule(
        "at least", "on or after", lambda x, v: x >= v, lambda x, d: x >= d.start
    ),
    Operator.lt: OperatorRule("under", "before", lambda x, v: x < v, lambda x, d: x < d.start),
    Operator.le: OperatorRule(
        "at most", "on or before", lambda x, v: x <= v, lambda x, d: x < d.end
    ),
    Operator.in_: OperatorRule("is one of", "on one of"),
    Operator.not_in: OperatorRule("is not one of", "on none of"),
    Operator.contains: OperatorRule("contains", "contains"),
    Operator.is_null: OperatorRule("is missing", "not yet"),
    Operator.is_not_null: OperatorRule("is present", "already"),
    Operator.between: OperatorRule("from", "from"),  # [low, high], both included
}

COMPARISONS = {op: rule.compare for op, rule in OPERATORS.items() if rule.compare}
DAY_COMPARISONS = {op: rule.whole_day for op, rule in OPERATORS.items() if rule.whole_day}


@dataclass(frozen=True)
class AggregateRule:
    """One aggregate: its SQL and its English ("total revenue", "latest delivery date")."""

    sql: Callable[[Any], Expr]
    words: str
    date_words: str  # on a date: "earliest", not "lowest"
    percentile: float | None = None  # computed by percentile_cont: not on SQLite


def _percentile(fraction: float, words: str) -> AggregateRule:
    return AggregateRule(lambda x: Percentile(x, fraction), words, words, fraction)


AGGREGATES: dict[Aggregate, AggregateRule] = {
    Aggregate.count: AggregateRule(func.count, "count of", "count of"),
    Aggregate.count_distinct: AggregateRule(
        lambda x: func.count(distinct(x)), "number of distinct", "number of distinct"
    ),
    Aggregate.sum: AggregateRule(func.sum, "total", "total"),
    Aggregate.avg: AggregateRule(lambda x: func.avg(x, type_=Float), "average", "average"),
    Aggregate.min: AggregateRule(func.min, "lowest", "earliest"),
    Aggregate.max: AggregateRule(func.max, "highest", "latest"),
    Aggregate.median: _percentile(0.5, "median"),
    Aggregate.p25: _percentile(0.25, "25th percentile of"),
    Aggregate.p75: _percentile(0.75, "75th percentile of"),
    Aggregate.p90: _percentile(0.9, "90th percentile of"),
    Aggregate.p95: _percentile(0.95, "95th percentile of"),
    Aggregate.p99: _percentile(0.99, "99th percentile of"),
}
PERCENTILES = frozenset(a for a, rule in AGGREGATES.items() if rule.percentile is not None)


def ratio(part: Expr, whole: Expr) -> Expr:
    """part / whole as a fraction; no rows in the whole is no value, not a division error."""
    return cast(part, Float) / func.nullif(whole, 0)


@dataclass(frozen=True)
class ShareRule:
    """A share: what the measure is divided by (given the filtered and unfiltered values),
    and its English after the measure ("{whole}": the unfiltered measure in words)."""

    whole: Callable[[Expr, Expr], Expr]
    words: str


SHARES: dict[ShareOf, ShareRule] = {
    ShareOf.group: ShareRule(lambda value, unfiltered: unfiltered, "as a share of {whole}"),
    ShareOf.total: ShareRule(
        lambda value, unfiltered: func.sum(value).over(), "as a share of all groups' total"
    ),
}


@dataclass(frozen=True)
class ChangeRule:
    """A change from the previous period: its SQL from (value, previous value), its English."""

    sql: Callable[[Expr, Expr], Expr]
    words: str


CHANGES: dict[Change, ChangeRule] = {
    Change.difference: ChangeRule(lambda value, previous: value - previous, "change in"),
    Change.percent: ChangeRule(
        lambda value, previous: ratio(value - previous, previous), "relative change in"
    ),
}

# A time grain in English: "grouped by month placed". The SQL of each bucket is per dialect
# (dialects.py), so only its name lives here.
GRAINS: dict[TimeGrain, str] = {
    TimeGrain.day: "day",
    TimeGrain.week: "week",
    TimeGrain.month: "month",
    TimeGrain.quarter: "quarter",
    TimeGrain.year: "year",
}

DIRECTIONS = {"asc": "lowest first", "desc": "highest first"}
DATE_DIRECTIONS = {"asc": "oldest first", "desc": "newest first"}
TEXT_DIRECTIONS = {"asc": "A to Z", "desc": "Z to A"}
