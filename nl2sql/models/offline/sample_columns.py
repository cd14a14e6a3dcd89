"""The columns of nl2sql's own schema that the tuned offline grammar reads.

Named once, from the tables in ``schema.py``: the grammar was written for that schema and
serves only it (any other database gets ``any_schema.py``), and a renamed column fails here, at
import, instead of silently in a question.
"""

from __future__ import annotations

from nl2sql import schema


def _qualified(table: str, column: str) -> str:
    if column in schema.TABLES[table].c:
        return f"{table}.{column}"
    computed = next(c for c in schema.COMPUTED_COLUMNS if (c.table, c.name) == (table, column))
    return f"{computed.table}.{computed.name}"


CUSTOMERS__CITY = _qualified("customers", "city")
CUSTOMERS__COUNTRY = _qualified("customers", "country")
CUSTOMERS__CREATED_AT = _qualified("customers", "created_at")
CUSTOMERS__EMAIL = _qualified("customers", "email")
CUSTOMERS__ID = _qualified("customers", "id")
CUSTOMERS__NAME = _qualified("customers", "name")
ORDERS__CANCELED_AT = _qualified("orders", "canceled_at")
ORDERS__DELIVERED_AT = _qualified("orders", "delivered_at")
ORDERS__EXPECTED_DELIVERY_DATE = _qualified("orders", "expected_delivery_date")
ORDERS__ID = _qualified("orders", "id")
ORDERS__ORDERED_AT = _qualified("orders", "ordered_at")
ORDERS__SHIPPED_AT = _qualified("orders", "shipped_at")
ORDERS__STATUS = _qualified("orders", "status")
ORDERS__TOTAL_AMOUNT = _qualified("orders", "total_amount")
ORDER_ITEMS__ID = _qualified("order_items", "id")
ORDER_ITEMS__LINE_TOTAL = _qualified("order_items", "line_total")
ORDER_ITEMS__QUANTITY = _qualified("order_items", "quantity")
ORDER_ITEMS__UNIT_PRICE = _qualified("order_items", "unit_price")
PRODUCTS__CATEGORY = _qualified("products", "category")
PRODUCTS__ID = _qualified("products", "id")
PRODUCTS__NAME = _qualified("products", "name")
PRODUCTS__PRICE = _qualified("products", "price")
