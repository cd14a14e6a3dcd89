"""Create the orders schema: customers, products, orders, order_items.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "'pending', 'processing', 'shipped', 'delivered', 'canceled', 'returned'"


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False, comment="Customer id."),
        sa.Column("name", sa.String(200), nullable=False, comment="Customer's full name."),
        sa.Column("email", sa.String(320), nullable=False, comment="Customer's email address."),
        sa.Column(
            "country",
            sa.String(100),
            nullable=False,
            comment="Country the customer lives in, English name (e.g. Germany, United States).",
        ),
        sa.Column("city", sa.String(100), nullable=False, comment="City the customer lives in."),
        sa.Column(
            "created_at",
            sa.DateTime(),
            nullable=False,
            comment="When the customer signed up (UTC).",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("email", name=op.f("uq_customers_email")),
        comment="People who place orders.",
    )
    op.create_index("ix_customers_country", "customers", ["country"])

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False, comment="Product id."),
        sa.Column("name", sa.String(200), nullable=False, comment="Product name."),
        sa.Column(
            "category",
            sa.String(100),
            nullable=False,
            comment="Product category (e.g. Electronics, Books, Clothing).",
        ),
        sa.Column(
            "price", sa.Numeric(10, 2), nullable=False, comment="Current list price in dollars."
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        comment="Things the shop sells.",
    )

    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False, comment="Order id."),
        sa.Column(
            "customer_id",
            sa.Integer(),
            nullable=False,
            comment="The customer who placed the order.",
        ),
        sa.Column(
            "status",
            sa.String(20),
            nullable=False,
            comment="Order status: pending, processing, shipped, delivered, canceled, returned.",
        ),
        sa.Column(
            "ordered_at", sa.DateTime(), nullable=False, comment="When the order was placed (UTC)."
        ),
        sa.Column(
            "shipped_at",
            sa.DateTime(),
            nullable=True,
            comment="When it shipped (UTC); null if not yet.",
        ),
        sa.Column(
            "expected_delivery_date",
            sa.Date(),
            nullable=False,
            comment="The delivery date promised to the customer.",
        ),
        sa.Column(
            "delivered_at",
            sa.DateTime(),
            nullable=True,
            comment="When it was delivered (UTC); null if not delivered.",
        ),
        sa.Column(
            "canceled_at",
            sa.DateTime(),
            nullable=True,
            comment="When it was canceled (UTC); null unless canceled.",
        ),
        sa.Column(
            "total_amount",
            sa.Numeric(12, 2),
            nullable=False,
            comment="Order total in dollars (sum of its line totals).",
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_orders_status_allowed")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_orders_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        comment="Orders placed by customers.",
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_index("ix_orders_expected_delivery_date", "orders", ["expected_delivery_date"])
    op.create_index("ix_orders_ordered_at", "orders", ["ordered_at"])
    op.create_index("ix_orders_status", "orders", ["status"])

    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer(), nullable=False, comment="Order line id."),
        sa.Column(
            "order_id", sa.Integer(), nullable=False, comment="The order this line belongs to."
        ),
        sa.Column("product_id", sa.Integer(), nullable=False, comment="The product bought."),
        sa.Column("quantity", sa.Integer(), nullable=False, comment="Units bought (at least 1)."),
        sa.Column(
            "unit_price",
            sa.Numeric(10, 2),
            nullable=False,
            comment="Price per unit paid, in dollars.",
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_items_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        comment="Lines of an order: one product, a quantity and the price paid.",
    )
    op.create_index("ix_order_items_order_id", "order_items", ["order_id"])
    op.create_index("ix_order_items_product_id", "order_items", ["product_id"])


def downgrade() -> None:
    op.drop_table("order_items")
    op.drop_table("orders")
    op.drop_table("products")
    op.drop_table("customers")
