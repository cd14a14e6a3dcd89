"""Everyday words for order statuses ("sent back", "on its way", "stuck", "called off").

The statuses are pending, processing, shipped (in transit), delivered, canceled and returned.
Three tables, applied in this order:

1. STATUS_REWRITES turn multi-word verbs into the canonical verb before anything else reads the
   question ("sent back" -> "returned", "called off" -> "canceled"), so negation ("not sent
   back"), dates ("called off last week" -> canceled_at) and follow-ups treat them like the verb.
2. STATUS_PHRASES are phrases that name a set of statuses ("on its way" -> shipped, "stuck" ->
   pending or processing); the grammar masks them.
3. STATUS_VERBS are single verbs/adjectives that mean a status when no date is attached to them
   ("delivered orders", "how many arrived?").

Decisions:
- "refunded" / "refunds" = returned: the database has no refund status, and a refund follows a
  return.
- "arrived" = delivered; "dispatched" and "sent (out)" = shipped, like "shipped".
- "received" stays a placing verb ("orders we received yesterday" = orders placed): from the
  shop's side an order is received when it is placed.
- "awaiting / waiting for delivery" = not delivered yet and still live: pending, processing or
  shipped. "waiting", "awaiting", "stuck", "on hold" alone = open (pending or processing);
  "stuck in processing" = processing.
"""

from __future__ import annotations

import re

STATUS_REWRITES: list[tuple[str, str]] = [
    (
        r"\b(?:sent|send|sends|sending|brought|bring|brings|bringing|given|give|gave|gives|"
        r"taken|take|took|takes|mailed|shipped) back\b",
        "returned",
    ),
    (r"\b(?:returns|refunds)\b", "returned orders"),  # the nouns: "how many returns"
    (r"\b(?:called|call|calls|calling) off\b|\bvoided\b|\baborted\b|\bscrapped\b", "canceled"),
    (r"\bsent out\b", "sent"),
    (r"\b(?:went|go|goes|gone|going) out\b", "shipped"),  # "orders that went out last week"
]

OPEN = ["pending", "processing"]
NOT_DELIVERED_YET = ["pending", "processing", "shipped"]

STATUS_PHRASES: list[tuple[str, list[str]]] = [
    (
        r"\b(?:not|never) (?:been |yet )?(?:shipped|sent|dispatched)(?: out)?(?: yet)?\b"
        r"|\bunshipped\b|\byet to (?:be )?ship(?:ped)?\b|\bawaiting (?:shipment|shipping)\b"
        r"|\bwaiting (?:for |on )?(?:shipment|shipping|to (?:be )?ship(?:ped)?)\b",
        OPEN,
    ),
    (
        r"\b(?:still )?(?:awaiting|waiting for|waiting on) (?:delivery|arrival)\b"
        r"|\byet to (?:be )?deliver(?:ed)?\b|\byet to arrive\b",
        NOT_DELIVERED_YET,
    ),
    (r"\b(?:stuck|still|sitting|waiting|left) (?:in |as |at )?pending\b", ["pending"]),
    (
        r"\bstill (?:has |have |had )?(?:not|never) (?:yet )?(?:arrived|been delivered|delivered)\b"
        r"|\b(?:has|have|had) (?:still )?not (?:yet )?(?:arrived|been delivered)(?: yet)?\b",
        NOT_DELIVERED_YET,
    ),
    (r"\b(?:being processed|(?:stuck |still )?in processing|stuck processing)\b", ["processing"]),
    (
        r"\b(?:open|outstanding|unfulfilled|not fulfilled|in progress|not yet shipped|"
        r"stuck|on hold|(?:still )?waiting|awaiting)\b",
        OPEN,
    ),
    (
        r"\b(?:in transit|on the way|on their way|on its way|en route|out for delivery|"
        r"being shipped|being delivered|underway|under way)\b",
        ["shipped"],
    ),
    (r"\b(?:fulfilled|fulfilled orders)\b", ["shipped", "delivered"]),
]

# Verbs that are also statuses when no date is attached ("delivered orders", "were returned").
STATUS_VERBS = {
    "shipped": "shipped",
    "dispatched": "shipped",
    "sent": "shipped",
    "delivered": "delivered",
    "arrived": "delivered",
    "canceled": "canceled",
    "cancelled": "canceled",
    "returned": "returned",
    "return": "returned",  # "did I ever return anything?"
    "pending": "pending",
    "processing": "processing",
    "refunded": "returned",
}
# Status verbs that are not a status when a destination follows: "shipped to Berlin".
DESTINATION_VERBS = frozenset({"shipped", "dispatched", "sent"})


def rewrite_statuses(text: str) -> str:
    """Multi-word status verbs as the canonical verb (on the lower-cased question)."""
    for pattern, replacement in STATUS_REWRITES:
        text = re.sub(pattern, replacement, text)
    return text
