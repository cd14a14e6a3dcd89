"""What a question asks about particular rows: an attribute ("when is my last order expected to
arrive?", "which city is Ava Johnson in?") and rows named by their id ("order 123", "customer
#42").

The asked attribute is added to the columns of a row query, so the answer carries it; when no
entity noun is in the question, the attribute's table is the entity ("which city is X in" is
about a customer).
"""

from __future__ import annotations

import re
from typing import Any

from nl2sql.models.offline.sample_columns import (
    CUSTOMERS__CITY,
    CUSTOMERS__COUNTRY,
    CUSTOMERS__CREATED_AT,
    CUSTOMERS__EMAIL,
    ORDER_ITEMS__LINE_TOTAL,
    ORDER_ITEMS__QUANTITY,
    ORDERS__CANCELED_AT,
    ORDERS__DELIVERED_AT,
    ORDERS__EXPECTED_DELIVERY_DATE,
    ORDERS__ID,
    ORDERS__ORDERED_AT,
    ORDERS__SHIPPED_AT,
    ORDERS__STATUS,
    PRODUCTS__CATEGORY,
    PRODUCTS__NAME,
)

# (pattern over the masked, singularised words, the column it asks for). First match wins.
ASKED_ATTRIBUTES: list[tuple[str, str]] = [
    (
        r"\b(?:expected|supposed|due|scheduled|estimated|promised|going) (?:to )?"
        r"(?:arrive|be delivered|get delivered|deliver|land|come)\b"
        r"|\b(?:expected|estimated|promised|scheduled|planned) (?:delivery|arrival)\b"
        r"|\bdelivery date\b|\bdue date\b|\beta\b|\bwhen will\b.*\b(?:arrive|deliver|come)\b",
        ORDERS__EXPECTED_DELIVERY_DATE,
    ),
    (
        r"\bwhen\b.*\b(?:ship|shipped|sent|dispatched)\b"
        r"|\b(?:ship|shipped|sent|dispatched|gone out|go out|left) yet\b",
        ORDERS__SHIPPED_AT,
    ),
    (r"\bwhen\b.*\b(?:deliver|delivered|arrive|arrived|came)\b", ORDERS__DELIVERED_AT),
    (r"\bwhen\b.*\b(?:cancel|canceled|cancelled)\b", ORDERS__CANCELED_AT),
    (
        r"\bwhen\b.*\b(?:sign|signed|join|joined|register|registered|signup)\b",
        CUSTOMERS__CREATED_AT,
    ),
    (
        r"\bwhen\b.*\b(?:placed|place|ordered|order|made|bought|purchased)\b",
        ORDERS__ORDERED_AT,
    ),
    (r"\b(?:what|which) city\b|\bwhere\b.*\b(?:live|based|located|from)\b", CUSTOMERS__CITY),
    # "where's my order?": where it is on its way, so when it is due
    (
        r"\bwhere (?:is|are)\b.*\b(?:order|package|parcel|delivery|shipment|stuff)\b",
        ORDERS__EXPECTED_DELIVERY_DATE,
    ),
    (r"\b(?:what|which) country\b", CUSTOMERS__COUNTRY),
    (r"\b(?:what|which) category\b", PRODUCTS__CATEGORY),
    (
        r"\b(?:what|which) (?:is|was) the status\b|\bstatus of\b|\b(?:what|which) status\b",
        ORDERS__STATUS,
    ),
    (r"\be ?mails?\b|\bcontact address\b", CUSTOMERS__EMAIL),  # "email addresses of ..."
]
# "what was in order #12?", "what's in it?", "the contents of order 7", "what did that order
# contain?": the order's lines, each product with its quantity.
CONTENTS = re.compile(
    r"^(?:what|which item|which thing)s? (?:is|was|were|are|came|comes) (?:inside |in)\b"
    r"|\bcontents? of\b|\b(?:contain|contained|contains|include|included|includes)\??$"
)
LINE_COLUMNS = [PRODUCTS__NAME, ORDER_ITEMS__QUANTITY, ORDER_ITEMS__LINE_TOTAL]
# "order 123", "order #123", "order number 123", "customer id 7": the rows named by id.
ID_REFERENCE = re.compile(
    r"\b(?P<noun>order|customer|product) (?:number |no |id |with id )?(?P<id>\d{1,7})\b"
    r"(?! (?:days?|weeks?|months?|years?|dollars?|units?|items?|orders?|customers?))"
)
ID_TABLES = {"order": "orders", "customer": "customers", "product": "products"}


def asked_column(text: str) -> str | None:
    """The column a question asks for about its rows, if it names one."""
    for pattern, column in ASKED_ATTRIBUTES:
        if re.search(pattern, text):
            return column
    return None


def find_ids(text: str) -> tuple[str, list[tuple[str, int]]]:
    """Id references in the cleaned question: the text with each number masked as IDREF, and
    (id column, id) pairs. A year-like number after a bare noun ("orders 2025") is a date."""
    found: list[tuple[str, int]] = []

    def mask(match: re.Match[str]) -> str:
        number = match["id"]
        bare = match.group(0) == f"{match['noun']} {number}"
        if bare and re.fullmatch(r"(?:19|20)\d\d", number):
            return match.group(0)
        found.append((f"{ID_TABLES[match['noun']]}.id", int(number)))
        return f"{match['noun']} IDREF"

    return ID_REFERENCE.sub(mask, text), found


def order_lines(query: dict[str, Any], text: str) -> dict[str, Any]:
    """The lines of the orders a question names or points back to, when it asks what was in
    them ("what was in order #12?"); otherwise the query unchanged."""
    named = any(
        c["column"] == ORDERS__ID and c["operator"] in ("=", "in") for c in query["conditions"]
    )
    if not (named and CONTENTS.search(text)):
        return query
    return {
        **query,
        "table_name": "order_items",
        "columns": [{"column": c, "aggregate": None, "time_grain": None} for c in LINE_COLUMNS],
        "order_by": [],
        "limit": None,
    }
