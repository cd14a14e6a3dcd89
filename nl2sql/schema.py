"""The orders database, defined once.

These SQLAlchemy Core tables are the single source of truth: Alembic migrates from them, the
Query tool's enums are built from them, and the compiler resolves names against them. Every
column's ``comment`` is the description the model is shown; its ``info`` holds what people call
it (``phrase``, ``verb`` for dates: "placed"), its ``unit`` and its allowed ``values``; a table's
``info`` names its rows (``row``, ``rows``). The English of ``understood`` is read from there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

ORDER_STATUSES: tuple[str, ...] = (
    "pending",
    "processing",
    "shipped",
    "delivered",
    "canceled",
    "returned",
)

# Stable constraint names make migrations reproducible on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(
    naming_convention=NAMING_CONVENTION,
    info={
        "description": "the shop's orders database",
        "notes": (
            "Money is in dollars. Timestamps are UTC. Revenue is sum of order_items.line_total. "
            "Late delivery: orders.delivered_at > orders.expected_delivery_date (DynamicValue). "
            "Rows with no related rows (customers without orders): condition orders.id 'is null'; "
            "other conditions on that table then say which related rows must not exist.",
        ),
    },
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, comment="Order id.", info={"phrase": "order id"}),
    Column(
        "customer_id",
        Integer,
        ForeignKey("customers.id"),
        nullable=False,
        comment="The customer who placed the order.",
        info={"phrase": "customer id"},
    ),
    Column(
        "status",
        String(20),
        nullable=False,
        comment="Order status: " + ", ".join(ORDER_STATUSES) + ".",
        info={"phrase": "status", "values": ORDER_STATUSES},
    ),
    Column(
        "ordered_at",
        DateTime,
        nullable=False,
        comment="When the order was placed (UTC).",
        info={"phrase": "order date", "verb": "placed"},
    ),
    Column(
        "shipped_at",
        DateTime,
        nullable=True,
        comment="When it shipped (UTC); null if not yet.",
        info={"phrase": "ship date", "verb": "shipped"},
    ),
    Column(
        "expected_delivery_date",
        Date,
        nullable=False,
        comment="The delivery date promised to the customer.",
        info={"phrase": "promised delivery date", "verb": "due"},
    ),
    Column(
        "delivered_at",
        DateTime,
        nullable=True,
        comment="When it was delivered (UTC); null if not delivered.",
        info={"phrase": "delivery date", "verb": "delivered"},
    ),
    Column(
        "canceled_at",
        DateTime,
        nullable=True,
        comment="When it was canceled (UTC); null unless canceled.",
        info={"phrase": "cancel date", "verb": "canceled"},
    ),
    Column(
        "total_amount",
        Numeric(12, 2),
        nullable=False,
        comment="Order total in dollars (sum of its line totals).",
        info={
            "phrase": "order value",
            "unit": "money",
            "derived_from": ("order_items.line_total",),
        },
    ),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in ORDER_STATUSES) + ")",
        name="status_allowed",
    ),
    comment="Orders placed by customers.",
    info={"row": "order", "rows": "orders"},
)

customers = Table(
    "customers",
    metadata,
    Column(
        "id",
        Integer,
        primary_key=True,
        comment="Customer id.",
        info={"phrase": "customer id", "tenant": "key"},
    ),
    Column(
        "name",
        String(200),
        nullable=False,
        comment="Customer's full name.",
        info={"phrase": "customer"},
    ),
    Column(
        "email",
        String(320),
        nullable=False,
        unique=True,
        comment="Customer's email address.",
        info={"phrase": "customer email"},
    ),
    Column(
        "country",
        String(100),
        nullable=False,
        comment="Country the customer lives in, English name (e.g. Germany, United States).",
        info={"phrase": "customer country"},
    ),
    Column(
        "city",
        String(100),
        nullable=False,
        comment="City the customer lives in.",
        info={"phrase": "customer city"},
    ),
    Column(
        "created_at",
        DateTime,
        nullable=False,
        comment="When the customer signed up (UTC).",
        info={"phrase": "sign-up date", "verb": "signed up"},
    ),
    comment="People who place orders.",
    info={"row": "customer", "rows": "customers"},
)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, comment="Product id.", info={"phrase": "product id"}),
    Column(
        "name", String(200), nullable=False, comment="Product name.", info={"phrase": "product"}
    ),
    Column(
        "category",
        String(100),
        nullable=False,
        comment="Product category (e.g. Electronics, Books, Clothing).",
        info={"phrase": "category"},
    ),
    Column(
        "price",
        Numeric(10, 2),
        nullable=False,
        comment="Current list price in dollars.",
        info={"phrase": "price", "unit": "money"},
    ),
    comment="Things the shop sells.",
    info={"row": "product", "rows": "products", "tenant": "shared"},
)

order_items = Table(
    "order_items",
    metadata,
    Column(
        "id", Integer, primary_key=True, comment="Order line id.", info={"phrase": "order line id"}
    ),
    Column(
        "order_id",
        Integer,
        ForeignKey("orders.id"),
        nullable=False,
        comment="The order this line belongs to.",
        info={"phrase": "order id"},
    ),
    Column(
        "product_id",
        Integer,
        ForeignKey("products.id"),
        nullable=False,
        comment="The product bought.",
        info={"phrase": "product id"},
    ),
    Column(
        "quantity",
        Integer,
        nullable=False,
        comment="Units bought (at least 1).",
        info={"phrase": "units"},
    ),
    Column(
        "unit_price",
        Numeric(10, 2),
        nullable=False,
        comment="Price per unit paid, in dollars.",
        info={"phrase": "unit price", "unit": "money"},
    ),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    comment="Lines of an order: one product, a quantity and the price paid.",
    info={"row": "order line", "rows": "order lines"},
)

Index("ix_orders_status", orders.c.status)
Index("ix_orders_ordered_at", orders.c.ordered_at)
# (customer_id, ordered_at) serves a customer's orders in a period and any lookup by customer.
Index("ix_orders_customer_id_ordered_at", orders.c.customer_id, orders.c.ordered_at)
Index("ix_orders_shipped_at", orders.c.shipped_at)
Index("ix_orders_delivered_at", orders.c.delivered_at)
Index("ix_orders_canceled_at", orders.c.canceled_at)
Index("ix_orders_expected_delivery_date", orders.c.expected_delivery_date)
Index("ix_order_items_order_id", order_items.c.order_id)
Index("ix_order_items_product_id", order_items.c.product_id)
Index("ix_customers_country", customers.c.country)

TABLES: dict[str, Table] = dict(metadata.tables)


@dataclass(frozen=True)
class ComputedColumn:
    """A column computed in SQL from its table's stored columns, never stored itself."""

    table: str
    name: str
    type: TypeEngine
    description: str
    expression: Callable[[Table], ColumnElement]
    info: Mapping[str, Any] = field(default_factory=dict)  # as Column.info: phrase, unit


COMPUTED_COLUMNS: tuple[ComputedColumn, ...] = (
    ComputedColumn(
        table="order_items",
        name="line_total",
        type=Numeric(12, 2),
        description="quantity * unit_price in dollars; sum it for revenue.",
        expression=lambda t: t.c.quantity * t.c.unit_price,
        info={"phrase": "revenue", "unit": "money"},
    ),
)
