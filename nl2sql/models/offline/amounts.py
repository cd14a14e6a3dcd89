"""Amounts and thresholds: "over $100", "at least 10 orders", "200 dollars or more"."""

from __future__ import annotations

import re

from nl2sql.words import singular

AMOUNT_CMP: list[tuple[str, str]] = [
    (
        r"more than|over|above|greater than|exceeding|bigger than|larger than|higher than|"
        r"in excess of|costing more than|worth more than|upwards of",
        ">",
    ),
    (r"at least|no less than|a minimum of|minimum of|min of", ">="),
    (
        r"less than|fewer than|under|below|cheaper than|lower than|smaller than|"
        r"costing less than",
        "<",
    ),
    (r"at most|no more than|a maximum of|maximum of|up to", "<="),
    (r"exactly|equal to", "="),
]
_CMP = "|".join(f"(?P<c{i}>{pattern})" for i, (pattern, _) in enumerate(AMOUNT_CMP))
AMOUNT_RE = re.compile(
    rf"\b(?:{_CMP}) \$? ?(?P<n>\d+(?:\.\d+)?)(?: ?(?P<cur>dollars?|usd|bucks))?"
    r"(?: (?P<noun>orders?|purchases?|products?|items?|units?|times|customers?))?\b"
)
AMOUNT_POST_RE = re.compile(
    r"\b\$? ?(?P<n>\d+(?:\.\d+)?)(?: ?(?P<cur>dollars?|usd|bucks))?"
    r"(?: (?P<pre>orders?|purchases?|products?|items?|units?|customers?))? or "
    r"(?P<dir>more|above|greater|higher|less|fewer|below|lower)"
    r"(?: (?P<noun>orders?|purchases?|products?|items?|units?|customers?))?\b"
)
POST_DIRECTION = {
    "more": ">=",
    "above": ">=",
    "greater": ">=",
    "higher": ">=",
    "less": "<=",
    "fewer": "<=",
    "below": "<=",
    "lower": "<=",
}

# (operator, number, singular noun or "dollar" or None): ("<", 50.0, "dollar")
Amount = tuple[str, float, str | None]


def read_amount(match: re.Match[str]) -> Amount:
    """What an AMOUNT_RE or AMOUNT_POST_RE match says."""
    if match.re is AMOUNT_RE:
        op = next(AMOUNT_CMP[i][1] for i in range(len(AMOUNT_CMP)) if match[f"c{i}"])
    else:
        op = POST_DIRECTION[match["dir"]]
    noun_text = match["noun"] or match.groupdict().get("pre")  # "200 orders or more"
    noun = singular(noun_text) if noun_text else None
    if noun is None and match["cur"]:
        noun = "dollar"
    return op, float(match["n"]), noun
