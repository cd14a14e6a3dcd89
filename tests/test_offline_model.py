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


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
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
    ],
)
def test_date_phrases(phrase: str, expected: tuple[str | None, str | None]) -> None:
    assert one_range(phrase) == expected


def test_month_without_year_is_the_latest_such_month() -> None:
    assert one_range("in december", date(2026, 11, 28)) == ("2025-12-01", "2025-12-31")


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
        ("the us", "customers.country", "United States"),
        ("toy", "products.category", "Toys"),  # singular
        ("home and kitchen", "products.category", "Home & Kitchen"),
        ("rio de janeiro", "customers.city", "Rio de Janeiro"),
        ("ava johnson", "customers.name", "Ava Johnson"),
        ("keyboard", "products.name", "Mechanical Keyboard"),  # a distinctive word
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
    assert "delivered after the expected date" in turn.answer


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
    model = OfflineModel(None)
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
    reply = OfflineModel(None).reply(
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
