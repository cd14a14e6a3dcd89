"""A small English grammar for questions about the orders database -> a complete Query dict.

The grammar is a pipeline of modules, each one idea:

- shorthand.py spells out shorthand first ("no. of", "qty", "last mo", "over 50k");
- passes.py masks what it recognises, pass by pass: late / on-time phrases, dates (dates.py),
  amounts (amounts.py), status words (statuses.py), database values (values.py), after typo
  correction (typos.py);
- lexicon.py holds the word tables the passes and the interpreter read;
- interpreter.py turns the parsed question into a Query: what is asked (count, total, average,
  top N, list, ...), the entity, grouping and ordering, built from clauses.py;
- followups.py edits the previous Query for a follow-up; measures.py sums revenue narrowed to
  products over line totals; asked.py adds the attribute a question asks for.

Behaviour lives in the tables; the functions only combine them.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any

from nl2sql.models.offline.analyst import Refused, understand_analyst
from nl2sql.models.offline.asked import asked_column, order_lines
from nl2sql.models.offline.coverage import (
    FILLER_WORDS,
    JOINERS,
    counted_amount,
    disjoint_periods,
    unread_words,
    unsupported_measure,
)
from nl2sql.models.offline.followups import (
    SORT_RE,
    follow_up,
    is_period_shift,
    resort,
    sort_target,
)
from nl2sql.models.offline.interpreter import Context, Inexpressible, Interpreter
from nl2sql.models.offline.lexicon import AGENT_VERBS
from nl2sql.models.offline.lexicon import KNOWN_WORDS as KNOWN_WORDS
from nl2sql.models.offline.measures import revenue_of_items
from nl2sql.models.offline.passes import Parsed, parse_text
from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__NAME,
)
from nl2sql.models.offline.values import ValueIndex


class NotUnderstood(Exception):
    """The question could not be mapped with confidence; the message says what was not read."""

    def __init__(self, question: str, reason: str = "") -> None:
        super().__init__(reason or question)
        self.question = question
        self.reason = reason


FOLLOW_UP_START = re.compile(
    r"^(?:only|just|now|and|what about|how about|same|also|but|then|sort|break|"
    r"(?:order|rank|arrange|sort) (?:them|those|these|it|that|the result)|"
    r"list them|show them|those|them|that|these|of those|filter|limit|exclude|excluding|"
    r"restrict|narrow|keep only|instead|make it|which of (?:them|those|these)|which ones?|"
    r"who (?:are|were|is|was) (?:they|those|these|them|it)|who among (?:them|those|these)|"
    r"who \w+ (?:that|it|this|those|them|these)|"  # "who placed that one?", "who bought it?"
    r"name them|what (?:are|were) they)\b"
)


# "the customers on those", "the products in them", "customers behind these".
BACK_REFERENCE = r"\b(?:on|of|in|behind|for|from) (?:those|them|these)\b(?! \w+ (?:ago|before))"


# A verb done to the previous rows: "placed them", "bought those", "shipped these".
OBJECT_REFERENCE = re.compile(
    r"\b(?:" + "|".join(sorted(AGENT_VERBS)) + r") (?:them|those|these)\b"
)


# "by revenue instead", "units rather than revenue": the previous question measured otherwise.
SWITCH_WORDS = r"\b(?:instead|rather)\b"
# Pronouns that point back even beside an entity noun: "how many of their orders", "did they".
POSSESSIVE = re.compile(r"\b(?:their|its)\b")
SUBJECT_PRONOUN = re.compile(r"\b(?:did|do|does|have|has|had|were|are|was|is) (?:they|those)\b")


def refers_back(parsed: Parsed, interpreter: Interpreter) -> bool:
    """A pronoun about the previous rows: "their" / "its" before any entity noun ("customers
    and their orders" is one question), or a subject pronoun ("what did they spend?")."""
    text = " ".join(parsed.words)
    if SUBJECT_PRONOUN.search(text):
        return True
    possessive = next((i for i, w in enumerate(parsed.words) if POSSESSIVE.fullmatch(w)), None)
    if possessive is None:
        return False
    return all(index > possessive for index, _ in interpreter.entities())


def understand(
    question: str, context: Context, values: ValueIndex, *, analyst: bool = True
) -> dict[str, Any]:
    """The Query for a question, editing the previous query for a follow-up.

    Raises NotUnderstood when any word of the question would be dropped (coverage.py).
    `analyst`: try the analysts' question kinds first (analyst.py); their simpler questions
    are parsed without them.
    """
    if analyst:
        found = analyst_query(question, context, values)
        if found is not None:
            return found
    parsed = parse_text(question, context.today, values)
    check_coverage(question, parsed)
    interpreter = Interpreter(parsed, context)
    if context.previous is not None and (
        is_follow_up(parsed, interpreter) or is_period_shift(parsed, context.previous)
    ):
        edited = follow_up(parsed, interpreter, context.previous)
        # Nothing read as a change and nothing said ("ok", "and?"): never re-run the previous
        # query as if it answered. (A follow-up whose edit is already in place, "list them"
        # after a top 3, rightly gives the same query.)
        if edited == context.previous and says_nothing(parsed):
            raise NotUnderstood(
                question,
                "it reads as a follow-up, but I could not tell what to change in the previous "
                "question",
            )
        return checked(question, edited, context, values, parsed)
    if not confident(parsed, interpreter) or names_unknown_value(parsed):
        raise NotUnderstood(question)
    entity = interpreter.entity()
    query = interpreter.query()
    query["conditions"] = query["conditions"] + interpreter.amount_conditions(entity)
    query = sorted_as_asked(order_lines(revenue_of_items(query), interpreter.text), parsed)
    return checked(question, query, context, values, parsed)


def analyst_query(question: str, context: Context, values: ValueIndex) -> dict[str, Any] | None:
    """A share, a date difference, a period comparison, ... read through simpler questions."""
    plain = Context(today=context.today, scoped=context.scoped)
    parsed: dict[str, dict[str, Any] | None] = {}  # the rules ask some questions twice

    def parse(text: str) -> dict[str, Any] | None:
        if text not in parsed:
            try:
                parsed[text] = understand(text, plain, values, analyst=False)
            except (NotUnderstood, Inexpressible):
                parsed[text] = None
        found = parsed[text]
        return copy.deepcopy(found) if found is not None else None  # each rule edits its own

    try:
        return understand_analyst(question, parse, context.today)
    except Refused as refused:
        raise NotUnderstood(question, str(refused)) from None


def ask_back_namesakes(query: dict[str, Any], values: ValueIndex) -> None:
    """Raise Inexpressible, listing them, when a name in the query belongs to several
    customers: their orders must not be added together without a word."""
    for condition in query.get("conditions", []):
        if condition["column"] != CUSTOMERS__NAME or condition["operator"] not in ("=", "in"):
            continue
        names = condition["value"] if isinstance(condition["value"], list) else [condition["value"]]
        for name in names:
            holders = values.namesakes.get(str(name))
            if holders:
                listed = "; ".join(
                    f"customer {i} ({city}, {country})" for i, city, country in holders
                )
                example = f"customer {holders[0][0]}"
                raise Inexpressible(
                    f'{len(holders)} customers are named "{name}": {listed}. Which one do you '
                    f'mean? Ask again naming the customer by number, e.g. "{example}".'
                )


# "ordered before but not in the last 6 months": a period excluded.
NEGATED_PERIOD = re.compile(r"\bnot (?:\w+ )?(?:in |during |within |since |for )?DATE\d")


def has_absence(query: dict[str, Any]) -> bool:
    """Whether the query says which related rows must not exist (NOT EXISTS)."""
    return any(
        c["operator"] == "is null" and c["column"].endswith(".id") for c in query["conditions"]
    )


def says_nothing(parsed: Parsed) -> bool:
    """A follow-up made only of filler and pointers ("ok", "and?", "what about it?")."""
    return all(word in FILLER_WORDS or word in POINTERS for word in parsed.words)


# Words that point back at the previous question without saying what to change.
POINTERS = frozenset("and what about how then also the that this those these them it same".split())


def sorted_as_asked(query: dict[str, Any], parsed: Parsed) -> dict[str, Any]:
    """'products in Toys sorted by price': a sort the question names, applied as a follow-up
    sort would be (an unknown sort word is refused there)."""
    text = " ".join(parsed.words)
    sorting = SORT_RE.search(text)
    if sorting is None or query["order_by"]:
        return query
    return resort(query, sort_target(sorting, text), text)


def check_coverage(question: str, parsed: Parsed) -> None:
    """Refuse, naming them, measures the tool lacks and words no rule reads."""
    # The question as typed too: cleaning drops signs such as "%".
    measure = unsupported_measure(parsed.source) or unsupported_measure(question.lower())
    if measure is not None:
        words, what = measure
        raise NotUnderstood(
            question, f'"{words}" asks for {what}, which I cannot compute from one query yet'
        )
    counted = counted_amount(parsed)
    if counted is not None:
        raise NotUnderstood(
            question, f'"{counted}" counts rows per order, which I cannot filter by yet'
        )
    unread = unread_words(parsed)
    joiner = next((word for word in unread if word in JOINERS), None)
    if joiner is not None:
        raise NotUnderstood(
            question,
            f'"{joiner}" joins two different things (two periods, or two kinds of condition), '
            "and one query answers one of them; ask about each separately",
        )
    if unread:
        shown = ", ".join(f'"{word}"' for word in unread[:5])
        raise NotUnderstood(question, f"I do not know what {shown} means here")


def checked(
    question: str, query: dict[str, Any], context: Context, values: ValueIndex, parsed: Parsed
) -> dict[str, Any]:
    """The query, unless its date bounds cannot all hold (two periods ANDed together) or it
    names a customer by a name several customers share (asked back, listing them)."""
    if not context.scoped:  # scoped, only the tenant is visible: nobody else to list
        ask_back_namesakes(query, values)
    if NEGATED_PERIOD.search(" ".join(parsed.words)) and not has_absence(query):
        raise NotUnderstood(
            question,
            'it excludes a period ("not in ..."), which I can only do for "no orders in ..."',
        )
    column = disjoint_periods(query)
    if column is not None:
        raise NotUnderstood(
            question,
            "it names periods that do not overlap, and I can only answer for one period at "
            "a time; ask about each period separately",
        )
    return query


# "customer zzz", "product named zzz": a name slot whose word matched no value in the database.
NAME_SLOT = re.compile(
    r"\b(?:(?:for|by|from|of) (?:customer|client|product)|named|called) ([a-z]{3,})\b"
)


def names_unknown_value(parsed: Parsed) -> bool:
    """A name the question spells out that is neither a known word nor a database value.

    Answering anyway would silently drop the filter (all orders for "customer zzz").
    """
    return any(m[1] not in KNOWN_WORDS for m in NAME_SLOT.finditer(" ".join(parsed.words)))


def confident(parsed: Parsed, interpreter: Interpreter) -> bool:
    """Something the grammar knows must anchor the question: an entity, a measure, a value."""
    # A value alone ("weather in Paris") is not enough: something must say what is asked.
    anchors = (
        interpreter.entities()
        or interpreter.asks_what_bought()  # "what did I buy last month?": the products
        or interpreter.asks_recent_orders()  # "what have I ordered this week?": the orders
        or interpreter.metric("orders")
        or parsed.statuses
        or parsed.late
        or interpreter.groups()
        or interpreter.rank_target()
        or interpreter.threshold(interpreter.entity())  # "which cities had over 20 orders"
        or parsed.ids  # "order 123"
        or (asked_column(interpreter.text) and (parsed.values or interpreter.has("my")))
    )
    return bool(anchors)


def is_follow_up(parsed: Parsed, interpreter: Interpreter) -> bool:
    text = " ".join(parsed.words)
    if FOLLOW_UP_START.search(text) or re.fullmatch(r"(?:by|per|for each) \w+(?: \w+)?", text):
        return True  # "by country?": regroup what was asked
    if len(parsed.words) <= 4 and text.endswith(" only"):  # "UK only", "the shipped ones only"
        return True
    if re.search(r"\b(?:them|those|that|these|it|they)\b", text) and not interpreter.entities():
        return True
    if re.search(BACK_REFERENCE, text):  # "the customers on those": rows of what came before
        return True
    if OBJECT_REFERENCE.search(text):  # "which customers placed them?": who did it to those
        return True
    if refers_back(parsed, interpreter) or re.search(SWITCH_WORDS, text):
        return True
    if interpreter.entities() or interpreter.groups() or parsed.values or parsed.dates:
        return False
    if interpreter.threshold(interpreter.entity()):  # "cities with at least 20 customers"
        return False
    metric = interpreter.metric("orders")
    return metric in (None, "count")  # "what's the count?": of what the conversation is about


__all__ = ["Context", "Inexpressible", "NotUnderstood", "understand", "timedelta"]
