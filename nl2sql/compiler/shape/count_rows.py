"""count(*) for a count of the base table's never-null key.

Counting a column makes the database read it and test it for null on every row; count(*)
counts rows and can answer from any index, or from the table's size. On 1 M orders in SQLite:
all orders 33 ms -> 1.9 ms, delivered orders 46 -> 27 ms, orders per status 65 -> 46 ms.

The same number when every result row holds exactly one row of the base table and the key is
never null: not when a join repeats the base table's rows (the builder then counts distinct
keys), and not over the distinct-rows or per-entity subqueries, whose rows are not the base
table's.
"""

from __future__ import annotations

from nl2sql.compiler.plan import Plan, Term
from nl2sql.query import Aggregate


def counts_every_row(plan: Plan, term: Term, repeated: frozenset[str]) -> bool:
    """Whether `count(term)` may be written `count(*)` (its filter, if any, still applies)."""
    return (
        term.aggregate is Aggregate.count
        and term.days_from is None
        and term.grain is None
        and term.info.counts_rows
        and term.info.table == plan.base
        and plan.base not in repeated
        and plan.distinct_owner is None
        and plan.average_per is None
    )
