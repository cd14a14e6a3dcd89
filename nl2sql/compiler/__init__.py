"""Compile a validated Query into a SQLAlchemy ``Select`` with bound parameters, in two phases.

``plan.py`` resolves the Query into a typed, frozen plan and raises once with every problem;
``build.py`` turns the plan into SQL; ``scope.py`` says where rows come from (joins along foreign
keys, each table limited to one customer's rows under a tenant scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select

from nl2sql.compiler.build import build
from nl2sql.compiler.plan import (
    MAX_LIST_VALUES,
    QUERY_LIMITS,
    Limits,
    Plan,
    plan_query,
    result_kind,
)
from nl2sql.compiler.scope import ScopeRefused, scope_condition, scoped_source
from nl2sql.query import QueryTool, builtin_tool

DEFAULT_PAGE_SIZE = 100
HARD_ROW_CAP = 1000


@dataclass
class Compiled:
    """A compiled query and what is needed to run and show it."""

    statement: Select[Any]
    labels: list[str]
    kinds: list[str]
    limit: int
    tables: set[str] = field(default_factory=set)
    customer_id: int | None = None  # the tenant it is scoped to: its session names them too


class Compiler:
    """Turns Query tool calls into scoped, capped SQLAlchemy selects."""

    def __init__(
        self,
        tool: QueryTool | None = None,
        *,
        customer_id: int | None = None,
        default_limit: int = DEFAULT_PAGE_SIZE,
        max_rows: int = HARD_ROW_CAP,
        dialect: str | None = None,
    ) -> None:
        self.tool = tool or builtin_tool()
        if customer_id is not None:
            self.tool.catalog.require_tenant()
        self.customer_id = customer_id
        self.default_limit = min(default_limit, max_rows)
        self.max_rows = max_rows
        self.dialect = dialect  # the engine's (sqlite has no percentiles); None: not known

    def plan(self, query: BaseModel | str | dict[str, Any]) -> Plan:
        """The query resolved and checked; QueryValidationError names every problem."""
        if not isinstance(query, BaseModel):
            query = self.tool.parse(query)
        limits = Limits(self.default_limit, self.max_rows, self.customer_id, self.dialect)
        return plan_query(self.tool, query, limits)

    def compile(self, query: BaseModel | str | dict[str, Any]) -> Compiled:
        plan = self.plan(query)
        return Compiled(
            statement=build(plan, self.tool.catalog),
            labels=[t.label for t in plan.fields],
            kinds=[result_kind(t) for t in plan.fields],
            limit=plan.limit,
            tables=set(plan.joined),
            customer_id=plan.customer_id,
        )


def compile_query(query: Any, **options: Any) -> Compiled:
    """Shortcut: compile with the default tool."""
    return Compiler(**options).compile(query)


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "HARD_ROW_CAP",
    "MAX_LIST_VALUES",
    "QUERY_LIMITS",
    "Compiled",
    "Compiler",
    "ScopeRefused",
    "compile_query",
    "scope_condition",
    "scoped_source",
]
