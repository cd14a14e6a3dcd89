"""Unit tests of the offline model: dates, value matching, scope, follow-ups, answers, streaming."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from nl2sql import database
from nl2sql.agent import Agent
from nl2sql.models.offline.dates import find_dates
from nl2sql.models.offline.grammar import Context, NotUnderstood, understand
from nl2sql.models.offline.model import OfflineModel
from nl2sql.models.offline.shorthand import expand_shorthand
from nl2sql.models.offline.values import ValueIndex
from nl2sql.query import TOOL

TODAY = date(2026, 11, 28)  # a Saturday


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    path = tmp_path_factory.mktemp("offline-unit") / "orders.sqlite3"
    database.init_database(f"sqlite:///{path}")
    return f"sqlite:///{path}", path


def one_range(text: str, today: date = TODAY) -> tuple[str | None, str | None]:
    found = find_dates(text, today)
    assert len(found) == 1, found
    span = found[0].range
    return (
        span.start.isoformat() if span.start else None,
        span.end.isoformat() if span.end else None,
    )


DATE_PHRASES = [
    ("orders today", ("2026-11-28", "2026-11-28")),
    ("orders yesterday", ("2026-11-27", "2026-11-27")),
    ("this week", ("2026-11-23", "2026-11-28")),
    ("last week", ("2026-11-16", "2026-11-22")),
    ("this month", ("2026-11-01", "2026-11-28")),
    ("last month", ("2026-10-01", "2026-10-31")),
    ("this quarter", ("2026-10-01", "2026-11-28")),
    ("last quarter", ("2026-07-01", "2026-09-30")),
    ("this year", ("2026-01-01", "2026-11-28")),
    ("last year", ("2025-01-01", "2025-12-31")),
    ("in march 2025", ("2025-03-01", "2025-03-31")),
    ("in june of this year", ("2026-06-01", "2026-06-30")),
    ("in november of last year", ("2025-11-01", "2025-11-30")),
    ("in q1 2025", ("2025-01-01", "2025-03-31")),
    ("in the third quarter of 2026", ("2026-07-01", "2026-09-30")),
    ("on 2025-12-24", ("2025-12-24", "2025-12-24")),
    ("since april", ("2026-04-01", "2026-11-28")),
    ("between 2025-02-10 and 2025-02-20", ("2025-02-10", "2025-02-20")),
    ("in the past 14 days", ("2026-11-15", "2026-11-28")),
    ("older than 3 days", (None, "2026-11-24")),
    ("older than a week", (None, "2026-11-20")),
    ("in 2024", ("2024-01-01", "2024-12-31")),
    ("3 days ago", ("2026-11-25", "2026-11-25")),
    ("the day before yesterday", ("2026-11-26", "2026-11-26")),
    ("in december", ("2025-12-01", "2025-12-31")),  # a month without a year: the latest one
]


SAMPLE_VALUES = {
    "customers.country": ["Germany", "United States", "United Kingdom", "Brazil"],
    "customers.city": ["Rio de Janeiro", "Cologne", "Tokyo"],
    "customers.name": ["Ava Johnson", "Clara Martin"],
    "products.category": ["Toys", "Home & Kitchen", "Electronics"],
    "products.name": ["Mechanical Keyboard", "Yoga Mat", "Smart Watch"],
}


@pytest.mark.parametrize(
    ("words", "column", "value"),
    [
        ("mechanical keybord", "products.name", "Mechanical Keyboard"),  # typo
        ("yoga mats", "products.name", "Yoga Mat"),  # plural
        ("GERMANY", "customers.country", "Germany"),  # case
        ("german", "customers.country", "Germany"),  # demonym
        ("the usa", "customers.country", "United States"),  # "the us": see mark_countries
        ("toy", "products.category", "Toys"),  # singular
        ("home and kitchen", "products.category", "Home & Kitchen"),
        ("rio de janeiro", "customers.city", "Rio de Janeiro"),
        ("ava johnson", "customers.name", "Ava Johnson"),
        ("keyboard", "products.name", "Mechanical Keyboard"),  # a distinctive word
        ("germnay", "customers.country", "Germany"),  # two letters swapped
        ("colgone", "customers.city", "Cologne"),
    ],
)
def test_value_matching(words: str, column: str, value: str) -> None:
    from nl2sql.models.offline.values import normalize

    index = ValueIndex.build(SAMPLE_VALUES)
    found = index.find(normalize(words).split(), set())
    assert [(m.column, m.value) for m in found] == [(column, value)]


@pytest.mark.parametrize("words", ["orders placed", "revenue per month", "clara", "home"])
def test_no_invented_matches(words: str) -> None:
    from nl2sql.models.offline.values import normalize

    index = ValueIndex.build(SAMPLE_VALUES)
    assert index.find(normalize(words).split(), set()) == []


def test_queries_are_complete_and_valid() -> None:
    index = ValueIndex.build(SAMPLE_VALUES)
    query = understand("top 5 customers by revenue in 2025", Context(TODAY), index)
    assert set(query) == {"table_name", "columns", "conditions", "order_by", "limit"}
    TOOL.parse(json.dumps(query))  # strict: extra="forbid", every field present


def test_nonsense_is_not_understood() -> None:
    index = ValueIndex.build(SAMPLE_VALUES)
    with pytest.raises(NotUnderstood):
        understand("what is the meaning of life", Context(TODAY), index)


def test_seed_question_under_customer_scope(sample: tuple[str, Path]) -> None:
    url, path = sample
    agent = Agent(url, model="offline", today=TODAY, customer_id=13)
    turn = agent.ask(
        "look up all my orders in november of last year that were fulfilled but "
        "not delivered on time"
    )
    result = turn.tool_runs[-1].result
    assert result is not None
    with sqlite3.connect(path) as connection:
        expected = {
            row[0]
            for row in connection.execute(
                "SELECT id FROM orders WHERE customer_id = 13 AND ordered_at >= '2025-11-01' "
                "AND ordered_at < '2025-12-01' AND status IN ('shipped', 'delivered') "
                "AND date(delivered_at) > expected_delivery_date"
            )
        }
    assert expected and {row[0] for row in result.rows} == expected
    assert "placed 2025-11-01 to 2025-11-30" in turn.answer
    assert "delivered after the promised delivery date" in turn.answer


def test_follow_ups_edit_the_previous_query(sample: tuple[str, Path]) -> None:
    url, _ = sample
    agent = Agent(url, model="offline", today=TODAY)
    listed = agent.ask("List the orders over 300 dollars placed last week")
    ids = [row[0] for row in listed.tool_runs[-1].result.rows]  # type: ignore[union-attr]
    counted = agent.ask("how many is that?")
    assert counted.tool_runs[-1].result.rows == [[len(ids)]]  # type: ignore[union-attr]
    german = agent.ask("only those from Germany")
    conditions = json.loads(german.tool_runs[-1].arguments)["conditions"]
    assert {
        "column": "customers.country",
        "aggregate": None,
        "operator": "=",
        "value": "Germany",
    } in conditions
    assert any(c["column"] == "orders.total_amount" for c in conditions)  # kept
    ordered = agent.ask("sort them by amount, biggest first")
    amounts = [row[-1] for row in ordered.tool_runs[-1].result.rows]  # type: ignore[union-attr]
    assert amounts == sorted(amounts, reverse=True)


def test_what_about_swaps_the_date_range(sample: tuple[str, Path]) -> None:
    url, _ = sample
    agent = Agent(url, model="offline", today=TODAY)
    agent.ask("How many orders were canceled this year?")
    turn = agent.ask("what about last year?")
    conditions = json.loads(turn.tool_runs[-1].arguments)["conditions"]
    assert [(c["column"], c["operator"], c["value"]) for c in conditions] == [
        ("orders.canceled_at", ">=", "2025-01-01"),
        ("orders.canceled_at", "<=", "2025-12-31"),
    ]


def test_nonsense_gets_suggestions_and_no_query(sample: tuple[str, Path]) -> None:
    url, _ = sample
    turn = Agent(url, model="offline", today=TODAY).ask("blorp the flibbertigibbet quickly")
    assert not turn.tool_runs
    assert "did not understand" in turn.answer
    assert turn.answer.count('"') >= 8  # the question and three quoted example questions


@pytest.mark.parametrize(
    "question",
    [
        "orders for customer zzzqqq",
        "revenue of product qwertyzz last year",
        "show the orders of a client named xyzzyq",
    ],
)
def test_an_unknown_name_is_not_silently_dropped(sample: tuple[str, Path], question: str) -> None:
    url, _ = sample
    turn = Agent(url, model="offline", today=TODAY).ask(question)
    assert not turn.tool_runs  # no query that would ignore the name and list everything
    assert "did not understand" in turn.answer


def test_a_known_name_in_the_same_slot_is_used(sample: tuple[str, Path]) -> None:
    url, _ = sample
    turn = Agent(url, model="offline", today=TODAY).ask("orders for customer olivia costa")
    run = turn.last_result
    assert run is not None and run.result is not None
    assert '"value": "Olivia Costa"' in run.arguments


def test_answer_states_the_interpretation(sample: tuple[str, Path]) -> None:
    url, _ = sample
    turn = Agent(url, model="offline", today=TODAY).ask(
        "How many orders did we ship to Canada in March 2025?"
    )
    count = turn.tool_runs[-1].result.rows[0][0]  # type: ignore[union-attr]
    assert turn.answer.startswith(f"There {'is' if count == 1 else 'are'} {count} order")
    assert "shipped 2025-03-01 to 2025-03-31" in turn.answer
    assert "Canada" in turn.answer


def test_top_n_answer_names_the_winners(sample: tuple[str, Path]) -> None:
    url, _ = sample
    turn = Agent(url, model="offline", today=TODAY).ask(
        "Who are our top 3 customers by number of orders?"
    )
    rows = turn.tool_runs[-1].result.rows  # type: ignore[union-attr]
    assert len(rows) == 3
    assert all(str(row[1]) in turn.answer for row in rows)


def test_streamed_answer_arrives_in_several_deltas(sample: tuple[str, Path]) -> None:
    url, _ = sample
    deltas: list[str] = []
    turn = Agent(url, model="offline", today=TODAY).ask(
        "Revenue per category in 2025", on_text=deltas.append
    )
    assert len(deltas) > 2
    assert "".join(deltas) == turn.answer


def test_tool_errors_are_reported_plainly() -> None:
    model = OfflineModel(None, today=date(2026, 11, 28))
    message = model.reply(
        {
            "messages": [
                {"role": "system", "content": "Today is 2026-11-28."},
                {"role": "user", "content": "how many orders?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "Query", "arguments": "{}"},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_1",
                    "content": json.dumps({"error": "Invalid query: limit: must be positive"}),
                },
            ]
        }
    )
    assert "failed" in message["content"]
    assert "limit: must be positive" in message["content"]


def test_model_without_database_still_parses() -> None:
    reply = OfflineModel(None, today=date(2026, 11, 28)).reply(
        {
            "messages": [
                {"role": "system", "content": "Today is 2026-11-28."},
                {"role": "user", "content": "How many orders were placed yesterday?"},
            ]
        }
    )
    arguments = json.loads(reply["tool_calls"][0]["function"]["arguments"])
    assert arguments["conditions"] == [
        {"column": "orders.ordered_at", "aggregate": None, "operator": "=", "value": "2026-11-27"}
    ]


# -- families: month-day dates, parts of periods, units, thresholds, asked attributes, follow-ups --

INDEX = ValueIndex.build(SAMPLE_VALUES)


def ask(question: str, previous: dict[str, object] | None = None) -> dict[str, object]:
    query = understand(question, Context(TODAY, previous=previous), INDEX)
    TOOL.parse(json.dumps(query))  # every produced query is a valid tool call
    return query


def triples(query: dict[str, object], key: str = "conditions") -> list[tuple[object, ...]]:
    items = query[key]
    assert isinstance(items, list)
    if key == "columns":
        return [(c["column"], c["aggregate"], c["time_grain"]) for c in items]
    return [(c["column"], c["aggregate"], c["operator"], c["value"]) for c in items]


MONTH_DAY_PHRASES = [
    # a month and a day without a year: the most recent such day not after today
    ("since september 3", ("2026-09-03", "2026-11-28")),
    ("since the 3rd of september", ("2026-09-03", "2026-11-28")),
    ("since dec 1st", ("2025-12-01", "2026-11-28")),  # december 2026 is still to come
    ("on jan 9", ("2026-01-09", "2026-01-09")),
    ("on 9 january 2025", ("2025-01-09", "2025-01-09")),
    ("after october 30", ("2026-10-31", "2026-11-28")),
    ("before 1 july", (None, "2026-06-30")),
    ("from april 4 to april 18", ("2026-04-04", "2026-04-18")),
    ("between mar 3 and apr 2, 2025", ("2025-03-03", "2025-04-02")),  # the year of the end
    ("between july 10th and 20th, 2025", ("2025-07-10", "2025-07-20")),
    ("from 5 march to 2 april", ("2026-03-05", "2026-04-02")),
    ("from dec 20 to jan 6", ("2025-12-20", "2026-01-06")),  # a start after the end
    # halves and parts of periods
    ("in the first half of 2025", ("2025-01-01", "2025-06-30")),
    ("during the second half of this year", ("2026-07-01", "2026-11-28")),  # stops today
    ("in h2 2024", ("2024-07-01", "2024-12-31")),
    ("in h1 of last year", ("2025-01-01", "2025-06-30")),
    ("in the last 2 weeks of september", ("2026-09-17", "2026-09-30")),
    ("in the first 3 days of last month", ("2026-10-01", "2026-10-03")),
    # a day range before its month: both days take the month
    ("between 1 and 15 may 2026", ("2026-05-01", "2026-05-15")),
    ("from the 3rd to the 10th of june", ("2026-06-03", "2026-06-10")),
    ("between 2-9 march 2025", ("2025-03-02", "2025-03-09")),
    # open-ended from (or up to) a point
    ("signed up in 2024 or later", ("2024-01-01", "2026-11-28")),
    ("from march 2025 onwards", ("2025-03-01", "2026-11-28")),
    ("in q2 2025 or earlier", (None, "2025-06-30")),
    ("in 2025 and after", ("2025-01-01", "2026-11-28")),
]


@pytest.mark.parametrize(("phrase", "expected"), DATE_PHRASES + MONTH_DAY_PHRASES)
def test_date_phrases(phrase: str, expected: tuple[str | None, str | None]) -> None:
    assert one_range(phrase) == expected


UNITS = ("order_items.quantity", "sum", None)


@pytest.mark.parametrize(
    ("question", "value"),
    [
        ("how many yoga mats did we sell last month?", ("products.name", "Yoga Mat")),
        ("How many smart watches were sold in 2025", ("products.name", "Smart Watch")),
        ("how many toys did customers buy this year", ("products.category", "Toys")),
        ("number of electronics sold in q3", ("products.category", "Electronics")),
        (
            "how many units of the mechanical keyboard were sold?",
            ("products.name", "Mechanical Keyboard"),
        ),
        ("how many pieces of home and kitchen stuff sold", ("products.category", "Home & Kitchen")),
    ],
)
def test_how_many_products_sold_is_units(question: str, value: tuple[str, str]) -> None:
    query = ask(question)
    assert triples(query, "columns") == [UNITS]
    assert (value[0], None, "=", value[1]) in triples(query)


@pytest.mark.parametrize(
    ("question", "group", "having"),
    [
        (
            "which cities placed more than 40 orders last year?",
            "customers.city",
            ("orders.id", "count", ">", 40.0),
        ),
        (
            "countries with at least 15 customers",
            "customers.country",
            ("customers.id", "count", ">=", 15.0),
        ),
        (
            "Which categories made over $20,000 in revenue in 2025?",
            "products.category",
            ("order_items.line_total", "sum", ">", 20000.0),
        ),
        (
            "categories that sold fewer than 100 units this year",
            "products.category",
            ("order_items.quantity", "sum", "<", 100.0),
        ),
        (
            "what countries had 200 orders or more",
            "customers.country",
            ("orders.id", "count", ">=", 200.0),
        ),
    ],
)
def test_thresholds_on_groups_are_having_conditions(
    question: str, group: str, having: tuple[object, ...]
) -> None:
    query = ask(question)
    columns = triples(query, "columns")
    assert columns[0] == (group, None, None)
    assert columns[1][:2] == having[:2]
    assert having in triples(query)


@pytest.mark.parametrize(
    ("question", "column", "condition"),
    [
        ("when will order 2301 arrive?", "orders.expected_delivery_date", ("orders.id", 2301)),
        ("when was order #57 shipped", "orders.shipped_at", ("orders.id", 57)),
        ("when did order number 9 get delivered", "orders.delivered_at", ("orders.id", 9)),
        (
            "what city does Clara Martin live in",
            "customers.city",
            ("customers.name", "Clara Martin"),
        ),
        ("when did Ava Johnson join?", "customers.created_at", ("customers.name", "Ava Johnson")),
        (
            "what category is the smart watch in",
            "products.category",
            ("products.name", "Smart Watch"),
        ),
        ("email addresses of customers in Tokyo", "customers.email", ("customers.city", "Tokyo")),
        ("what's the e-mail of Ava Johnson", "customers.email", ("customers.name", "Ava Johnson")),
    ],
)
def test_the_asked_attribute_is_in_the_columns(
    question: str, column: str, condition: tuple[str, object]
) -> None:
    query = ask(question)
    assert column in [c[0] for c in triples(query, "columns")]
    assert (condition[0], None, "=", condition[1]) in triples(query)
    assert not any(c[0] == "orders.status" for c in triples(query))  # "shipped" is the verb


def result_rows(agent: Agent, question: str) -> list[list[object]]:
    turn = agent.ask(question)
    run = turn.tool_runs[-1]
    assert run.result is not None, turn.answer
    return run.result.rows


# The questions checked against hand-written SQL live in tests/questions/regressions.toml.


@pytest.mark.parametrize(
    "grouped",
    [
        "orders by status",
        "revenue by country last year",
        "top 3 products by units sold",
        "monthly order counts in 2025",
        "average order value per category",
    ],
)
@pytest.mark.parametrize(
    "follow",
    [
        "only for orders placed this month",
        "sort them by date",
        "order them by name",
        "sort by amount, largest first",
        "just the delivered ones",
        "and only the ones ordered in the second half of 2025?",
        "what about the same period last year?",
        "list them",
    ],
)
def test_follow_ups_on_grouped_queries_stay_valid(
    sample: tuple[str, Path], grouped: str, follow: str
) -> None:
    url, _ = sample
    agent = Agent(url, model="offline", today=TODAY)
    result_rows(agent, grouped)
    if (follow, grouped) in UNSORTABLE:  # refused by name, never silently left unsorted
        turn = agent.ask(follow)
        assert turn.status == "refused" and "cannot sort these groups" in turn.answer
        return
    result_rows(agent, follow)  # the compiler accepted the edited query


# Groups that have no such column to sort by.
UNSORTABLE = {
    ("sort them by date", "orders by status"),
    ("sort them by date", "revenue by country last year"),
    ("sort them by date", "top 3 products by units sold"),
    ("sort them by date", "average order value per category"),
    ("order them by name", "monthly order counts in 2025"),
}


@pytest.mark.parametrize("follow", ["list them", "how many are there?", "by country", "by city"])
def test_follow_ups_on_a_having_query_keep_its_groups(
    sample: tuple[str, Path], follow: str
) -> None:
    url, _ = sample
    agent = Agent(url, model="offline", today=TODAY)
    agent.ask("which customers placed more than 5 orders in 2025")
    turn = agent.ask(follow)
    query = json.loads(turn.tool_runs[-1].arguments)
    assert turn.tool_runs[-1].result is not None
    assert any(not c["aggregate"] for c in query["columns"])  # still grouped
    assert ("orders.id", "count", ">", 5.0) in triples(query)


# -- families: status synonyms, typos in grammar nouns, "us", units sold, restrictive follow-ups --

STATUS = "orders.status"


@pytest.mark.parametrize(
    ("question", "operator", "value"),
    [
        ("how many orders got sent back in 2025?", "=", "returned"),
        ("orders brought back by customers in Tokyo", "=", "returned"),
        ("count the refunded orders", "=", "returned"),
        ("how many refunds did we process?", "=", "returned"),
        ("how many orders were called off", "=", "canceled"),
        ("list the voided orders", "=", "canceled"),
        ("orders that are on their way to Cologne", "=", "shipped"),
        ("how many packages are out for delivery", "=", "shipped"),
        ("number of dispatched orders", "=", "shipped"),
        ("how many orders have arrived?", "=", "delivered"),
        ("how many orders are stuck?", "in", ["pending", "processing"]),
        ("show orders on hold", "in", ["pending", "processing"]),
        ("orders still waiting", "in", ["pending", "processing"]),
        ("orders awaiting shipment", "in", ["pending", "processing"]),
        ("how many orders are stuck in processing", "=", "processing"),
        ("orders still awaiting delivery", "in", ["pending", "processing", "shipped"]),
        ("how many orders were not sent back", "!=", "returned"),
        # a named status inside a wider phrase narrows it
        ("shipped orders that still haven't been delivered", "=", "shipped"),
        ("pending orders that have not arrived yet", "=", "pending"),
        ("how many processing orders are yet to be delivered?", "=", "processing"),
    ],
)
def test_everyday_status_words(question: str, operator: str, value: object) -> None:
    statuses = [c for c in triples(ask(question)) if c[0] == STATUS]
    assert statuses == [(STATUS, None, operator, value)]


def test_a_status_verb_with_a_date_dates_it() -> None:
    query = ask("how many orders were called off last month?")
    assert ("orders.canceled_at", None, ">=", "2026-10-01") in triples(query)
    assert not any(c[0] == STATUS for c in triples(query))


@pytest.mark.parametrize(
    ("question", "table", "column"),
    [
        ("how many custmers signed up this year", "customers", "customers.id"),
        ("number of ordrs last month", "orders", "orders.id"),
        ("how many prodcuts are in Toys", "products", "products.id"),
        ("how many cusotmers are from Germany", "customers", "customers.id"),
        ("count the ordres placed yesterday", "orders", "orders.id"),
    ],
)
def test_typos_in_entity_nouns(question: str, table: str, column: str) -> None:
    query = ask(question)
    assert query["table_name"] == table
    assert triples(query, "columns") == [(column, "count", None)]


def test_typos_in_attributes_and_measures() -> None:
    assert triples(ask("revenu by catagory"), "columns") == [
        ("products.category", None, None),
        ("order_items.line_total", "sum", None),
    ]
    assert triples(ask("orders per contry"), "columns")[0] == ("customers.country", None, None)
    assert triples(ask("averge order value"), "columns") == [("orders.total_amount", "avg", None)]


@pytest.mark.parametrize("word", ["sending", "scales", "border", "older", "weather"])
def test_real_words_are_not_corrected(word: str) -> None:
    from nl2sql.models.offline.grammar import KNOWN_WORDS
    from nl2sql.models.offline.typos import correct_word

    assert correct_word(word, INDEX, KNOWN_WORDS) == word


US = ("customers.country", None, "=", "United States")
OVERDUE = ("orders.expected_delivery_date", None, "<", "2026-11-28")
LATE_CONDITION = (
    "orders.delivered_at",
    None,
    ">",
    {"column_name": "orders.expected_delivery_date"},
)


@pytest.mark.parametrize(
    "question",
    [
        "how much has Ava Johnson spent with us?",
        "which customers bought from us in 2025",
        "how many orders did Clara Martin place with us",
        "customers who ordered from us last month",
        "products people bought from us this year",
        "WHAT HAS AVA JOHNSON SPENT WITH US",
    ],
)
def test_us_the_pronoun_is_not_a_country(question: str) -> None:
    assert US not in triples(ask(question))


@pytest.mark.parametrize(
    ("question", "conditions"),
    [
        # a number after a month can still be a count
        (
            "customers with more than 3 orders in march 2025",
            [("orders.id", "count", ">", 3.0), ("orders.ordered_at", None, ">=", "2025-03-01")],
        ),
        # a database value beats a grammar noun
        ("how many orders from germny", [("customers.country", None, "=", "Germany")]),
        # a spend threshold on a category uses line totals
        (
            "which customers spent more than $500 on toys",
            [("order_items.line_total", "sum", ">", 500.0)],
        ),
        # us, the country
        ("how many orders from the US", [US]),
        ("revenue from US customers", [US]),
        ("customers in the U.S.", [US]),
        ("how many customers in the states", [US]),
        ("orders shipped to the USA last month", [US]),
        ("how many customers live in us", [US]),
        # a promised date that has passed, on orders not delivered yet: overdue
        (
            "shipped orders whose promised delivery date has passed",
            [OVERDUE, (STATUS, None, "=", "shipped")],
        ),
        ("pending orders where the due date is already in the past", [OVERDUE]),
        ("orders in transit with an expected arrival date that has lapsed", [OVERDUE]),
        # the promise in other words: delivered late
        ("did any orders last week come later than promised?", [LATE_CONDITION]),
        ("orders that arrived after the date we quoted", [LATE_CONDITION]),
        ("how many deliveries came after the day you promised in 2025", [LATE_CONDITION]),
        # the verb before "an order" dates it
        (
            "did any customer from Germany cancel an order this year?",
            [("orders.canceled_at", None, ">=", "2026-01-01")],
        ),
        # a bare number after "spent" is money; a typo in a country inside a grouping
        (
            "which customers in Cologne have spent more than 2500?",
            [("customers.city", None, "=", "Cologne"), ("orders.total_amount", "sum", ">", 2500.0)],
        ),
        ("revenue by city in Germnay", [("customers.country", None, "=", "Germany")]),
        # a yes/no question about a total compares the total itself
        ("did we make over $1k yesterday?", [("orders.total_amount", "sum", ">", 1000)]),
        ("was revenue above 5000 last month?", [("orders.total_amount", "sum", ">", 5000)]),
        # "in the past 30 days" is a window, not a passed due date
        (
            "orders delivered after the promised date in the past 2 weeks",
            [LATE_CONDITION, ("orders.delivered_at", None, ">=", "2026-11-15")],
        ),
    ],
)
def test_the_conditions_include(question: str, conditions: list[tuple[object, ...]]) -> None:
    query = ask(question)
    for condition in conditions:
        assert condition in triples(query)


UNITS_BY_PRODUCT = [
    ("products.id", None, None),
    ("products.name", None, None),
    ("order_items.quantity", "sum", None),
]


@pytest.mark.parametrize(
    ("question", "direction", "limit"),
    [
        ("what were our 3 worst selling products last year?", "asc", 3),
        ("least selling items", "asc", 1),
        ("lowest-selling product in 2025", "asc", 1),
        ("our slowest movers this year", "asc", 1),
        ("top 5 sellers in 2025", "desc", 5),
        ("best selling products", "desc", 1),
        ("which product sold the most last month", "desc", 1),
        ("what are our bestsellers", "desc", 1),
    ],
)
def test_selling_rankings_are_units_sold(question: str, direction: str, limit: int) -> None:
    query = ask(question)
    assert query["table_name"] == "order_items"
    assert triples(query, "columns") == UNITS_BY_PRODUCT
    assert query["order_by"] == [
        {"column": "order_items.quantity", "aggregate": "sum", "direction": direction}
    ]
    assert query["limit"] == limit


LINE_TOTAL = ("order_items.line_total", "sum", None)


@pytest.mark.parametrize(
    "question",
    [
        "toys revenue by month",
        "how much revenue did electronics bring in last quarter",
        "sales of the yoga mat in 2025",
    ],
)
def test_revenue_filtered_by_product_sums_line_totals(question: str) -> None:
    query = ask(question)
    assert query["table_name"] == "order_items"
    assert LINE_TOTAL in triples(query, "columns")
    assert ("orders.total_amount", "sum", None) not in triples(query, "columns")


@pytest.mark.parametrize(
    ("question", "columns"),
    [
        # orders containing a product are still counted as orders
        ("how many orders contain a yoga mat", [("orders.id", "count", None)]),
        ("how many orders included toys last month", [("orders.id", "count", None)]),
        # the best- or worst-selling category is units sold
        (
            "worst-selling category this year",
            [("products.category", None, None), ("order_items.quantity", "sum", None)],
        ),
        # average order value for a category stays per order
        ("average order value for toys", [("orders.total_amount", "avg", None)]),
        # "any" with a singular noun or verb asks whether one exists: the count
        (
            "did any customer from Brazil cancel an order in 2025?",
            [("customers.id", "count", None)],
        ),
        ("is any of my orders shipped?", [("orders.id", "count", None)]),
        ("has anybody from Tokyo ordered this year?", [("customers.id", "count", None)]),
        # a running tally
        ("orders so far this month", [("orders.id", "count", None)]),
        # "sold by category" groups; "by" is not the agent here
        (
            "units sold by category this year",
            [("products.category", None, None), ("order_items.quantity", "sum", None)],
        ),
        # buyers per period: dated by the orders
        (
            "number of distinct customers buying per month in 2025",
            [("orders.ordered_at", None, "month"), ("customers.id", "count", None)],
        ),
        # a superlative before a period ranks the periods
        (
            "worst quarter for revenue in 2025",
            [("orders.ordered_at", None, "quarter"), ("orders.total_amount", "sum", None)],
        ),
        (
            "our best month for sales last year",
            [("orders.ordered_at", None, "month"), ("orders.total_amount", "sum", None)],
        ),
    ],
)
def test_the_columns_are_exactly(question: str, columns: list[tuple[object, ...]]) -> None:
    assert triples(ask(question), "columns") == columns


@pytest.mark.parametrize(
    ("first", "follow", "added"),
    [
        ("revenue by country for 2025", "only count delivered orders", ("=", "delivered")),
        ("orders per month this year", "only include shipped ones", ("=", "shipped")),
        ("revenue by category in 2025", "just the delivered ones", ("=", "delivered")),
        ("orders by country last year", "exclude canceled", ("!=", "canceled")),
        ("revenue by city", "only consider returned orders", ("=", "returned")),
    ],
)
def test_restrictive_follow_ups_keep_the_aggregate(
    first: str, follow: str, added: tuple[str, str]
) -> None:
    before = ask(first)
    after = ask(follow, previous=before)
    assert triples(after, "columns") == triples(before, "columns")
    assert triples(after) == triples(before) + [(STATUS, None, *added)]


@pytest.mark.parametrize(
    ("follow", "table"),
    [
        ("which of them live in Tokyo?", "customers"),
        ("which ones are in Tokyo", "customers"),
        ("who are they", "customers"),
    ],
)
def test_which_of_them_lists_the_counted_rows(follow: str, table: str) -> None:
    before = ask("How many customers signed up in the first half of 2025?")
    after = ask(follow, previous=before)
    assert after["table_name"] == table
    assert not any(c[1] for c in triples(after, "columns"))
    assert ("customers.created_at", None, ">=", "2025-01-01") in triples(after)


def test_who_were_they_after_counting_orders_lists_customers() -> None:
    after = ask("who were they?", previous=ask("how many orders were returned in 2025"))
    assert after["table_name"] == "customers"
    assert (STATUS, None, "=", "returned") in triples(after)


# -- contractions without apostrophes, "none" questions, sort phrases, my latest order, shifts --


@pytest.mark.parametrize(
    ("casual", "spelled"),
    [
        # contractions without apostrophes
        ("how many orders havent shipped yet", "how many orders have not shipped yet"),
        ("which orders hasnt been delivered", "which orders has not been delivered"),
        ("whats the total revenue this year", "what is the total revenue this year"),
        ("how many orders werent delivered", "how many orders were not delivered"),
        ("which customers dont have any orders", "which customers do not have any orders"),
        ("orders that arent canceled", "orders that are not canceled"),
        ("orders that aren't canceled", "orders that are not canceled"),
        ("whos our biggest customer", "who is our biggest customer"),
        # typos in question and period words
        ("wich customers live in Paris", "which customers live in Paris"),
        ("orders per quater in 2025", "orders per quarter in 2025"),
        ("how many orders were delivred yesterday", "how many orders were delivered yesterday"),
        # shorthand typed on phones and by power users
        ("no. of orders shipped last wk", "number of orders shipped last week"),
        ("# of custs in Germany", "number of customers in Germany"),
        ("avg qty per order this yr", "average quantity per order this year"),
        ("rev by cat last qtr", "revenue by category last quarter"),
        ("top 5 prods by rev pls", "top 5 products by revenue"),
        ("ords over 2k in the past 3 mos", "orders over 2000 in the past 3 months"),
        ("custs who spent more than $1.5k thx", "customers who spent more than 1500 dollars"),
        ("total amt of ords last mo", "total amount of orders last month"),
        ("orders w/ toys ytd", "orders with toys this year"),
        (
            "which countries have more than 50k in sales",
            "which countries have more than 50000 in sales",
        ),
        # "did not arrive on time" is late
        ("how many orders did not arrive on time", "how many orders arrived late"),
        ("orders that didn't get delivered on time in 2025", "orders delivered late in 2025"),
        # "what did I buy the most of": the product, by units
        ("what did i buy the most of", "which product did i buy the most of"),
        # the places rows fall in
        ("what cities in Germany do we have customers in", "customers by city in Germany"),
        ("which countries are our customers from", "customers by country"),
        # a lead-in before a colon is not read
        (
            "for the weekly report: how many orders shipped in 2025?",
            "how many orders shipped in 2025?",
        ),
    ],
)
def test_rewordings_read_as_spelled_out(casual: str, spelled: str) -> None:
    assert ask(casual) == ask(spelled)


@pytest.mark.parametrize(
    ("question", "conditions"),
    [
        # a month-day range is one range on the verb's column
        (
            "how many orders were shipped between 12 august and 19 august?",
            [
                ("orders.shipped_at", None, ">=", "2026-08-12"),
                ("orders.shipped_at", None, "<=", "2026-08-19"),
            ],
        ),
        # received is placing, not a status
        (
            "how many orders did we receive yesterday?",
            [("orders.ordered_at", None, "=", "2026-11-27")],
        ),
        # not yet shipped, without an apostrophe, is open orders
        ("how many orders still havent shipped", [(STATUS, None, "in", ["pending", "processing"])]),
        # customers without orders are an absence marker
        ("which customers havent ordered anything", [("orders.id", None, "is null", None)]),
        ("who hasn't placed an order", [("orders.id", None, "is null", None)]),
        ("customers who do not have any orders", [("orders.id", None, "is null", None)]),
    ],
)
def test_the_conditions_are_exactly(question: str, conditions: list[tuple[object, ...]]) -> None:
    assert triples(ask(question)) == conditions


def test_absence_queries_no_longer_force_a_join_by_sorting() -> None:
    query = ask("how many customers have never ordered?")
    assert query["order_by"] == []
    assert triples(query, "columns") == [("customers.id", "count", None)]


@pytest.mark.parametrize(
    ("question", "group", "direction"),
    [
        ("revenue by customer country, highest first", "customers.country", "desc"),
        ("orders by customer city from most to least", "customers.city", "desc"),
        ("sales by product category in descending order", "products.category", "desc"),
        ("count by order status, smallest first", "orders.status", "asc"),
        ("number of customers per country from lowest to highest", "customers.country", "asc"),
    ],
)
def test_sort_phrases_order_a_grouped_measure(question: str, group: str, direction: str) -> None:
    query = ask(question)
    columns = query["columns"]
    assert isinstance(columns, list) and columns[0]["column"] == group
    measure = columns[-1]
    assert query["order_by"] == [
        {"column": measure["column"], "aggregate": measure["aggregate"], "direction": direction}
    ]
    assert query["limit"] is None  # every group, sorted: not a top 1


@pytest.mark.parametrize(
    ("question", "column"),
    [
        ("whats the status of my most recent order", "orders.status"),
        ("what is the delivery date of my latest order", "orders.expected_delivery_date"),
        ("what was the status of my last order", "orders.status"),
        ("what's the estimated delivery date of my newest order?", "orders.expected_delivery_date"),
    ],
)
def test_an_attribute_of_my_latest_order(question: str, column: str) -> None:
    query = ask(question)
    assert query["table_name"] == "orders" and query["limit"] == 1
    assert query["order_by"] == [
        {"column": "orders.ordered_at", "aggregate": None, "direction": "desc"}
    ]
    assert column in [c[0] for c in triples(query, "columns")]


@pytest.mark.parametrize(
    ("first", "follow", "expected"),
    [
        ("revenue last month", "how about the month before that?", ("2026-09-01", "2026-09-30")),
        ("revenue in 2025", "the year before", ("2024-01-01", "2024-12-31")),
        ("orders last quarter", "the previous quarter", ("2026-04-01", "2026-06-30")),
        ("orders last week", "and the week after?", ("2026-11-23", "2026-11-28")),
        ("revenue in march 2025", "and the next month?", ("2025-04-01", "2025-04-30")),
        ("revenue this year", "and the one before?", ("2025-01-01", "2025-12-31")),
        ("orders on 2026-05-04", "what about the day before", ("2026-05-03", "2026-05-03")),
    ],
)
def test_follow_ups_shift_the_previous_period(
    first: str, follow: str, expected: tuple[str, str]
) -> None:
    query = ask(follow, previous=ask(first))
    dates = [c for c in triples(query) if c[0] == "orders.ordered_at"]
    bounds = sorted(str(value) for _, _, _, value in dates)
    assert (bounds[0], bounds[-1]) == expected


# .. blind set 3 families, in other words ........................................................


def test_late_arrivals_in_may_is_the_month_not_the_verb() -> None:
    query = understand("late arrivals in may", Context(date(2026, 6, 15)), INDEX)
    assert ("orders.delivered_at", None, ">=", "2026-05-01") in triples(query)
    assert ("orders.delivered_at", None, "<=", "2026-05-31") in triples(query)


def test_may_alone_is_still_a_verb() -> None:
    assert find_dates("may i see orders from 2025", TODAY)[0].range.start == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("question", "column", "direction"),
    [
        ("show pending orders, oldest first", "orders.ordered_at", "asc"),
        ("list processing orders newest first", "orders.ordered_at", "desc"),
        ("list customers from Spain, most recent first", "customers.created_at", "desc"),
        ("open orders with the earliest ones first", "orders.ordered_at", "asc"),
        ("customers by country alphabetically", "customers.country", "asc"),
    ],
)
def test_sort_phrases_sort_a_whole_list(question: str, column: str, direction: str) -> None:
    query = ask(question)
    assert query["limit"] is None
    assert query["order_by"] == [{"column": column, "aggregate": None, "direction": direction}]


def test_with_their_totals_lists_rows_not_a_sum() -> None:
    query = ask("show Hugo Fischer's orders in 2026 with their totals")
    assert not any(column[1] for column in triples(query, "columns"))
    assert ("customers.name", None, "=", "Hugo Fischer") in triples(query)


def test_the_most_of_a_product_is_units() -> None:
    query = ask("which product did Hugo Fischer buy the most of?")
    assert triples(query, "columns")[-1] == ("order_items.quantity", "sum", None)


# -- measure switches, pronouns in chained follow-ups, yes/no questions, "what have I ordered" --
ITEM_REVENUE = ("order_items.line_total", "sum", None)
ORDER_REVENUE = ("orders.total_amount", "sum", None)
AVERAGE_ORDER = ("orders.total_amount", "avg", None)
ORDER_COUNT = ("orders.id", "count", None)
UNITS = ("order_items.quantity", "sum", None)


@pytest.mark.parametrize(
    ("first", "follow", "measure"),
    [
        ("top 3 products by units sold in 2025", "and by revenue instead?", ITEM_REVENUE),
        ("top 5 customers by revenue this year", "by number of orders instead", ORDER_COUNT),
        ("revenue by month in 2025", "and the average order value?", AVERAGE_ORDER),
        ("orders per country last year", "what about sales?", ORDER_REVENUE),
        ("total sales last quarter", "what about the average?", AVERAGE_ORDER),
        ("units sold by month this year", "show revenue instead", ORDER_REVENUE),
        ("revenue per category in 2025", "count them instead", ORDER_COUNT),
        ("revenue by city in 2025", "how about units?", UNITS),
        # the measure named first wins over the one it replaces
        ("top 5 products by units this year", "revenue rather than units", ITEM_REVENUE),
        ("revenue by country in 2025", "units instead of revenue", UNITS),
        ("top 3 products by revenue", "what about the number of orders?", ORDER_COUNT),
    ],
)
def test_measure_switches_keep_groups_filters_and_ranking(
    first: str, follow: str, measure: tuple[object, ...]
) -> None:
    before = ask(first)
    after = ask(follow, previous=before)
    keys = [c for c in triples(before, "columns") if not c[1]]
    assert triples(after, "columns") == keys + [measure]
    assert triples(after) == triples(before)
    assert after["limit"] == before["limit"]
    directions = [s["direction"] for s in after["order_by"] if s["aggregate"]]  # type: ignore[attr-defined]
    assert directions == [s["direction"] for s in before["order_by"] if s["aggregate"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("first", "follow", "table", "measure"),
    [
        # "their" before any entity noun: the previous rows' orders
        ("customers in Tokyo", "how many of their orders were delivered?", "orders", True),
        ("customers from Brazil", "list their orders from last month", "orders", False),
        ("customers in Cologne", "show me their orders", "orders", False),
        # a subject pronoun asks a measure of each previous row, or one number for "total"
        ("customers in Cologne", "what did they spend this year?", "orders", True),
        ("customers from Germany", "and their total revenue?", "orders", True),
    ],
)
def test_pronouns_refer_to_the_previous_rows(
    first: str, follow: str, table: str, measure: bool
) -> None:
    before = ask(first)
    after = ask(follow, previous=before)
    assert after["table_name"] == table
    assert triples(before)[0] in triples(after)  # the previous rows' filter is kept
    assert any(c[1] for c in triples(after, "columns")) == measure


def test_their_after_an_entity_is_part_of_a_new_question() -> None:
    before = ask("customers in Tokyo")
    after = ask("show Ava Johnson's orders in 2026 with their totals", previous=before)
    assert triples(before)[0] not in triples(after)


@pytest.mark.parametrize(
    "follow", ["which of those arrived late?", "which of these ones were late"]
)
def test_late_follow_ups_keep_the_period(follow: str) -> None:
    chain = ask("just the delivered ones", previous=ask("show orders from this year"))
    after = ask(follow, previous=chain)
    assert ("orders.ordered_at", None, ">=", "2026-01-01") in triples(after)
    assert LATE_CONDITION in triples(after)


@pytest.mark.parametrize(
    ("question", "table"),
    [
        # the perfect over a window up to today checks on the orders placed
        ("what have I ordered in the past 7 days?", "orders"),
        ("what have I ordered this week", "orders"),
        ("what has Ava Johnson ordered recently?", "orders"),
        # the past tense asks for the products
        ("what did I order last month?", "products"),
        ("What did Ava Johnson order in 2025?", "products"),
        ("what have I bought this week?", "products"),
    ],
)
def test_what_have_i_ordered_is_orders_what_did_i_order_is_products(
    question: str, table: str
) -> None:
    assert ask(question)["table_name"] == table


@pytest.mark.parametrize(
    ("question", "start"),
    [
        ("are there any orders over $500 this week?", "Yes. "),
        ("is there an order from Spain today?", "No. "),
        ("did anyone in Paris order yesterday?", "No. "),
        ("were any orders canceled last week?", "Yes. "),
        ("did any customers sign up in 2025?", "Yes. "),
        ("has anybody from Tokyo ordered this year?", "Yes. "),
        ("has Ava Johnson ever placed an order?", "Yes. "),
        ("were there any orders from Spain today?", "No. "),
        ("did we make over $100k yesterday?", "No. "),
        ("did we make more than $100 yesterday?", "Yes. "),
        ("how many orders were canceled last week?", "There are "),
    ],
)
def test_yes_no_questions_are_answered_yes_or_no(
    sample: tuple[str, Path], question: str, start: str
) -> None:
    url, _ = sample
    assert Agent(url, model="offline", today=TODAY).ask(question).answer.startswith(start)


@pytest.mark.parametrize(
    ("first", "follow", "kept", "added"),
    [
        # "or later" / "and after": from that year on, the previous filter kept
        (
            "customers in Tokyo",
            "which of them signed up in 2024 or later?",
            ("customers.city", None, "=", "Tokyo"),
            ("customers.created_at", None, ">=", "2024-01-01"),
        ),
        # "and in <city>?" replaces the city, the threshold kept
        (
            "which customers in Tokyo have spent more than 3000?",
            "and in cologne?",
            ("orders.total_amount", "sum", ">", 3000.0),
            ("customers.city", None, "=", "Cologne"),
        ),
    ],
)
def test_follow_ups_add_or_replace_a_filter(
    first: str, follow: str, kept: tuple[object, ...], added: tuple[object, ...]
) -> None:
    after = ask(follow, previous=ask(first))
    assert kept in triples(after)
    assert added in triples(after)
    assert ("customers.created_at", None, "<=", "2024-12-31") not in triples(after)


@pytest.mark.parametrize(
    "question",
    [
        "is there any order still pending from before November?",
        "were there any orders from Japan in the past 7 days?",
        "are there some customers in Tokyo?",
        "has Ava Johnson ever placed an order?",
        "have any of the orders from Tokyo ever arrived late?",
        "did Clara Martin ever buy anything?",
        "do we have customers in Tokyo?",
        "does the shop have any products in Toys?",
    ],
)
def test_yes_no_questions_are_counts(question: str) -> None:
    columns = triples(ask(question), "columns")
    assert len(columns) == 1 and columns[0][1] == "count"


def test_a_partitive_without_ever_lists_which_ones() -> None:
    query = ask("were any of the orders from Tokyo delivered late?")
    assert not any(c[1] for c in triples(query, "columns"))


@pytest.mark.parametrize(
    ("first", "follow", "column"),
    [
        ("how many customers do we have in Canada?", "which cities are they in?", "customers.city"),
        ("orders shipped yesterday", "which countries are they from?", "customers.country"),
        ("list products in Books", "what categories are they in?", "products.category"),
        ("how many orders came in last week?", "what status are they in?", "orders.status"),
    ],
)
def test_follow_ups_ask_an_attribute_of_the_previous_rows(
    first: str, follow: str, column: str
) -> None:
    before = ask(first)
    after = ask(follow, previous=before)
    assert triples(after, "columns")[0] == (column, None, None)
    assert triples(after, "columns")[1][1] == "count"
    assert all(c in triples(after) for c in triples(before))


@pytest.mark.parametrize(
    ("first", "follow", "column"),
    [
        ("customers in Tokyo", "what are their emails?", "customers.email"),
        ("orders shipped yesterday", "when were they delivered?", "orders.delivered_at"),
    ],
)
def test_follow_ups_show_an_attribute_beside_the_rows(first: str, follow: str, column: str) -> None:
    after = ask(follow, previous=ask(first))
    assert column in [c[0] for c in triples(after, "columns")]
    assert not any(c[1] for c in triples(after, "columns"))


@pytest.mark.parametrize(
    ("first", "follow"),
    [
        ("show order 2377", "who placed that one?"),
        ("show order 2377", "who bought it?"),
        ("what was in order #2377?", "who ordered this?"),
    ],
)
def test_who_follow_ups_name_the_customer_of_the_order(first: str, follow: str) -> None:
    after = ask(follow, previous=ask(first))
    assert after["table_name"] == "customers"
    assert triples(after) == [("orders.id", None, "=", 2377)]


@pytest.mark.parametrize(
    ("question", "previous"),
    [
        ("what was in order #2377?", None),
        ("what's in order 12", None),
        ("what did order 2377 contain?", None),
        ("the contents of order 57", None),
        ("what was in it?", "show order 2377"),
    ],
)
def test_what_was_in_an_order_is_its_lines(question: str, previous: str | None) -> None:
    query = ask(question, previous=ask(previous) if previous else None)
    assert query["table_name"] == "order_items"
    columns = [c[0] for c in triples(query, "columns")]
    assert columns[:2] == ["products.name", "order_items.quantity"]


def test_an_attribute_of_ranked_groups_joins_the_groups() -> None:
    before = ask("top 3 customers by spend in 2025")
    after = ask("which countries are they from?", previous=before)
    columns = [c[0] for c in triples(after, "columns")]
    assert columns[:3] == ["customers.id", "customers.name", "customers.country"]
    assert after["limit"] == 3 and after["order_by"] == before["order_by"]


def test_late_after_orders_in_transit_means_past_the_promised_date() -> None:
    after = ask("which of those are past their promised delivery date?", ask("orders in transit"))
    assert ("orders.expected_delivery_date", None, "<", TODAY.isoformat()) in triples(after)
    assert ("orders.status", None, "=", "shipped") in triples(after)
    total = ask("how much are they worth altogether?", previous=after)
    assert triples(total, "columns") == [("orders.total_amount", "sum", None)]
    assert triples(total) == triples(after)


def test_late_after_delivered_orders_compares_delivery_with_the_promise() -> None:
    after = ask("which of those were late?", ask("how many orders were delivered last week?"))
    late = ("orders.delivered_at", None, ">", {"column_name": "orders.expected_delivery_date"})
    assert late in triples(after)


@pytest.mark.parametrize(
    "question",
    [
        "For a Germany vs Brazil campaign: revenue by category for each of the two countries",
        "revenue by category for both countries, Germany and Brazil",
        "revenue per category in each of the 2 countries Germany and Brazil",
        "revenue by country and category for Germany and Brazil",
    ],
)
def test_per_group_comparisons_group_by_both(question: str) -> None:
    query = ask(question)
    groups = [str(c[0]) for c in triples(query, "columns") if not c[1]]
    assert sorted(groups) == ["customers.country", "products.category"]
    assert ("customers.country", None, "in", ["Germany", "Brazil"]) in triples(query)


def test_a_k_amount_needs_money_around_it() -> None:
    """ "over 50k" is 50000, but a "4k" in a product name stays a word."""
    assert expand_shorthand("orders over 50k") == "orders over 50000"
    assert expand_shorthand("over $1.2k") == "over $1200"
    assert expand_shorthand("4k monitor sales") == "4k monitor sales"
    assert expand_shorthand("no orders") == "no orders"  # a negation, not "number"


@pytest.mark.parametrize(
    ("question", "direction", "limit"),
    [("the three cheapest toys", "asc", 3), ("most expensive electronics", "desc", 1)],
)
def test_a_priced_category_ranks_its_products(question: str, direction: str, limit: int) -> None:
    query = ask(question)
    assert query["table_name"] == "products" and query["limit"] == limit
    assert query["order_by"] == [
        {"column": "products.price", "aggregate": None, "direction": direction}
    ]


@pytest.mark.parametrize(
    ("question", "aggregate"),
    [
        ("lowest price anyone paid for a yoga mat", "min"),
        ("the highest price a customer has paid for a smart watch", "max"),
    ],
)
def test_the_price_paid_is_the_unit_price(question: str, aggregate: str) -> None:
    assert triples(ask(question), "columns") == [("order_items.unit_price", aggregate, None)]


def test_two_groups_joined_by_and() -> None:
    columns = triples(ask("orders by year and status"), "columns")
    assert columns[:2] == [("orders.ordered_at", None, "year"), ("orders.status", None, None)]


def test_a_yearless_quarter_not_yet_begun_is_last_years() -> None:
    query = understand("revenue in Q3", Context(date(2026, 2, 10)), INDEX)
    assert ("orders.ordered_at", None, ">=", "2025-07-01") in triples(query)


def test_did_not_order_since_a_date_is_absence() -> None:
    conditions = triples(ask("which customers didn't order anything since october 1st?"))
    assert ("orders.id", None, "is null", None) in conditions
