"""The one English sentence saying what a Query counted or listed (``understood``).

Rendered by nl2sql itself from the Query that ran, never by the model, from the same operator,
aggregate and grain rows the compiler reads (operators.py) and the names the schema gives its
columns (``info``). Example: "count of orders, placed 2025-11-01 to 2025-11-30, status is one of
shipped, delivered, grouped by customer country".
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from nl2sql.operators import (
    AGGREGATES,
    CHANGES,
    DATE_DIRECTIONS,
    DIRECTIONS,
    GRAINS,
    OPERATORS,
    SHARES,
    TEXT_DIRECTIONS,
)
from nl2sql.query import Aggregate, Change, ColumnInfo, Operator, QueryTool, ShareOf, TimeGrain

DATE_KINDS = frozenset({"date", "datetime"})
# Bounds on one date column that read as one range: "placed 2025-11-01 to 2025-11-30".
RANGE_OPERATORS = frozenset({Operator.eq, Operator.gt, Operator.ge, Operator.lt, Operator.le})
# Two bounds of one kind on one column, ANDed: the later start, the earlier end (ISO text).
TIGHTER = {Operator.gt: max, Operator.ge: max, Operator.lt: min, Operator.le: min}


def describe(query: dict[str, Any], tool: QueryTool, customer_id: int | None = None) -> str:
    """What the query (its tool-call arguments, validated) counts or lists, in one sentence."""
    reader = _Reader(tool, query)
    parts = [
        reader.measured(),
        *reader.conditions(),
        reader.alternatives(),
        reader.grouping(),
        reader.ordering(),
    ]
    if query.get("via"):
        parts.append("joined through " + " and ".join(reader.phrase(c) for c in query["via"]))
    if customer_id is not None:
        parts.append(f"only customer {customer_id}'s rows")
    return ", ".join(part for part in parts if part)


def describe_filters(query: dict[str, Any], tool: QueryTool) -> str:
    """Only the conditions, in the same words: "placed 2025-11-01 to 2025-11-30, status is
    shipped" (the offline model's answers say them beside the number)."""
    return ", ".join(_Reader(tool, query).conditions())


class _Reader:
    """Reads one query's parts against the tool's column names."""

    def __init__(self, tool: QueryTool, query: dict[str, Any]) -> None:
        self.tool = tool
        self.query = query
        self.base = str(query.get("table_name", ""))
        self.fields = list(query.get("columns") or [])
        self.aggregated = any(f.get("aggregate") for f in self.fields) or any(
            s.get("aggregate") for s in query.get("order_by") or []
        )

    def info(self, column: str) -> ColumnInfo | None:
        return self.tool.columns.get(column)

    def phrase(self, column: str) -> str:
        """What people call the column; on a table that several tables point at (a nation of
        customers and of suppliers), whose it is along the join: "customer nation"."""
        info = self.info(column)
        if info is None:
            return column
        owner = self._owner(info.table)
        if owner and not info.phrase.startswith(owner):
            return f"{owner} {info.phrase}"
        return info.phrase

    def _owner(self, table: str) -> str | None:
        catalog = self.tool.catalog
        if table == self.base or self.base not in catalog.edges:
            return None
        pointing = {e.target for e in catalog.edges.get(table, []) if e.to_many}
        via = tuple(
            step
            for column in self.query.get("via") or []
            for step in catalog.foreign_keys(*str(column).split(".", 1))
        )
        path = catalog.routed(self.base, via).paths.get(table, ())
        if len(pointing) < 2 or len(path) < 2 or path[-1].to_many:
            return None
        return self.tool.row_nouns(path[-1].source)[0]

    # -- what is measured or listed -------------------------------------------------------

    def measured(self) -> str:
        measures = [self.field_measure(f) for f in self.fields if f.get("aggregate")]
        if measures:
            return " and ".join(measures)
        rows = self.tool.row_nouns(self.base)[1]
        if self.aggregated or not self.fields:
            return rows
        shown = ", ".join(dict.fromkeys(self.field_name(f) for f in self.fields))
        return f"{rows} ({shown})"

    def measure(self, column: str, aggregate: str) -> str:
        rule = AGGREGATES[Aggregate(aggregate)]
        info = self.info(column)
        counts_rows = info is not None and (
            (info.key and aggregate in ("count", "count_distinct"))
            or (info.counts_rows and aggregate == "count")
        )
        if info is not None and counts_rows:
            return f"{rule.words} {self.tool.row_nouns(info.table)[1]}"
        dated = info is not None and info.kind in DATE_KINDS
        return f"{rule.date_words if dated else rule.words} {self.phrase(column)}"

    def field_measure(self, field: dict[str, Any]) -> str:
        """An aggregated field in words: its aggregate (of days between two dates), over the
        rows its filter keeps, and what is made of it (a share, a change, an average)."""
        column, aggregate = field["column"], field["aggregate"]
        start = field.get("days_from")
        if start:
            rule = AGGREGATES[Aggregate(aggregate)]
            words = "count of" if aggregate in ("count", "count_distinct") else rule.words
            text = f"{words} {self.days_between(start, column)}"
        else:
            text = self.measure(column, aggregate)
        unfiltered = text
        if field.get("filter"):
            text += " where " + " and ".join(self.condition_text(c) for c in field["filter"])
        if field.get("average_per"):
            text = f"average per {self.entity(field['average_per'])} of {text}"
        if field.get("share"):
            text = f"{text}, {SHARES[ShareOf(field['share'])].words.format(whole=unfiltered)}"
        if field.get("change"):
            words = CHANGES[Change(field["change"])].words
            text = f"{words} {text} from the previous {self.period()}"
        return text

    def days_between(self, start: str, end: str) -> str:
        return f"days from {self.moment(start)} to {self.moment(end)}"

    def moment(self, column: str) -> str:
        """A date column by what happened then ("shipped"), else by its name."""
        info = self.info(column)
        return (info.verb or info.phrase) if info is not None else column

    def entity(self, column: str) -> str:
        """What one value of a column stands for: "customer" for customers.id."""
        info = self.info(column)
        if info is not None and info.key:
            return self.tool.row_nouns(info.table)[0]
        return self.phrase(column)

    def period(self) -> str:
        grains = [f["time_grain"] for f in self.fields if f.get("time_grain")]
        return GRAINS[TimeGrain(grains[0])] if grains else "period"

    def field_name(self, field: dict[str, Any]) -> str:
        grain = field.get("time_grain")
        name = self.phrase(field["column"])
        return f"{GRAINS[TimeGrain(grain)]} of {name}" if grain else name

    # -- filters --------------------------------------------------------------------------

    def conditions(self) -> list[str]:
        ranges: dict[str, dict[Operator, Any]] = {}
        parts: list[str] = []
        for condition in _between_as_bounds(self.query.get("conditions") or [], self):
            operator = Operator(condition["operator"])
            info = self.info(condition["column"])
            if (
                info is not None
                and info.kind in DATE_KINDS
                and not condition.get("aggregate")
                and operator in RANGE_OPERATORS
                and not isinstance(condition.get("value"), dict | list)
                and not condition.get("days_from")
            ):
                bounds = ranges.setdefault(condition["column"], {})
                value = str(condition["value"])
                if operator not in bounds:
                    bounds[operator] = value
                    continue
                if operator in TIGHTER:  # ANDed bounds: the tighter one is what holds
                    bounds[operator] = TIGHTER[operator](bounds[operator], value)
                    continue
            parts.append(self.condition(condition, operator))
        dated = [self.date_range(column, bounds) for column, bounds in ranges.items()]
        return dated + parts

    def alternatives(self) -> str:
        """any_of: "either status is returned or delivered after the promised delivery date"."""
        options = [self.condition_text(c) for c in self.query.get("any_of") or []]
        return "either " + " or ".join(options) if options else ""

    def condition_text(self, condition: dict[str, Any]) -> str:
        return self.condition(condition, Operator(condition["operator"]))

    def condition(self, condition: dict[str, Any], operator: Operator) -> str:
        column, value = condition["column"], condition.get("value")
        rule = OPERATORS[operator]
        if condition.get("aggregate"):
            measure = self.measure(column, condition["aggregate"])
            if isinstance(value, dict) and value.get("aggregate"):  # "... of all groups"
                other = AGGREGATES[Aggregate(value["aggregate"])].words
                return f"with {measure} {rule.words} the {other} of all groups"
            if isinstance(value, dict):  # "with total order value over the order's price"
                return f"with {measure} {rule.words} the {self.phrase(value['column_name'])}"
            return f"with {measure} {rule.words} {self.range_or_value(column, value, condition)}"
        if condition.get("days_from"):
            subject = self.days_between(condition["days_from"], column)
            return f"{subject} {rule.words} {self.range_or_value(column, value, condition)}"
        info = self.info(column)
        if operator in (Operator.is_null, Operator.is_not_null):
            return self.presence(column, info, operator)
        dated = info is not None and info.kind in DATE_KINDS
        subject = (info.verb or info.phrase) if dated and info else self.phrase(column)
        words = rule.date_words if dated else rule.words
        if isinstance(value, dict) and value.get("aggregate"):  # "price over the average price"
            compared = self.measure(value["column_name"], value["aggregate"])
            within = f" of the same {self.phrase(value['within'])}" if value.get("within") else ""
            return f"{subject} {words} the {compared}{within}"
        if isinstance(value, dict):  # another column: "delivered after the promised delivery date"
            return f"{subject} {words} the {self.phrase(value.get('column_name', ''))}"
        return f"{subject} {words} {self.range_or_value(column, value, condition)}"

    def range_or_value(self, column: str, value: Any, condition: dict[str, Any]) -> str:
        """A value in words; 'between' as "$100.00 to $200.00"."""
        aggregate = condition.get("aggregate")
        if condition.get("days_from"):
            column, aggregate = "", "count"  # a number of days: neither money nor a date
        if condition["operator"] == "between" and isinstance(value, list) and len(value) == 2:
            low, high = (self.value(column, v, aggregate) for v in value)
            return f"{low} to {high}"
        return self.value(column, value, aggregate)

    def presence(self, column: str, info: ColumnInfo | None, operator: Operator) -> str:
        missing = operator is Operator.is_null
        if info is not None and info.key and info.table != self.base:
            one, many = self.tool.row_nouns(info.table)
            return f"with no {many}" if missing else f"with at least one {one}"
        if info is not None and info.kind in DATE_KINDS and info.verb:
            return f"not {info.verb}" if missing else info.verb
        return f"{self.phrase(column)} {OPERATORS[operator].words}"

    def date_range(self, column: str, bounds: dict[Operator, Any]) -> str:
        subject = self.moment(column)
        if Operator.eq in bounds:
            return f"{subject} on {day(bounds[Operator.eq])}"
        start = _bound(bounds, Operator.ge, Operator.gt, 1, max)  # after the 4th: from the 5th
        end = _bound(bounds, Operator.le, Operator.lt, -1)  # before the 5th: to the 4th
        if start and end:
            return f"{subject} {start} to {end}"
        if start:
            return f"{subject} since {start}"
        return f"{subject} before {_bound(bounds, Operator.lt, Operator.le, 1)}"

    def value(self, column: str, value: Any, aggregate: str | None = None) -> str:
        info = self.info(column)
        money = info is not None and info.money and aggregate not in ("count", "count_distinct")
        if isinstance(value, list):
            return ", ".join(self.value(column, item, aggregate) for item in value)
        if money and isinstance(value, int | float) and not isinstance(value, bool):
            return f"${value:,.2f}"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))  # "over 10 orders", not "over 10.0"
        return str(value)

    # -- groups and order -----------------------------------------------------------------

    def grouping(self) -> str:
        if not self.aggregated:
            return ""
        groups = [self.field_name(f) for f in self.fields if not f.get("aggregate")]
        return f"grouped by {', '.join(dict.fromkeys(groups))}" if groups else ""

    def ordering(self) -> str:
        sorts = [self.sort(s) for s in self.query.get("order_by") or []]
        limit = self.query.get("limit")
        text = f"sorted by {', then '.join(sorts)}" if sorts else ""
        per_group = self.query.get("per_group_limit")
        if per_group:
            text += f", first {per_group['limit']} per {self.phrase(per_group['column'])}"
        if limit is not None:
            text = f"{text}, {'top' if sorts else 'first'} {limit}" if text else f"first {limit}"
        return text

    def sort(self, item: dict[str, Any]) -> str:
        column, aggregate, direction = item["column"], item.get("aggregate"), item["direction"]
        if aggregate:
            match = [
                f for f in self.fields if f["column"] == column and f.get("aggregate") == aggregate
            ]
            name = self.field_measure(match[0]) if match else self.measure(column, aggregate)
        else:
            name = self.phrase(column)
        info = self.info(column)
        kind = info.kind if info is not None and aggregate in (None, "min", "max") else "number"
        words = {"date": DATE_DIRECTIONS, "datetime": DATE_DIRECTIONS, "text": TEXT_DIRECTIONS}
        return f"{name} {words.get(kind, DIRECTIONS)[direction]}"


def _between_as_bounds(conditions: list[dict[str, Any]], reader: _Reader) -> list[dict[str, Any]]:
    """'between' on a date column read as its two bounds, so it joins the date ranges."""
    found = []
    for condition in conditions:
        info = reader.info(condition["column"])
        value = condition.get("value")
        dated = info is not None and info.kind in DATE_KINDS and not condition.get("aggregate")
        if (
            condition["operator"] == "between"
            and dated
            and not condition.get("days_from")
            and isinstance(value, list)
            and len(value) == 2
        ):
            found.append({**condition, "operator": ">=", "value": value[0]})
            found.append({**condition, "operator": "<=", "value": value[1]})
        else:
            found.append(condition)
    return found


def day(value: Any) -> str:
    return str(value)[:10]


def _bound(
    bounds: dict[Operator, Any], inclusive: Operator, strict: Operator, step: int, pick: Any = min
) -> str:
    """The day one side of a range names: an inclusive bound as it is, a strict one moved by
    `step` days; with both, the one `pick` chooses (ANDed, the tighter holds)."""
    days = [day(bounds[inclusive])] if inclusive in bounds else []
    days += [_shift(bounds[strict], step)] if strict in bounds else []
    return pick(days) if days else ""


def _shift(value: Any, days: int) -> str:
    try:
        return (date.fromisoformat(day(value)) + timedelta(days=days)).isoformat()
    except ValueError:
        return str(value)
