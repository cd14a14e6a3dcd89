"""Revenue narrowed to products: the line totals of the matching items, not whole orders.

"Toys revenue", "customers who spent over $500 on books", "revenue by month" -> "now just for
toys": once a product or category filter applies, sum(orders.total_amount) would add up every
order that *contains* a toy, other items included. Revenue of toys is the sum of
order_items.line_total over the toy items. Averages stay per order ("average order value for
toys" is the average of orders containing toys); only sums are rewritten.
"""

from __future__ import annotations

from typing import Any

from nl2sql.models.offline.sample_columns import (
    ORDER_ITEMS__LINE_TOTAL,
    ORDERS__TOTAL_AMOUNT,
)

ORDER_REVENUE = ORDERS__TOTAL_AMOUNT
ITEM_REVENUE = ORDER_ITEMS__LINE_TOTAL
ITEM_PREFIXES = ("products.", "order_items.")


def filters_items(query: dict[str, Any]) -> bool:
    """A row filter on products or order lines ("category = Toys"), or groups of them
    ("revenue by category": each order's total would be added to every category it holds)."""
    return any(
        c["column"].startswith(ITEM_PREFIXES) and not c["aggregate"]
        for c in query["conditions"] + query["columns"]
    )


def revenue_of_items(query: dict[str, Any]) -> dict[str, Any]:
    """Sums of order totals become sums of line totals when the query narrows to items."""
    if not filters_items(query):
        return query
    changed = False
    for key in ("columns", "conditions", "order_by"):
        for item in query[key]:
            if item["column"] == ORDER_REVENUE and item["aggregate"] == "sum":
                item["column"] = ITEM_REVENUE
                changed = True
    if changed and query["table_name"] == "orders":
        query["table_name"] = "order_items"
    return query
