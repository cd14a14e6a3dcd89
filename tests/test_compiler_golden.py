"""Golden SQL: a Query compiles to exactly this SQLite SQL, with every value a bound parameter.

Like SQLAlchemy's own ``assert_compile``: the statement is compiled for the sqlite dialect with
parameters shown as ``?`` and the parameter list checked in order. Whitespace is normalised.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from query_builders import INJECTION, cond, field, query, sort
from sqlalchemy.dialects import postgresql, sqlite

from nl2sql.compiler import Compiler


def compile_sqlite(spec: dict[str, Any], **options: Any) -> tuple[str, list[Any]]:
    statement = Compiler(**options).compile(spec).statement
    compiled = statement.compile(
        dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}
    )
    params = [compiled.params[name] for name in compiled.positiontup or []]
    return " ".join(str(compiled).split()), params


def sql(text: str) -> str:
    return " ".join(text.split())


ORDERS_SCOPED = (
    "(SELECT orders.id AS id, orders.customer_id AS customer_id, orders.status AS status, "
    "orders.ordered_at AS ordered_at, orders.shipped_at AS shipped_at, "
    "orders.expected_delivery_date AS expected_delivery_date, "
    "orders.delivered_at AS delivered_at, orders.canceled_at AS canceled_at, "
    "orders.total_amount AS total_amount FROM orders WHERE orders.customer_id = ?) AS orders"
)

GOLDEN: dict[str, tuple[dict[str, Any], dict[str, Any], str, list[Any]]] = {
    "plain select with filter, sort and limit": (
        query(
            "orders",
            [field("orders.id"), field("orders.status")],
            [cond("orders.status", "=", "Delivered")],
            [sort("orders.ordered_at", "desc")],
            limit=10,
        ),
        {},
        """SELECT orders.id AS "orders.id", orders.status AS "orders.status" FROM orders
        WHERE orders.status = ? ORDER BY orders.ordered_at DESC LIMIT ? OFFSET ?""",
        ["delivered", 11, 0],
    ),
    "default page size asks for one probe row more": (
        query("customers", [field("customers.name")]),
        {},
        'SELECT customers.name AS "customers.name" FROM customers LIMIT ? OFFSET ?',
        [101, 0],
    ),
    "limit above the hard cap is capped": (
        query("customers", [field("customers.name")], limit=50_000),
        {},
        'SELECT customers.name AS "customers.name" FROM customers LIMIT ? OFFSET ?',
        [1001, 0],
    ),
    "no columns means every column of the base table": (
        query("products", []),
        {},
        """SELECT products.id AS "products.id", products.name AS "products.name",
        products.category AS "products.category", products.price AS "products.price"
        FROM products LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "group by with count and having": (
        query(
            "orders",
            [field("orders.status"), field("orders.id", "count")],
            [cond("orders.id", ">", 100, aggregate="count")],
            [sort("orders.id", "desc", aggregate="count")],
        ),
        {},
        """SELECT orders.status AS "orders.status", count(*) AS "count(orders.id)"
        FROM orders GROUP BY orders.status HAVING count(*) > ?
        ORDER BY count(*) DESC LIMIT ? OFFSET ?""",
        [100, 101, 0],
    ),
    "sum, avg, min, max, count_distinct": (
        query(
            "orders",
            [
                field("orders.total_amount", "sum"),
                field("orders.total_amount", "avg"),
                field("orders.ordered_at", "min"),
                field("orders.ordered_at", "max"),
                field("orders.customer_id", "count_distinct"),
            ],
        ),
        {},
        """SELECT sum(orders.total_amount) AS "sum(orders.total_amount)",
        avg(orders.total_amount) AS "avg(orders.total_amount)",
        min(orders.ordered_at) AS "min(orders.ordered_at)",
        max(orders.ordered_at) AS "max(orders.ordered_at)",
        count(DISTINCT orders.customer_id) AS "count_distinct(orders.customer_id)"
        FROM orders LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "injection attempt is only a parameter": (
        query("orders", [field("orders.id")], [cond("customers.name", "=", INJECTION)]),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        JOIN customers ON orders.customer_id = customers.id
        WHERE customers.name = ? LIMIT ? OFFSET ?""",
        [INJECTION, 101, 0],
    ),
    "injection attempt in contains is escaped and bound": (
        query(
            "customers", [field("customers.id")], [cond("customers.city", "contains", INJECTION)]
        ),
        {},
        """SELECT customers.id AS "customers.id" FROM customers
        WHERE (lower(customers.city) LIKE '%' || lower(?) || '%' ESCAPE '/') LIMIT ? OFFSET ?""",
        [INJECTION, 101, 0],
    ),
    "contains escapes % and _": (
        query("products", [field("products.name")], [cond("products.name", "contains", "50%_/x")]),
        {},
        """SELECT products.name AS "products.name" FROM products
        WHERE (lower(products.name) LIKE '%' || lower(?) || '%' ESCAPE '/') LIMIT ? OFFSET ?""",
        ["50/%/_//x", 101, 0],
    ),
    "in and not in": (
        query(
            "orders",
            [field("orders.id")],
            [
                cond("orders.status", "in", ["pending", "PROCESSING"]),
                cond("orders.customer_id", "not in", [1, 2, 3]),
            ],
        ),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.status IN (?, ?) AND orders.customer_id IS NOT NULL
        AND (orders.customer_id NOT IN (?, ?, ?)) LIMIT ? OFFSET ?""",
        ["pending", "processing", 1, 2, 3, 101, 0],
    ),
    "is null ignores the value": (
        query(
            "orders",
            [field("orders.id")],
            [
                cond("orders.delivered_at", "is null", "whatever"),
                cond("orders.shipped_at", "is not null", None),
            ],
        ),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.delivered_at IS NULL AND orders.shipped_at IS NOT NULL LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "bare date on a datetime is the whole day": (
        query("orders", [field("orders.id")], [cond("orders.ordered_at", "=", "2024-03-05")]),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.ordered_at >= ? AND orders.ordered_at < ? LIMIT ? OFFSET ?""",
        [datetime(2024, 3, 5), datetime(2024, 3, 6), 101, 0],
    ),
    "after a bare date starts the next day": (
        query("orders", [field("orders.id")], [cond("orders.ordered_at", ">", "2024-12-31")]),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.ordered_at >= ? LIMIT ? OFFSET ?""",
        [datetime(2025, 1, 1), 101, 0],
    ),
    "not equal to a bare date is outside that day": (
        query("orders", [field("orders.id")], [cond("orders.shipped_at", "!=", "2024-02-29")]),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.shipped_at < ? OR orders.shipped_at >= ? LIMIT ? OFFSET ?""",
        [datetime(2024, 2, 29), datetime(2024, 3, 1), 101, 0],
    ),
    "in with bare dates on a datetime": (
        query(
            "orders",
            [field("orders.id")],
            [cond("orders.ordered_at", "in", ["2024-01-01", "2024-01-03"])],
        ),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.ordered_at >= ? AND orders.ordered_at < ?
        OR orders.ordered_at >= ? AND orders.ordered_at < ? LIMIT ? OFFSET ?""",
        [
            datetime(2024, 1, 1),
            datetime(2024, 1, 2),
            datetime(2024, 1, 3),
            datetime(2024, 1, 4),
            101,
            0,
        ],
    ),
    "timestamp with an offset is converted to UTC": (
        query(
            "orders",
            [field("orders.id")],
            [cond("orders.ordered_at", "<", "2024-01-01T02:00:00+02:00")],
        ),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.ordered_at < ? LIMIT ? OFFSET ?""",
        [datetime(2024, 1, 1, 0, 0), 101, 0],
    ),
    "date column takes a date": (
        query(
            "orders",
            [field("orders.id")],
            [cond("orders.expected_delivery_date", "<=", "2024-01-07")],
        ),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.expected_delivery_date <= ? LIMIT ? OFFSET ?""",
        [date(2024, 1, 7), 101, 0],
    ),
    "numbers are decimals": (
        query("orders", [field("orders.id")], [cond("orders.total_amount", ">=", 99.5)]),
        {},
        """SELECT orders.id AS "orders.id" FROM orders
        WHERE orders.total_amount >= ? LIMIT ? OFFSET ?""",
        [Decimal("99.5"), 101, 0],
    ),
    "late deliveries compare calendar days": (
        query(
            "orders",
            [field("orders.id", "count")],
            [
                cond(
                    "orders.delivered_at",
                    ">",
                    {"column_name": "orders.expected_delivery_date"},
                )
            ],
        ),
        {},
        """SELECT count(*) AS "count(orders.id)" FROM orders
        WHERE date(orders.delivered_at) > orders.expected_delivery_date LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "month bucket": (
        query(
            "orders",
            [field("orders.ordered_at", grain="month"), field("orders.id", "count")],
            order_by=[sort("orders.ordered_at")],
        ),
        {},
        """SELECT strftime('%Y-%m-01', orders.ordered_at) AS "month(orders.ordered_at)",
        count(*) AS "count(orders.id)" FROM orders
        GROUP BY strftime('%Y-%m-01', orders.ordered_at)
        ORDER BY strftime('%Y-%m-01', orders.ordered_at) ASC LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "week bucket starts on Monday": (
        query("orders", [field("orders.ordered_at", grain="week"), field("orders.id", "count")]),
        {},
        """SELECT date(orders.ordered_at, 'weekday 0', '-6 days') AS "week(orders.ordered_at)",
        count(*) AS "count(orders.id)" FROM orders
        GROUP BY date(orders.ordered_at, 'weekday 0', '-6 days') LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "join to one: orders to customers": (
        query(
            "orders",
            [field("customers.country"), field("orders.total_amount", "sum")],
            order_by=[sort("orders.total_amount", "desc", "sum")],
            limit=5,
        ),
        {},
        """SELECT customers.country AS "customers.country",
        sum(orders.total_amount) AS "sum(orders.total_amount)"
        FROM orders JOIN customers ON orders.customer_id = customers.id
        GROUP BY customers.country ORDER BY sum(orders.total_amount) DESC LIMIT ? OFFSET ?""",
        [6, 0],
    ),
    "join to many is an outer join; counting the many side": (
        query("customers", [field("customers.name"), field("orders.id", "count")]),
        {},
        """SELECT customers.name AS "customers.name", count(orders.id) AS "count(orders.id)"
        FROM customers LEFT OUTER JOIN orders ON customers.id = orders.customer_id
        GROUP BY customers.name LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "filter on the many side is a semi-join": (
        query("orders", [field("orders.id", "count")], [cond("products.category", "=", "Books")]),
        {},
        """SELECT count(*) AS "count(orders.id)" FROM orders
        WHERE EXISTS (SELECT 1 FROM order_items AS order_items_match
        JOIN products AS products_match ON order_items_match.product_id = products_match.id
        WHERE order_items_match.order_id = orders.id AND products_match.category = ?)
        LIMIT ? OFFSET ?""",
        ["Books", 101, 0],
    ),
    "count of base keys through a repeating join is distinct": (
        query("orders", [field("products.category"), field("orders.id", "count")]),
        {},
        """SELECT products.category AS "products.category",
        count(DISTINCT orders.id) AS "count(orders.id)"
        FROM orders LEFT OUTER JOIN order_items ON orders.id = order_items.order_id
        JOIN products ON order_items.product_id = products.id
        GROUP BY products.category LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "sum through a repeating join is over de-duplicated rows": (
        query("orders", [field("products.category"), field("orders.total_amount", "sum")]),
        {},
        """SELECT anon_1.v0 AS "products.category", sum(anon_1.v1) AS "sum(orders.total_amount)"
        FROM (SELECT DISTINCT orders.id AS row_key, products.category AS v0,
        orders.total_amount AS v1
        FROM orders LEFT OUTER JOIN order_items ON orders.id = order_items.order_id
        JOIN products ON order_items.product_id = products.id) AS anon_1
        GROUP BY anon_1.v0 LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "computed line_total": (
        query(
            "order_items",
            [field("products.category"), field("order_items.line_total", "sum")],
        ),
        {},
        """SELECT products.category AS "products.category",
        sum(order_items.quantity * order_items.unit_price) AS "sum(order_items.line_total)"
        FROM order_items JOIN products ON order_items.product_id = products.id
        GROUP BY products.category LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "tenant scope replaces orders with the customer's rows": (
        query("orders", [field("orders.id")], [cond("orders.status", "=", "shipped")]),
        {"customer_id": 7},
        f"""SELECT orders.id AS "orders.id" FROM {ORDERS_SCOPED}
        WHERE orders.status = ? LIMIT ? OFFSET ?""",
        [7, "shipped", 101, 0],
    ),
    "tenant scope leaves products alone": (
        query("products", [field("products.name")]),
        {"customer_id": 7},
        'SELECT products.name AS "products.name" FROM products LIMIT ? OFFSET ?',
        [101, 0],
    ),
    "tenant scope reaches order_items through their order": (
        query("order_items", [field("order_items.id")]),
        {"customer_id": 7},
        """SELECT order_items.id AS "order_items.id" FROM (SELECT order_items.id AS id,
        order_items.order_id AS order_id, order_items.product_id AS product_id,
        order_items.quantity AS quantity, order_items.unit_price AS unit_price
        FROM order_items WHERE order_items.order_id IN
        (SELECT orders.id FROM orders WHERE orders.customer_id = ?)) AS order_items
        LIMIT ? OFFSET ?""",
        [7, 101, 0],
    ),
    # -- what analysts ask every day (issue 12) --
    "a rate: a filtered aggregate over the same aggregate unfiltered": (
        query(
            "orders",
            [
                field(
                    "orders.id",
                    "count",
                    filter=[cond("orders.status", "=", "returned")],
                    share="group",
                )
            ],
            [cond("customers.country", "=", "Brazil")],
        ),
        {},
        """SELECT CAST(count(*) FILTER (WHERE orders.status = ?) AS FLOAT) /
        (nullif(count(*), ?) + 0.0) AS "share(count(orders.id where orders.status =
        returned))" FROM orders JOIN customers ON orders.customer_id = customers.id WHERE
        customers.country = ? LIMIT ? OFFSET ?""",
        ["returned", 0, "Brazil", 101, 0],
    ),
    "a share of all groups' total is a window over the groups": (
        query(
            "order_items",
            [field("products.category"), field("order_items.quantity", "sum", share="total")],
        ),
        {},
        """SELECT products.category AS "products.category", CAST(sum(order_items.quantity)
        AS FLOAT) /
        (nullif(sum(sum(order_items.quantity)) OVER (), ?) + 0.0) AS
        "share_of_total(sum(order_items.quantity))" FROM order_items JOIN products ON
        order_items.product_id = products.id GROUP BY products.category LIMIT ? OFFSET ?""",
        [0, 101, 0],
    ),
    "days between two timestamps, as a condition": (
        query(
            "orders",
            [field("orders.id", "count")],
            [cond("orders.shipped_at", ">", 7, days_from="orders.ordered_at")],
        ),
        {},
        """SELECT count(*) AS "count(orders.id)" FROM orders WHERE
        (julianday(orders.shipped_at) - julianday(orders.ordered_at)) > ? LIMIT ? OFFSET ?""",
        [Decimal("7"), 101, 0],
    ),
    "change from the previous period is a lag over the time buckets": (
        query(
            "orders",
            [
                field("orders.ordered_at", grain="month"),
                field("orders.id", "count", change="difference"),
            ],
        ),
        {},
        """SELECT strftime('%Y-%m-01', orders.ordered_at) AS "month(orders.ordered_at)",
        count(*) - lag(count(*)) OVER (ORDER BY strftime('%Y-%m-01',
        orders.ordered_at)) AS "change(count(orders.id))" FROM orders GROUP BY strftime('%Y-%m-01',
        orders.ordered_at) LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "any_of ORs its conditions, on top of the ANDed ones": (
        query(
            "orders",
            [field("orders.id", "count")],
            [cond("customers.country", "=", "Japan")],
            any_of=[
                cond("orders.status", "=", "returned"),
                cond("products.category", "=", "Books"),
            ],
        ),
        {},
        """SELECT count(*) AS "count(orders.id)" FROM orders JOIN customers ON
        orders.customer_id = customers.id WHERE customers.country = ? AND (orders.status = ? OR
        (EXISTS (SELECT 1 FROM order_items AS order_items_match JOIN products AS products_match ON
        order_items_match.product_id = products_match.id WHERE order_items_match.order_id =
        orders.id AND products_match.category = ?))) LIMIT ? OFFSET ?""",
        ["Japan", "returned", "Books", 101, 0],
    ),
    "between binds both ends, a bare date on a timestamp to the end of its day": (
        query(
            "orders",
            [field("orders.id", "count")],
            [cond("orders.ordered_at", "between", ["2025-01-01", "2025-03-31"])],
        ),
        {},
        """SELECT count(*) AS "count(orders.id)" FROM orders WHERE
        orders.ordered_at >= ? AND
        orders.ordered_at < ? LIMIT ? OFFSET ?""",
        [datetime(2025, 1, 1, 0, 0), datetime(2025, 4, 1, 0, 0), 101, 0],
    ),
    "top rows per group: the finished rows, ranked within each group": (
        query(
            "products",
            [field("products.category"), field("products.name")],
            [],
            [sort("products.price")],
            per_group_limit={"column": "products.category", "limit": 2},
        ),
        {},
        """SELECT ranked."products.category", ranked."products.name" FROM (SELECT
        rows."products.category" AS "products.category", rows."products.name" AS
        "products.name", rows.row_group AS row_group, rows.sort_key0 AS sort_key0,
        row_number() OVER (PARTITION BY rows.row_group ORDER BY rows.sort_key0 ASC) AS
        row_rank FROM (SELECT products.category AS "products.category", products.name AS
        "products.name", products.category AS row_group, products.price AS sort_key0 FROM
        products) AS rows) AS ranked WHERE ranked.row_rank <= ? ORDER BY ranked.row_group,
        ranked.sort_key0 ASC LIMIT ? OFFSET ?""",
        [2, 101, 0],
    ),
    "above the average of the rows like it: a correlated aggregate": (
        query(
            "products",
            [field("products.id")],
            [
                cond(
                    "products.price",
                    ">",
                    {
                        "column_name": "products.price",
                        "aggregate": "avg",
                        "within": "products.category",
                    },
                )
            ],
        ),
        {},
        """SELECT products.id AS "products.id" FROM products WHERE products.price > (SELECT
        avg(all_rows.value) AS avg_1 FROM (SELECT DISTINCT products_all.id AS id, products_all.price
        AS value, products_all.category AS within FROM products AS products_all) AS all_rows WHERE
        all_rows.within = products.category) LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "an average of per-customer totals aggregates twice": (
        query("orders", [field("orders.total_amount", "sum", average_per="customers.id")]),
        {},
        """SELECT avg(per_value."sum(orders.total_amount)") AS "avg(sum(orders.total_amount) per
        customers.id)" FROM (SELECT customers.id AS "customers.id", sum(orders.total_amount) AS
        "sum(orders.total_amount)" FROM orders JOIN customers ON orders.customer_id = customers.id
        GROUP BY customers.id) AS per_value LIMIT ? OFFSET ?""",
        [101, 0],
    ),
    "a tenant's rate reads only their rows": (
        query(
            "orders",
            [
                field(
                    "orders.id",
                    "count",
                    filter=[cond("orders.status", "=", "returned")],
                    share="group",
                )
            ],
        ),
        {"customer_id": 13},
        """SELECT CAST(count(*) FILTER (WHERE orders.status = ?) AS FLOAT) /
        (nullif(count(*), ?) + 0.0) AS "share(count(orders.id where orders.status =
        returned))" FROM (SELECT orders.id AS id, orders.customer_id AS customer_id, orders.status
        AS status, orders.ordered_at AS ordered_at, orders.shipped_at AS shipped_at,
        orders.expected_delivery_date AS expected_delivery_date, orders.delivered_at AS
        delivered_at, orders.canceled_at AS canceled_at, orders.total_amount AS total_amount FROM
        orders WHERE orders.customer_id = ?) AS orders LIMIT ? OFFSET ?""",
        ["returned", 0, 13, 101, 0],
    ),
}


@pytest.mark.parametrize(
    ("spec", "options", "expected_sql", "expected_params"),
    list(GOLDEN.values()),
    ids=list(GOLDEN),
)
def test_golden_sql(
    spec: dict[str, Any], options: dict[str, Any], expected_sql: str, expected_params: list[Any]
) -> None:
    actual_sql, actual_params = compile_sqlite(spec, **options)
    assert actual_sql == sql(expected_sql)
    assert actual_params == expected_params
    assert [type(p) for p in actual_params] == [type(p) for p in expected_params]


def test_injection_text_never_reaches_the_sql_text() -> None:
    for name, (spec, options, _, _) in GOLDEN.items():
        if "injection" not in name:
            continue
        statement = Compiler(**options).compile(spec).statement
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            text = str(statement.compile(dialect=dialect))
            assert "DROP" not in text
            assert "x'" not in text


def test_compiling_twice_gives_the_same_sql() -> None:
    spec = GOLDEN["sum through a repeating join is over de-duplicated rows"][0]
    assert compile_sqlite(spec) == compile_sqlite(spec)


def test_compiled_labels_and_kinds() -> None:
    compiled = Compiler().compile(
        query(
            "orders",
            [
                field("orders.ordered_at", grain="quarter"),
                field("orders.status"),
                field("orders.id", "count"),
                field("orders.total_amount", "avg"),
                field("orders.ordered_at", "max"),
            ],
        )
    )
    assert compiled.labels == [
        "quarter(orders.ordered_at)",
        "orders.status",
        "count(orders.id)",
        "avg(orders.total_amount)",
        "max(orders.ordered_at)",
    ]
    assert compiled.kinds == ["date", "text", "integer", "number", "datetime"]
    assert compiled.limit == 100


def test_statement_prints_without_a_dialect() -> None:
    # str(statement) (logs, debugging, other dialects) must not fail on the date constructs.
    spec = query(
        "orders",
        [field("orders.ordered_at", grain="week"), field("orders.id", "count")],
        [cond("orders.delivered_at", ">", {"column_name": "orders.expected_delivery_date"})],
    )
    printed = str(Compiler().compile(spec).statement)
    assert "date_trunc('week', orders.ordered_at)" in printed
    assert "CAST(orders.delivered_at AS DATE) > orders.expected_delivery_date" in printed


def test_postgresql_buckets_and_day_casts() -> None:
    spec = query(
        "orders",
        [field("orders.ordered_at", grain="quarter"), field("orders.id", "count")],
        [cond("orders.delivered_at", ">", {"column_name": "orders.expected_delivery_date"})],
    )
    statement = Compiler().compile(spec).statement
    printed = " ".join(str(statement.compile(dialect=postgresql.dialect())).split())
    assert (
        "to_char(date_trunc('quarter', orders.ordered_at), 'YYYY-MM-DD') "
        'AS "quarter(orders.ordered_at)"' in printed
    )
    assert "CAST(orders.delivered_at AS DATE) > orders.expected_delivery_date" in printed
