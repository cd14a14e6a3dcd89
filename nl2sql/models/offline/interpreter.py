"""What a parsed question asks for: the entity, filters, groups, measure, ranking -> a Query."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from nl2sql.models.offline.asked import asked_column
from nl2sql.models.offline.clauses import (
    ENTITY_GROUP,
    LATE,
    LIST_COLUMNS,
    ON_TIME,
    cond,
    date_conditions,
    empty_query,
    field_,
    one_or_many,
    previous_date_column,
    sort,
    with_asked_column,
)
from nl2sql.models.offline.lexicon import (
    AGENT_VERBS,
    ATTRIBUTE_WORDS,
    AVG_WORDS,
    COUNT_WORDS,
    DATE_VERBS,
    EARLIEST,
    ENTITY_WORDS,
    EXISTENCE,
    EXTREMES,
    GRAIN_WORDS,
    GROUP_LEADS,
    GROUP_SKIP,
    INDEFINITE_PEOPLE,
    LEAST,
    LIST_WORDS,
    MONEY_VERBS,
    MONEY_WORDS,
    MOST,
    NEVER,
    PERIOD_ADVERBS,
    PRICE_DOWN,
    PRICE_UP,
    RECENT,
    SELLING,
    SELLING_WORDS,
    SORT_WORDS,
    SORTING_BEFORE,
    TALLY,
    TOTAL_VALUE,
    UNIT_WORDS,
    UNITS_SOLD,
    YES_NO_START,
    negated,
)
from nl2sql.models.offline.passes import Parsed
from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__CREATED_AT,
    CUSTOMERS__ID,
    ORDER_ITEMS__ID,
    ORDER_ITEMS__LINE_TOTAL,
    ORDER_ITEMS__QUANTITY,
    ORDER_ITEMS__UNIT_PRICE,
    ORDERS__CANCELED_AT,
    ORDERS__DELIVERED_AT,
    ORDERS__EXPECTED_DELIVERY_DATE,
    ORDERS__ID,
    ORDERS__ORDERED_AT,
    ORDERS__SHIPPED_AT,
    ORDERS__STATUS,
    ORDERS__TOTAL_AMOUNT,
    PRODUCTS__CATEGORY,
    PRODUCTS__PRICE,
)
from nl2sql.models.offline.statuses import DESTINATION_VERBS, NOT_DELIVERED_YET, STATUS_VERBS
from nl2sql.operators import OPERATORS
from nl2sql.query import Operator


@dataclass
class Context:
    today: date
    scoped: bool = False
    previous: dict[str, Any] | None = None  # the previous Query tool call, for follow-ups


class Interpreter:
    """Turns a Parsed question into a Query dict."""

    def __init__(self, parsed: Parsed, context: Context) -> None:
        self.p = parsed
        self.ctx = context
        self.words = parsed.words
        self.text = " ".join(parsed.words)
        self.thresholds_used: set[int] = set()

    # .. small readers ............................................................................

    def has(self, *words: str) -> bool:
        return any(w in self.words for w in words)

    def find(self, pattern: str) -> re.Match[str] | None:
        return re.search(pattern, self.text)

    def entities(self) -> list[tuple[int, str]]:
        """Entity nouns (orders/customers/products) in order of appearance."""
        out = []
        for index, word in enumerate(self.words):
            entity = ENTITY_WORDS.get(word)
            if word == "latedelivered":
                entity = "orders"  # "late deliveries" are orders
            if entity == "customers" and word == "who" and index > 0:
                continue  # "customers who ..." : a relative pronoun, not a subject
            if entity == "orders" and word in ("delivery",) and self.p.late:
                continue
            if entity:
                out.append((index, entity))
        named = [item for item in out if self.words[item[0]] not in INDEFINITE_PEOPLE]
        return named or out or self._priced_category()

    def _priced_category(self) -> list[tuple[int, str]]:
        """'the three cheapest toys', 'most expensive electronics', 'top 5 toys': a category
        priced or ranked stands for its products."""
        at = [i for i, column in self.p.value_at.items() if column == PRODUCTS__CATEGORY]
        if not at:
            return []
        ranked = min(at) > 0 and (
            self.words[min(at) - 1] in ("top", "bottom") or self.words[min(at) - 1].isdigit()
        )
        if not (self.has(*PRICE_UP, *PRICE_DOWN) or ranked):
            return []
        return [(min(at), "products")]

    def verb_column(self, index: int | None) -> str | None:
        """The date column named by the nearest verb before position `index` (else after)."""
        found = self._date_verb(index)
        return found[0] if found else None

    def dating_verbs(self) -> set[int]:
        """Where the verbs are that date the question's periods ("shipped in May"): they name
        a date column, so they are not also read as a status."""
        found = (self._date_verb(index) for _, index in self.p.dates)
        return {verb for _, verb in (f for f in found if f is not None)}

    def _date_verb(self, index: int | None) -> tuple[str, int] | None:
        """(date column, word index) of the verb `verb_column` reads; no side effects."""
        if index is None:
            candidates = list(range(len(self.words)))
        else:
            candidates = list(range(index - 1, -1, -1))
            candidates += [
                i for i in range(index + 1, len(self.words)) if self.words[i] != "latedelivered"
            ]
        for i in candidates:
            word = self.words[i]
            column = DATE_VERBS.get(word)
            if column is None:
                continue
            if word == "new" and (i + 1 >= len(self.words) or self.words[i + 1] != "customer"):
                continue
            if word in ("sale", "sales", "revenue", "spent", "spend", "spending") and index is None:
                continue
            if word in ("delivery", "arrival") and self._next(i) in ("date", "day", "time"):
                continue  # "the delivery date": a column, not a verb
            if self._object_noun(i):
                continue  # "cancel an order this year": the verb dates it, not the noun
            return column, i
        return None

    def _object_noun(self, index: int) -> bool:
        """'order' as the object of another date verb: "cancel an order", "shipped my orders"."""
        if self.words[index] not in ("order", "purchase") or index < 2:
            return False
        verb = self.words[index - 2]
        return (
            self.words[index - 1] in OBJECT_DETERMINERS
            and verb in DATE_VERBS
            and (verb not in ("order", "purchase", "orders"))
        )

    # .. main .....................................................................................

    def query(self) -> dict[str, Any]:
        entity = self.entity()
        conditions = self.filters(entity) + self._still_to_come(entity)
        if self._asks_if_named_rows_late(conditions):  # "is order 2254 late?": show its dates
            conditions = [c for c in conditions if c != LATE]
            shape = self.shape(entity, conditions)
            for column in (ORDERS__EXPECTED_DELIVERY_DATE, ORDERS__DELIVERED_AT):
                shape = with_asked_column(shape, column)
            return shape
        shape = self.shape(entity, conditions)
        return latest_event(with_asked_column(shape, asked_column(self.text)), self.text)

    def _asks_if_named_rows_late(self, conditions: list[dict[str, Any]]) -> bool:
        """A yes/no question whether named orders are late: filtering on lateness would
        answer "no rows" for an order still on its way, so the rows and their dates answer."""
        return bool(self.p.ids) and LATE in conditions and bool(YES_NO_START.search(self.p.source))

    def _still_to_come(self, entity: str) -> list[dict[str, Any]]:
        """'when is my package supposed to arrive?': only what has not arrived yet can be due
        (unless the question names the order, a status or a date)."""
        due = self.find(DUE_TO_ARRIVE) and asked_column(self.text) == EXPECTED_DATE
        if not due or entity != "orders" or self.p.ids or self.p.statuses or self.p.dates:
            return []
        return [cond(ORDERS__STATUS, "in", list(NOT_DELIVERED_YET))]

    def entity(self) -> str:
        found = self.entities()
        if self.asks_what_bought():
            return "products"
        if found:
            return found[0][1]
        for _, _, noun, _ in self.p.amounts:  # "which countries had over 100 orders"
            if noun in ENTITY_WORDS:
                return ENTITY_WORDS[noun]
        asked = asked_column(self.text)
        return asked.split(".")[0] if asked else "orders"

    def asks_what_bought(self) -> bool:
        """'what did I buy last month', 'what have we sold in 2025': the products."""
        bought = self.find(
            r"^(?:what|which) (?:did|do|have|has|does|had) (?:.* )?"
            r"(?:order|ordered|buy|bought|purchase|purchased|get|got|sell|sold)"
            r"(?= DATE| in| during| so far| recently|$)"
        )
        if not bought or self.asks_recent_orders():
            return False
        verb = len(self.text[: bought.end()].split()) - 1  # "purchase" is the verb, no noun
        return all(self.words[i] == "order" or i == verb for i, _ in self.entities())

    def asks_recent_orders(self) -> bool:
        """'what have I ordered in the past 7 days?', 'what has she ordered recently?': the
        perfect over a window running up to today checks on the orders placed; the past tense
        ('what did Olivia order in 2026?', 'what did I buy last month?') asks for the products."""
        if not self.find(r"^(?:what|which) (?:have|has) (?:\w+ ){1,3}(?:ordered|placed)\b"):
            return False
        if self.has("recently", "lately"):
            return True
        dates = self.p.dates
        return bool(dates) and all(span.end == self.ctx.today for span, _ in dates)

    def date_column(self, entity: str, index: int | None) -> str:
        column = self.verb_column(index)
        if column is None and self.ctx.previous is not None and index is not None:
            column = previous_date_column(self.ctx.previous)
        if column is None:
            column = CUSTOMERS__CREATED_AT if entity == "customers" else ORDERS__ORDERED_AT
            counts_orders = any(
                noun in ("order", "purchase", "unit", "item") for _, _, noun, _ in self.p.amounts
            )  # "customers with more than 3 orders in march": the orders are dated
            if entity == "customers" and (
                self.has("buyer", "shopper") or self.money_or_units() or counts_orders
            ):
                column = ORDERS__ORDERED_AT
        if column == ORDERS__ORDERED_AT and entity == "customers" and self.has("signed", "joined"):
            column = CUSTOMERS__CREATED_AT
        return column

    def money_or_units(self) -> bool:
        return bool(self.has(*MONEY_WORDS, *UNIT_WORDS) or self.find(r"\bhow much\b"))

    def filters(self, entity: str) -> list[dict[str, Any]]:
        out = self._overdue()
        for span, index in self.p.dates:
            out += date_conditions(self.date_column(entity, index), span)
        out += [cond(column, "=", number) for column, number in self.p.ids]
        statuses = self._status_conditions()
        if self.p.late and undelivered(statuses):  # "shipped orders past their due date"
            out.append(cond(ORDERS__EXPECTED_DELIVERY_DATE, "<", self.ctx.today.isoformat()))
        elif self.p.late:
            out.append(dict(LATE))
        if self.p.on_time:
            out.append(dict(ON_TIME))
        return out + statuses + self._value_conditions()

    def _overdue(self) -> list[dict[str, Any]]:
        if not self.has("overdue"):
            return []
        return [  # promised date passed, still not delivered (nor canceled)
            cond(ORDERS__DELIVERED_AT, "is null", None),
            cond(ORDERS__CANCELED_AT, "is null", None),
            cond(ORDERS__EXPECTED_DELIVERY_DATE, "<", self.ctx.today.isoformat()),
        ]

    def _status_conditions(self) -> list[dict[str, Any]]:
        excluded = list(self.p.excluded_statuses)
        named: list[str] = []
        for index, status in self._status_verbs():
            before = " ".join(self.words[max(0, index - 3) : index])
            (excluded if negated(before) else named).append(status)
        statuses = narrowed(list(self.p.statuses), named)
        out = []
        if statuses:
            out.append(one_or_many(ORDERS__STATUS, statuses, negated=False))
        if excluded:
            out.append(one_or_many(ORDERS__STATUS, excluded, negated=True))
        return out

    def _status_verbs(self) -> list[tuple[int, str]]:
        """(word index, status) of verbs that name a status ("shipped", "canceled")."""
        asked = asked_column(self.text)
        dating = self.dating_verbs()
        out = []
        for index, word in enumerate(self.words):
            status = STATUS_VERBS.get(word)
            if status is None or index in dating or (asked and DATE_VERBS.get(word) == asked):
                continue  # "when was it shipped" asks for shipped_at, not for status shipped
            if word in DESTINATION_VERBS and self._next(index) in ("to", "VALUE"):
                continue
            out.append((index, status))
        return out

    def _value_conditions(self) -> list[dict[str, Any]]:
        by_column: dict[tuple[str, bool], list[str]] = {}
        for column, value, is_negated in self.p.values:
            by_column.setdefault((column, is_negated), []).append(value)
        return [
            one_or_many(column, found, negated) for (column, negated), found in by_column.items()
        ]

    # .. shapes ...................................................................................

    def groups(self) -> list[dict[str, Any]]:
        """Group-by fields from 'by/per/each/every X' and 'monthly', 'daily', ..."""
        found: list[dict[str, Any]] = []
        seen: set[tuple[str, str | None]] = set()
        for columns, grain in self._breakdowns() + self._group_phrases():
            for column in columns:
                if (column, grain) not in seen:
                    seen.add((column, grain))
                    found.append(field_(column, None, grain))
        return found

    def _breakdowns(self) -> list[tuple[list[str], str | None]]:
        """'country breakdown', 'status mix', 'month distribution'."""
        out: list[tuple[list[str], str | None]] = []
        for match in re.finditer(r"\b(\w+) (?:distribution|breakdown|split|mix)\b", self.text):
            if match[1] in ATTRIBUTE_WORDS:
                out.append(([ATTRIBUTE_WORDS[match[1]]], None))
            elif match[1] in GRAIN_WORDS:
                out.append((["GRAIN"], GRAIN_WORDS[match[1]]))
        return out

    def _group_phrases(self) -> list[tuple[list[str], str | None]]:
        """'monthly', 'by country', 'per customer', 'for each category'."""
        out: list[tuple[list[str], str | None]] = []
        for index, word in enumerate(self.words):
            if word in PERIOD_ADVERBS:
                out.append((["GRAIN"], GRAIN_WORDS[word]))
            elif self._leads_group(index):
                target = self._group_target(index + 1)
                if target is not None:
                    out.append(target)
                    out.extend(self._second_group(index + 2))
        return out

    def _second_group(self, index: int) -> list[tuple[list[str], str | None]]:
        """'orders by year and status': a second group joined by "and"."""
        word = self._next(index)
        if self._next(index - 1) != "and" or not (word in ATTRIBUTE_WORDS or word in GRAIN_WORDS):
            return []
        target = self._group_target(index + 1)
        return [target] if target is not None else []

    def _leads_group(self, index: int) -> bool:
        word = self.words[index]
        if word not in GROUP_LEADS and not (
            word == "for" and self._next(index) in ("each", "both")
        ):
            return False
        return word != "by" or not (self._by_sorts(index) or self._by_agent(index))

    def _by_sorts(self, index: int) -> bool:
        """'sort them by date', 'ranked by revenue': ordering, not grouping."""
        if index > 0 and self.words[index - 1] in SORT_WORDS:
            return True
        before = " ".join(self.words[max(0, index - 3) : index])
        return bool(re.search(SORTING_BEFORE, before))

    def _by_agent(self, index: int) -> bool:
        """'placed by a customer': the agent, not a grouping ("sold by category" groups)."""
        following = self._next(index)
        if following in ATTRIBUTE_WORDS or following in GRAIN_WORDS:
            return False
        return following in ("a", "an", "me", "us") or (
            index > 0 and self.words[index - 1] in AGENT_VERBS
        )

    def _next(self, index: int) -> str:
        return self.words[index + 1] if index + 1 < len(self.words) else ""

    def _group_target(self, start: int) -> tuple[list[str], str | None] | None:
        for i in range(start, min(start + 5, len(self.words))):
            word = self.words[i]
            if word.isdigit() and i > start:  # "for each of the 2 countries"
                continue
            if (
                word == "VALUE"
                and self.p.value_at.get(i) == PRODUCTS__CATEGORY
                and (self._next(i) not in ENTITY_WORDS and self._next(i) not in ATTRIBUTE_WORDS)
            ):
                return ENTITY_GROUP["products"], None  # "each book": every product of Books
            if word in GROUP_SKIP or word == "VALUE" or word in GROUP_LEADS:
                if word == "signup" or (word == "sign" and self._next(i) == "up"):
                    self.signup_grain = True
                continue
            if word in ATTRIBUTE_WORDS:
                return [ATTRIBUTE_WORDS[word]], None
            if word in GRAIN_WORDS:
                return ["GRAIN"], GRAIN_WORDS[word]
            entity = ENTITY_WORDS.get(word)
            following = self._next(i)
            if entity and (following in ATTRIBUTE_WORDS or following in GRAIN_WORDS):
                continue  # "by customer country", "per order month"
            if entity in ENTITY_GROUP:
                return ENTITY_GROUP[entity], None
            if entity == "orders":
                continue
            return None
        return None

    signup_grain = False

    def shape(self, entity: str, conditions: list[dict[str, Any]]) -> dict[str, Any]:
        groups, grain_column = self._resolved_groups(entity)
        rank = self.rank_target()
        metric = self.metric(entity)
        query = empty_query(entity, conditions)
        threshold = self.threshold(entity)  # always read: it marks the amounts it consumes
        if self.find(NEVER) and entity in ("customers", "products") and not groups:
            return _never_query(query, entity, counted=metric == "count")
        threshold_group = self.threshold_target(entity)
        if threshold is not None and threshold_group:
            return _threshold_query(query, threshold, threshold_group)
        # "top 5 X by Y", "which X has the most Y", "which day was busiest"
        if rank is not None and groups and metric and metric.startswith(("max:", "min:")):
            rank = None  # "highest order total per country": an aggregate per group
        if rank is not None:
            return self._ranked_query(query, entity, rank, groups, grain_column, metric)
        if groups:
            return self._grouped_query(query, entity, groups, metric)
        if metric is None:
            return self._list_query(query, entity)
        compared = self.total_threshold(entity, metric)
        if compared is not None:  # "did we make over $1k yesterday?": the total, compared
            query["conditions"] = query["conditions"] + [compared]
        return self._measure_query(query, entity, metric)

    def _resolved_groups(self, entity: str) -> tuple[list[dict[str, Any]], str]:
        """The groups, a time grain put on the date column the question is about."""
        groups = self.groups()
        grain_column = self._grain_column(entity)
        for item in groups:
            if item["column"] == "GRAIN":
                item["column"] = grain_column
        return groups, grain_column

    def _ranked_query(
        self,
        query: dict[str, Any],
        entity: str,
        rank: tuple[str, str],
        groups: list[dict[str, Any]],
        grain_column: str,
        metric: str | None,
    ) -> dict[str, Any]:
        target, direction = rank
        conditions = query["conditions"]
        if target in LIST_COLUMNS and not groups and self._row_rank(target):
            return self._row_ranking(target, conditions, direction)
        group_fields = self._rank_groups(target, groups, grain_column)
        table, measure = self.measure_for_groups(metric, entity, group_fields, conditions, target)
        query["table_name"] = table
        query["columns"] = group_fields + [measure]
        query["order_by"] = [sort(measure["column"], direction, measure["aggregate"])]
        query["limit"] = self.p.limit or 1
        return query

    def _rank_groups(
        self, target: str, groups: list[dict[str, Any]], grain_column: str
    ) -> list[dict[str, Any]]:
        """What the ranked groups are: periods, customers/products, or an attribute."""
        if target == "GRAIN":
            return [g for g in groups if g["aggregate"] is None] or [
                field_(grain_column, None, self._rank_grain())
            ]
        if target in ENTITY_GROUP:
            return [field_(c) for c in ENTITY_GROUP[target]]
        if target in ATTRIBUTE_WORDS.values():
            return [field_(target)]
        return groups

    def _grouped_query(
        self, query: dict[str, Any], entity: str, groups: list[dict[str, Any]], metric: str | None
    ) -> dict[str, Any]:
        table, measure = self.measure_for_groups(metric, entity, groups, query["conditions"], None)
        query["table_name"] = table
        query["columns"] = groups + [measure]
        if any(g["time_grain"] for g in groups):
            query["order_by"] = [sort(g["column"], "asc") for g in groups if g["time_grain"]]
        query["order_by"] = self._phrase_sort(groups, measure) or query["order_by"]
        return query

    def _phrase_sort(
        self, groups: list[dict[str, Any]], measure: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        """'highest first', 'from most to least': by the measure; 'alphabetically': by the
        group's name (or the first group)."""
        order = self.p.sort_order
        if order is None:
            return []
        if order in ("oldest", "newest"):
            return self._date_sort(groups, "asc" if order == "oldest" else "desc")
        if order != "alpha":
            if measure is None:
                return []
            return [sort(measure["column"], order, measure["aggregate"])]
        named = [g for g in groups if g["column"].endswith(".name")] or [
            g for g in groups if not g["time_grain"]
        ]
        return [sort(named[0]["column"], "asc")] if named else []

    def _date_sort(self, groups: list[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
        """'oldest first': by the period of a grouped result, else by the rows' date column."""
        grains = [g for g in groups if g["time_grain"]]
        if grains:
            return [sort(g["column"], direction) for g in grains]
        if any(g["aggregate"] for g in groups) or not groups:
            return []
        table = groups[0]["column"].split(".")[0]
        column = self.verb_column(None)
        if column is None or not column.startswith(table + "."):
            column = CUSTOMERS__CREATED_AT if table == "customers" else ORDERS__ORDERED_AT
        return [sort(column, direction)] if column.startswith(table + ".") else []

    def _list_query(self, query: dict[str, Any], entity: str) -> dict[str, Any]:
        row_direction = self._row_direction(entity)
        if row_direction is not None:
            return self._row_ranking(entity, query["conditions"], row_direction)
        query["columns"] = [field_(c) for c in LIST_COLUMNS[entity]]
        sized = {"orders": ORDERS__TOTAL_AMOUNT, "products": PRODUCTS__PRICE}.get(entity)
        query["order_by"] = self._phrase_sort(query["columns"], field_(sized) if sized else None)
        if entity == "customers" and self.find(r"\b(?:ordered|bought|purchased|placed)\b"):
            _require_orders(query, unless=("orders.", "order_items.", "products."))
        if entity == "products" and self.asks_what_bought():  # only what was bought
            _require_orders(query, unless=("orders.", "order_items."))
        return query

    def _measure_query(self, query: dict[str, Any], entity: str, metric: str) -> dict[str, Any]:
        table, measure = self.measure_for_groups(metric, entity, [], query["conditions"], None)
        query["table_name"] = table
        query["columns"] = [measure]
        if (
            metric == "count"
            and entity == "customers"
            and self.has("buyer", "ordered", "bought", "purchased", "shopper")
        ):
            _require_orders(query, unless=("orders.", "products."))
        return query

    def _grain_column(self, entity: str) -> str:
        if self.signup_grain or self.has("signup", "signups", "joined", "registered"):
            return CUSTOMERS__CREATED_AT
        column = self.verb_column(len(self.words))
        if column is None:
            column = CUSTOMERS__CREATED_AT if entity == "customers" else ORDERS__ORDERED_AT
        return column

    def _rank_grain(self) -> str:
        for word in self.words:
            if word in GRAIN_WORDS:
                return GRAIN_WORDS[word]
        return "day"

    # .. what is measured .........................................................................

    def metric(self, entity: str) -> str | None:
        """count, count_distinct:<col>, money, units, avg_value, avg_unit_price, avg_price,
        max_value, min_value ... or None for a list."""
        if re.search(COUNT_WORDS, self.text):
            return self._count_metric()
        if EXISTENCE.search(self.p.source) and not self.has(*AVG_WORDS):
            return "count"  # "did any customer ... cancel an order?": how many did
        if self.has(*AVG_WORDS):
            return self._average_metric(entity)
        if self.find(SINGLE_ORDER) and (self.has(*MOST) or self.has(*LEAST)):
            # "the most I ever spent on a single order": the largest order, not a sum
            return f"{'min' if self.has(*LEAST) else 'max'}:orders.total_amount"
        if self.has("unit", "quantity"):
            return "units"
        if SELLING.search(self.text):  # "worst selling by revenue": the named measure wins
            return (
                "money" if self.find(r"\bby (?:revenue|sales|money|spend|turnover)\b") else "units"
            )
        if self.has("popular", "bestseller"):
            return "units"
        if self.has(*MONEY_WORDS) or self.find(r"\bhow much\b|\bbring in\b|\bbrought in\b"):
            return "money"
        if self.find(MONEY_VERBS):
            return "money"
        if self.find(TOTAL_VALUE) and not self.find(SHOWN_TOTAL):
            return "money"
        for aggregate, pattern in EXTREMES:
            if self.find(pattern) and self.has("price", "total", "amount", "value"):
                return f"{aggregate}:" + self._value_column(entity)
        if self.find(TALLY) and not self.has(*LIST_WORDS):
            return "count"  # "orders so far this quarter?"
        return None

    def _count_metric(self) -> str:
        t = self.text
        if re.search(
            r"\b(?:how many|number of|total) (?:unit|item|copy|copie|piece)s?\b", t
        ) or self.has("unit", "quantity"):
            return "units"
        if UNITS_SOLD.search(t) and not self.find(r"\b(?:never|not|no|nobody)\b"):
            return "units"  # "how many yoga mats were sold": units of that product
        counted = self.find(
            r"\b(?:how many|number of|count of|count the|count)"
            r"(?: the)?(?: unique| different| distinct| separate)? (\w+)"
        )
        if counted and counted[1] in ("country", "city", "category"):
            return "distinct:" + ATTRIBUTE_WORDS[counted[1]]
        return "count"

    def _average_metric(self, entity: str) -> str:
        if self.find(PRICE_PAID):
            return "avg:order_items.unit_price"
        if self.has("price", "cost") or entity == "products":
            return "avg:products.price"
        if self.has("quantity", "unit"):
            return "avg:order_items.quantity"
        return "avg:orders.total_amount"

    def _value_column(self, entity: str) -> str:
        if self.find(PRICE_PAID):  # "the lowest price anyone paid for a denim jacket"
            return ORDER_ITEMS__UNIT_PRICE
        if self.has("price") and not self.has("order"):
            return PRODUCTS__PRICE
        return ORDERS__TOTAL_AMOUNT

    def measure_for_groups(
        self,
        metric: str | None,
        entity: str,
        groups: list[dict[str, Any]],
        conditions: list[dict[str, Any]],
        target: str | None,
    ) -> tuple[str, dict[str, Any]]:
        touches_products = any(c["column"].startswith("products.") for c in groups + conditions)
        if metric is None:
            metric = "count"
        if metric == "units":
            return "order_items", field_(ORDER_ITEMS__QUANTITY, "sum")
        if metric == "money":
            if touches_products:
                return "order_items", field_(ORDER_ITEMS__LINE_TOTAL, "sum")
            return "orders", field_(ORDERS__TOTAL_AMOUNT, "sum")
        if metric.startswith("distinct:"):
            column = metric.split(":", 1)[1]
            return column.split(".")[0], field_(column, "count_distinct")
        if ":" in metric:
            aggregate, column = metric.split(":", 1)
            if column == PRODUCTS__PRICE and not touches_products:
                column = ORDERS__TOTAL_AMOUNT if entity == "orders" else column
            table = column.split(".")[0]
            if column == ORDERS__TOTAL_AMOUNT and entity == "customers":
                table = "orders"
            return table, field_(column, aggregate)
        counted = self._counted(entity, target)
        return counted, field_(f"{counted}.id", "count")

    def _counted(self, entity: str, target: str | None) -> str:
        """Which rows a count counts: the noun after 'most'/'number of', else the entity."""
        match = self.find(
            r"\b(?:most|fewest|least|number of|many|count of|more) (\w+)"
            r"|\b(\w+) count\b"
        )
        noun = match and (match[1] or match[2])
        if noun and ENTITY_WORDS.get(noun):
            return ENTITY_WORDS[noun]
        for _, found in self.entities():
            if target is None or found != target:
                return found
        return entity if entity != target else "orders"

    def threshold_target(self, entity: str) -> list[str] | None:
        """What a threshold on an aggregate filters: the first group noun ('which countries',
        'product categories', 'customers')."""
        for index, word in enumerate(self.words):
            if word in ATTRIBUTE_WORDS and word != "state":
                return [ATTRIBUTE_WORDS[word]]
            found = ENTITY_WORDS.get(word)
            if found and self._next(index) in ATTRIBUTE_WORDS:
                continue
            if found in ENTITY_GROUP:
                return ENTITY_GROUP[found]
            if found == "orders":
                return None
        return ENTITY_GROUP.get(entity)

    def threshold(self, entity: str) -> tuple[str, str, str, str, float] | None:
        """(base table, column, aggregate, operator, number) of 'at least 10 orders'."""
        for position, (op, number, noun, _) in enumerate(self.p.amounts):
            found: tuple[str, str, str] | None = None
            if noun in ("order", "purchase", "time"):
                found = ("orders", ORDERS__ID, "count")
            elif noun in ("unit", "item"):
                found = ("order_items", ORDER_ITEMS__QUANTITY, "sum")
            elif noun == "customer":
                found = ("customers", CUSTOMERS__ID, "count")
            elif (
                noun in ("dollar", None)  # "spent more than 3000": a bare number is money
                and self.has("spent", "spend", "revenue", "sale", "sold", "spending")
                and (entity != "orders" or self.has("country", "city", "category"))
            ):
                found = ("orders", ORDERS__TOTAL_AMOUNT, "sum")
                if self.has("category", "product"):
                    found = ("order_items", ORDER_ITEMS__LINE_TOTAL, "sum")
            if found is not None and self.threshold_target(entity):
                self.thresholds_used.add(position)
                return (*found, op, number)
        return None

    def total_threshold(self, entity: str, metric: str) -> dict[str, Any] | None:
        """'did we make over $1k?', 'was revenue above 5000 last month?': a yes/no question
        compares the total itself (no rows when it is not over), not each order."""
        if metric != "money" or entity != "orders" or not YES_NO_START.search(self.p.source):
            return None
        for position, (op, number, noun, _) in enumerate(self.p.amounts):
            if noun in ("dollar", None) and position not in self.thresholds_used:
                self.thresholds_used.add(position)
                return cond(
                    ORDERS__TOTAL_AMOUNT, op, int(number) if number.is_integer() else number, "sum"
                )
        return None

    def amount_conditions(self, entity: str) -> list[dict[str, Any]]:
        """Money amounts as filters on each row; a count ("more than 3 items") that no
        threshold took is refused, never read as money."""
        out = []
        for position, (op, number, noun, _) in enumerate(self.p.amounts):
            if position in self.thresholds_used:
                continue
            if noun not in ("dollar", None):
                said = f"{OPERATORS[Operator(op)].words} {number:g} {noun}s"
                raise Inexpressible(
                    f"I cannot filter single {entity.replace('_', ' ')} by a count of {noun}s "
                    f'("{said}") yet. Counts can filter customers, products, countries or '
                    'categories: try "customers with more than 3 orders".'
                )
            column = ORDERS__TOTAL_AMOUNT
            if entity == "products" or self.has("price", "cost", "priced", "expensive", "cheap"):
                column = PRODUCTS__PRICE
            value: float | int = int(number) if number.is_integer() else number
            out.append(cond(column, op, value))
        return out

    # .. ranking ..................................................................................

    def rank_target(self) -> tuple[str, str] | None:
        """(what is ranked, direction) for 'top N X', 'which X ... the most', 'busiest day'."""
        direction = self._size_direction()
        recency = self._recency_direction()
        if direction is None and recency is None:
            return None
        target = self._ranked_noun()
        if target is None:
            return None
        chosen = direction if direction is not None else recency
        assert chosen is not None
        return target, chosen

    def _size_direction(self) -> str | None:
        if self.find(r"\bleast (?:expensive|popular)\b"):
            return "asc"
        for index, word in enumerate(self.words):  # the first superlative decides
            if word == "least" and index > 0 and self.words[index - 1] == "at":
                continue  # "at least": a bound, not a ranking
            if word in LEAST or word in PRICE_DOWN:
                return "asc"
            if word in MOST or word in PRICE_UP:
                return "desc"
        return None

    def _ranked_noun(self) -> str | None:
        """The noun right after the superlative / 'which' / 'top N', else the first one."""
        words = self.words
        single = self.find(OF_SINGLE_ROW)  # "the status of my most recent order"
        if single and single[1] in ENTITY_WORDS:
            return ENTITY_WORDS[single[1]]
        match = self.find(r"\b(?:which|what|top|bottom|the|our)(?: \d+)? (\w+)")
        candidates = [match[1]] if match else []
        for word in candidates + words:
            if word in ATTRIBUTE_WORDS:
                return ATTRIBUTE_WORDS[word]
            if word in GRAIN_WORDS and word not in ("date",) and words.index(word) >= 0:
                if self.find(
                    rf"\b(?:which|what) {word}\b|\b{word} (?:was|is|had|has) "
                    r"(?:the )?(?:busiest|best|worst|biggest)|busiest \w+"
                ) or self._superlative_before(words.index(word)):
                    return "GRAIN"
                continue
            if word in INDEFINITE_PEOPLE and self.words[self.entities()[0][0]] != word:
                continue  # "the last time someone ... placed an order": the orders
            if word in ENTITY_WORDS and (word != "who" or words[0] == "who"):
                return ENTITY_WORDS[word]
        priced = self._priced_category()  # "the three cheapest toys"
        return priced[0][1] if priced else None

    def _superlative_before(self, index: int) -> bool:
        """'the worst month for sales', 'our best quarter': a superlative names the period."""
        before = self.words[index - 1] if index > 0 else ""
        return before in MOST or before in LEAST

    def _recency_direction(self) -> str | None:
        if self.has(*RECENT) or self.find(r"\bmost recent"):
            return "desc"
        if self.has(*EARLIEST):
            return "asc"
        return None

    def _row_rank(self, target: str) -> bool:
        """Rank rows of the entity itself (not groups): orders by size or date, products by
        price, customers by sign-up date."""
        if target == "orders":
            return not self.has(*MONEY_WORDS, *UNIT_WORDS)
        if target == "products":
            return bool(self.has(*PRICE_UP, *PRICE_DOWN, "price")) and not self.has(
                *MONEY_WORDS, *SELLING_WORDS
            )
        if target == "customers":
            return self._recency_direction() is not None and not self.has(
                "most", "best", "top", "biggest"
            )
        return False

    def _row_direction(self, entity: str) -> str | None:
        rank = self.rank_target()
        if rank and rank[0] == entity and self._row_rank(entity):
            return rank[1]
        return None

    def _row_ranking(
        self, entity: str, conditions: list[dict[str, Any]], direction: str
    ) -> dict[str, Any]:
        columns = list(LIST_COLUMNS[entity])
        recency = self._recency_direction()
        size_words = MOST | LEAST | PRICE_UP | PRICE_DOWN
        by_size = any(w in size_words for w in self.words if w not in ("most", "least")) or (
            self.find(r"\b(?:most|least) expensive\b")
        )
        if entity == "orders":
            if by_size and not self.find(r"\bmost recent"):
                column = ORDERS__TOTAL_AMOUNT
            else:
                column = self.verb_column(None) or ORDERS__ORDERED_AT
                if not column.startswith("orders."):
                    column = ORDERS__ORDERED_AT
                direction = recency or direction
        elif entity == "products":
            column = PRODUCTS__PRICE
        else:
            column = CUSTOMERS__CREATED_AT
            direction = recency or direction
        if column not in columns:
            columns.append(column)
        return {
            "table_name": entity,
            "columns": [field_(c) for c in columns],
            "conditions": conditions,
            "order_by": [sort(column, direction)],
            "limit": self.p.limit or 1,
        }


# Between a verb and its object noun: "cancel an order", "shipped any orders".
OBJECT_DETERMINERS = frozenset("a an any the my our their his her some".split())

# "orders ... with their totals": the total shown on each row, not summed.
SHOWN_TOTAL = r"\b(?:with|and|including|plus) (?:their|its|the|each|the order) total$"

# "<attribute> of my latest order": the attribute of one row, ranked by recency or size.
OF_SINGLE_ROW = (
    r"\bof (?:my|the|our|his|her|their|its|your) (?:very )?(?:most recent|latest|newest|last|"
    r"first|earliest|oldest|biggest|largest|smallest|most expensive|cheapest) (\w+)"
)


EVENT_DATES = (ORDERS__SHIPPED_AT, ORDERS__DELIVERED_AT, ORDERS__CANCELED_AT)


def latest_event(query: dict[str, Any], text: str) -> dict[str, Any]:
    """'when did my last order arrive?': the latest order that did arrive, not the latest order
    (which may not have): a recency ranking that asks when something happened ranks by it."""
    asked = asked_column(text)
    order = query["order_by"]
    if asked not in EVENT_DATES or not query["limit"] or len(order) != 1:
        return query
    if order[0]["column"] != ORDERS__ORDERED_AT or order[0]["aggregate"]:
        return query
    query["order_by"] = [sort(str(asked), order[0]["direction"])]
    query["conditions"] = [*query["conditions"], cond(str(asked), "is not null", None)]
    return query


# One order's worth: "on a single order", "in one purchase".
SINGLE_ORDER = r"\b(?:on|in|for) (?:a single|one single|one|a|any) (?:order|purchase)\b"

# Future tense about arriving: "is supposed to arrive", "will it arrive", "is due".
DUE_TO_ARRIVE = (
    r"\bwhere (?:is|are)\b"  # "where is my order?": on its way
    r"|\b(?:is|are) (?:it |they |my \w+ |the \w+ )?(?:expected|supposed|due|scheduled|going)\b"
    r"|\bwhen will\b|\bwhen (?:is|are) (?:\w+ ){0,3}(?:due|arriving|coming)\b"
)
EXPECTED_DATE = ORDERS__EXPECTED_DELIVERY_DATE


class Inexpressible(Exception):
    """The question is understood, but no honest Query answers it; the message says why."""


# The price a customer paid: the order line's unit price, not the list price.
PRICE_PAID = (
    r"\bunit price\b|\bprice (?:\w+ ){0,2}(?:paid|charged|sold)\b|\bpaid\b|"
    r"\b(?:charged|sold (?:it |them )?(?:at|for))\b"
)


def _never_query(query: dict[str, Any], entity: str, counted: bool) -> dict[str, Any]:
    """Customers / products with no (matching) orders: `<child>.id is null` on the unjoined child
    table, which the compiler reads as NOT EXISTS over the child rows that meet the other
    conditions on them ("no orders in 2025", "no canceled orders")."""
    child = ORDERS__ID if entity == "customers" else ORDER_ITEMS__ID
    conditions = [
        _affirmed(c) if not c["column"].startswith(entity + ".") else c for c in query["conditions"]
    ]
    query["conditions"] = conditions + [cond(child, "is null", None)]
    if counted:
        query["columns"] = [field_(f"{entity}.id", "count")]
    else:
        query["columns"] = [field_(c) for c in ENTITY_GROUP[entity]]
    return query


# The "no" of "no canceled orders" negates the related rows, not their status: inside the
# NOT EXISTS the status is affirmed.
_AFFIRMED = {"!=": "=", "not in": "in"}


def _affirmed(condition: dict[str, Any]) -> dict[str, Any]:
    return {**condition, "operator": _AFFIRMED.get(condition["operator"], condition["operator"])}


def narrowed(phrased: list[str], named: list[str]) -> list[str]:
    """Statuses from a phrase naming several ("still haven't been delivered" = pending,
    processing or shipped) and statuses named by a word: a named status inside the phrase's set
    narrows it ("shipped orders that still haven't been delivered" = shipped); else both count."""
    if len(set(phrased)) > 1 and named and set(named) <= set(phrased):
        return named
    return phrased + named


def undelivered(statuses: list[dict[str, Any]]) -> bool:
    """Whether the status conditions keep only orders not delivered yet (late = overdue)."""
    kept = [c["value"] for c in statuses if c["operator"] in ("=", "in")]
    values = [v for value in kept for v in (value if isinstance(value, list) else [value])]
    return bool(values) and set(values) <= set(NOT_DELIVERED_YET)


def _threshold_query(
    query: dict[str, Any], threshold: tuple[str, str, str, str, float], group: list[str]
) -> dict[str, Any]:
    """'countries with over 20 orders': the groups with the aggregate and a condition on it."""
    table, column, aggregate, op, number = threshold
    query["table_name"] = table
    query["columns"] = [field_(c) for c in group] + [field_(column, aggregate)]
    query["conditions"] = query["conditions"] + [cond(column, op, number, aggregate)]
    return query


def _require_orders(query: dict[str, Any], unless: tuple[str, ...]) -> None:
    """Customers 'who ordered' have an order, unless a filter on those tables implies it."""
    conditions = query["conditions"]
    if not any(c["column"].startswith(unless) for c in conditions):
        query["conditions"] = conditions + [cond(ORDERS__ID, "is not null", None)]
