"""Deterministic sample data: the committed CSVs and large benchmark databases.

Everything comes from one seeded random generator, streamed day by day so memory stays flat
however many orders are asked for. Orders are placed between ``FIRST_DAY`` and ``LAST_DAY``
(both included); statuses are decided against the snapshot moment at the end of ``LAST_DAY``,
so the last days hold pending, processing and in-transit orders, as a live shop would.

Run ``python -m nl2sql.sample_data --help`` (or ``nl2sql db generate``).
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect

from nl2sql.errors import ConfigError

FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2026, 11, 28)
SNAPSHOT = datetime.combine(LAST_DAY, datetime.max.time()).replace(microsecond=0)
SAMPLE_ORDERS = 2400
SAMPLE_SEED = 20261128
HOUR = timedelta(hours=1)

CITIES: dict[str, tuple[str, ...]] = {
    "United States": ("New York", "Chicago", "Austin", "Seattle", "Boston", "Denver"),
    "United Kingdom": ("London", "Manchester", "Edinburgh", "Bristol"),
    "Germany": ("Berlin", "Munich", "Hamburg", "Cologne"),
    "France": ("Paris", "Lyon", "Marseille", "Toulouse"),
    "Canada": ("Toronto", "Vancouver", "Montreal", "Calgary"),
    "Japan": ("Tokyo", "Osaka", "Kyoto", "Sapporo"),
    "Australia": ("Sydney", "Melbourne", "Brisbane", "Perth"),
    "Brazil": ("Sao Paulo", "Rio de Janeiro", "Curitiba", "Recife"),
    "Spain": ("Madrid", "Barcelona", "Valencia"),
    "Italy": ("Rome", "Milan", "Turin"),
}
# Relative weight of each country's customer base.
COUNTRY_WEIGHTS = (30, 12, 12, 9, 9, 7, 7, 7, 4, 3)

FIRST_NAMES = (
    "Olivia Liam Emma Noah Ava Lucas Mia Leon Sofia Hugo Yuki Haruto Chloe Jack Isla Oscar "
    "Lena Felix Camille Louis Ana Pedro Maria Joao Ethan Grace Hannah Jonas Clara Mateo "
    "Sakura Ren Amelia Henry Zoe Samuel Alice Theo Julia Marco"
).split()
LAST_NAMES = (
    "Smith Johnson Brown Miller Davis Wilson Taylor Clark Lewis Walker Mueller Schmidt "
    "Schneider Fischer Martin Bernard Dubois Moreau Tanaka Suzuki Sato Silva Santos Oliveira "
    "Costa Nguyen Campbell Murphy Roy Tremblay Rossi Garcia Lopez Kelly Evans"
).split()

# (name, category, price in cents)
PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("Wireless Mouse", "Electronics", 2499),
    ("Mechanical Keyboard", "Electronics", 8999),
    ("USB-C Charger", "Electronics", 2999),
    ("Noise Cancelling Headphones", "Electronics", 24999),
    ("4K Monitor", "Electronics", 37999),
    ("Smart Watch", "Electronics", 19999),
    ("Bluetooth Speaker", "Electronics", 5999),
    ("Laptop Stand", "Electronics", 3999),
    ("The Pragmatic Cook", "Books", 2450),
    ("Mystery at Midnight", "Books", 1299),
    ("Learning SQL", "Books", 3999),
    ("Space Atlas", "Books", 2999),
    ("Garden Year Planner", "Books", 1599),
    ("Classic Poems", "Books", 999),
    ("Cotton T-Shirt", "Clothing", 1999),
    ("Denim Jacket", "Clothing", 7999),
    ("Wool Sweater", "Clothing", 6499),
    ("Running Socks", "Clothing", 1299),
    ("Rain Coat", "Clothing", 11999),
    ("Chef Knife", "Home & Kitchen", 5999),
    ("Coffee Grinder", "Home & Kitchen", 4499),
    ("Cast Iron Pan", "Home & Kitchen", 3999),
    ("Blender", "Home & Kitchen", 8999),
    ("Linen Sheets", "Home & Kitchen", 9999),
    ("Tea Kettle", "Home & Kitchen", 3499),
    ("Yoga Mat", "Sports", 2999),
    ("Tennis Racket", "Sports", 12999),
    ("Football", "Sports", 2499),
    ("Cycling Helmet", "Sports", 6999),
    ("Water Bottle", "Sports", 1499),
    ("Building Blocks Set", "Toys", 4999),
    ("Puzzle 1000 Pieces", "Toys", 1999),
    ("Plush Bear", "Toys", 1599),
    ("Remote Control Car", "Toys", 5499),
    ("Board Game Night", "Toys", 3499),
    ("Aloe Face Cream", "Beauty", 2199),
    ("Shampoo Bar", "Beauty", 899),
    ("Perfume Citrus", "Beauty", 6999),
)

# Lines per order and units per line, with cumulative weights (most orders are small).
LINE_COUNTS, LINE_COUNT_WEIGHTS = (1, 2, 3, 4, 5), (40, 68, 85, 95, 100)
QUANTITIES, QUANTITY_WEIGHTS = (1, 2, 3, 4), (70, 88, 96, 100)

CUSTOMER_COLUMNS = ("id", "name", "email", "country", "city", "created_at")
PRODUCT_COLUMNS = ("id", "name", "category", "price")
ORDER_COLUMNS = (
    "id",
    "customer_id",
    "status",
    "ordered_at",
    "shipped_at",
    "expected_delivery_date",
    "delivered_at",
    "canceled_at",
    "total_amount",
)
ITEM_COLUMNS = ("id", "order_id", "product_id", "quantity", "unit_price")
CSV_FILES = {
    "customers": CUSTOMER_COLUMNS,
    "products": PRODUCT_COLUMNS,
    "orders": ORDER_COLUMNS,
    "order_items": ITEM_COLUMNS,
}


def format_timestamp(moment: datetime | None) -> str | None:
    """The text form SQLAlchemy uses for DateTime on SQLite, so string comparisons agree."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat(" ") + ".000000"


def format_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class Customer:
    id: int
    name: str
    email: str
    country: str
    city: str
    created_at: datetime


class Generator:
    """Streams customers, products, orders and items for a given order count and seed."""

    def __init__(self, order_count: int = SAMPLE_ORDERS, seed: int = SAMPLE_SEED) -> None:
        self.order_count = order_count
        self.rng = random.Random(seed)
        self.customers = self._make_customers(max(120, order_count // 16))
        self._signup_times = [c.created_at for c in self.customers]

    # -- customers and products -------------------------------------------------------------

    def _make_customers(self, count: int) -> list[Customer]:
        rng = self.rng
        countries = list(CITIES)
        span = (SNAPSHOT - datetime(2023, 1, 1)).total_seconds() - 40 * 86400
        signups = sorted(
            datetime(2023, 1, 1) + timedelta(seconds=int(span * rng.random() ** 1.6))
            for _ in range(count)
        )
        customers = []
        for index, created_at in enumerate(signups, start=1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            country = rng.choices(countries, COUNTRY_WEIGHTS)[0]
            customers.append(
                Customer(
                    id=index,
                    name=f"{first} {last}",
                    email=f"{first}.{last}.{index}@example.com".lower(),
                    country=country,
                    city=rng.choice(CITIES[country]),
                    created_at=created_at,
                )
            )
        return customers

    def customer_rows(self) -> Iterator[tuple]:
        for c in self.customers:
            yield (c.id, c.name, c.email, c.country, c.city, format_timestamp(c.created_at))

    @staticmethod
    def product_rows() -> Iterator[tuple]:
        for index, (name, category, cents) in enumerate(PRODUCTS, start=1):
            yield (index, name, category, format_cents(cents))

    # -- orders -----------------------------------------------------------------------------

    def _orders_per_day(self) -> Iterator[tuple[date, int]]:
        """Split the order count over the days: growing over time, busier in Nov/Dec."""
        days = (LAST_DAY - FIRST_DAY).days + 1
        weights = []
        for offset in range(days):
            day = FIRST_DAY + timedelta(days=offset)
            season = 1.5 if day.month in (11, 12) else 1.0
            weekend = 1.15 if day.weekday() >= 5 else 1.0
            weights.append((1.0 + offset / days) * season * weekend)
        scale = self.order_count / sum(weights)
        cumulative, placed = 0.0, 0
        for offset, weight in enumerate(weights):
            cumulative += weight * scale
            count = round(cumulative) - placed
            placed += count
            yield FIRST_DAY + timedelta(days=offset), count

    def orders_and_items(self) -> Iterator[tuple[tuple, list[tuple]]]:
        """Yield (order row, its item rows), in order id order."""
        order_id, item_id = 0, 0
        rng = self.rng
        for day, count in self._orders_per_day():
            start = datetime.combine(day, datetime.min.time())
            seconds = sorted(rng.randrange(86400) for _ in range(count))
            for second in seconds:
                ordered_at = start + timedelta(seconds=second)
                order_id += 1
                items, total_cents = self._items(order_id, item_id)
                item_id += len(items)
                customer_id = self._customer_for(ordered_at)
                yield self._order(order_id, customer_id, ordered_at, total_cents), items

    def _customer_for(self, ordered_at: datetime) -> int:
        """A customer who had signed up before the order; regulars order more often."""
        eligible = bisect_right(self._signup_times, ordered_at)
        index = int(eligible * self.rng.random() ** 1.3)
        return self.customers[min(index, eligible - 1)].id if eligible else 1

    def _items(self, order_id: int, first_item_id: int) -> tuple[list[tuple], int]:
        rng = self.rng
        line_count = rng.choices(LINE_COUNTS, cum_weights=LINE_COUNT_WEIGHTS)[0]
        product_ids = rng.sample(range(1, len(PRODUCTS) + 1), line_count)
        items, total = [], 0
        for offset, product_id in enumerate(product_ids, start=1):
            quantity = rng.choices(QUANTITIES, cum_weights=QUANTITY_WEIGHTS)[0]
            list_price = PRODUCTS[product_id - 1][2]
            # Some lines were bought on a 10% or 20% sale.
            unit = list_price if rng.random() < 0.85 else list_price * rng.choice((90, 80)) // 100
            total += quantity * unit
            items.append(
                (first_item_id + offset, order_id, product_id, quantity, format_cents(unit))
            )
        return items, total

    def _order(self, order_id: int, customer_id: int, ordered_at: datetime, cents: int) -> tuple:
        promised = ordered_at.date() + timedelta(days=self.rng.randint(4, 9))
        plan = self._plan(ordered_at)
        if self.rng.random() < 0.05:
            canceled_at = min(ordered_at + HOUR * self.rng.uniform(0.5, 72), SNAPSHOT)
            return self._order_row(
                order_id,
                customer_id,
                "canceled",
                ordered_at,
                None,
                promised,
                None,
                canceled_at,
                cents,
            )
        status, shipped_at, delivered_at = self._progress(plan)
        return self._order_row(
            order_id,
            customer_id,
            status,
            ordered_at,
            shipped_at,
            promised,
            delivered_at,
            None,
            cents,
        )

    def _plan(self, ordered_at: datetime) -> tuple[datetime, float, float]:
        """When the order is picked, and how many hours shipping and transit will take."""
        rng = self.rng
        # A few orders wait for weeks before anyone picks them.
        stuck = rng.random() < 0.025
        picked_at = ordered_at + HOUR * (rng.uniform(200, 900) if stuck else rng.uniform(0.2, 8))
        ship_hours = rng.uniform(300, 1100) if rng.random() < 0.02 else rng.uniform(6, 60)
        transit_hours = rng.uniform(500, 900) if rng.random() < 0.02 else rng.uniform(20, 90)
        if rng.random() < 0.08:  # a carrier delay: these usually arrive late
            transit_hours += rng.uniform(48, 200)
        if SNAPSHOT - ordered_at < timedelta(days=60) and rng.random() < 0.06:
            # Stuck now: never picked, never shipped, or lost in transit, until someone notices.
            stage = rng.choice(("pick", "ship", "transit"))
            never = (SNAPSHOT - ordered_at).total_seconds() / 3600 + 1
            if stage == "pick":
                picked_at = ordered_at + HOUR * never
            elif stage == "ship":
                ship_hours = never
            else:
                transit_hours = never
        return picked_at, ship_hours, transit_hours

    def _progress(
        self, plan: tuple[datetime, float, float]
    ) -> tuple[str, datetime | None, datetime | None]:
        """How far the order got by the snapshot: (status, shipped_at, delivered_at)."""
        picked_at, ship_hours, transit_hours = plan
        if picked_at > SNAPSHOT:
            return "pending", None, None
        shipped_at = picked_at + HOUR * ship_hours
        if shipped_at > SNAPSHOT:
            return "processing", None, None
        arrival = shipped_at + HOUR * transit_hours
        if arrival > SNAPSHOT:
            return "shipped", shipped_at, None
        returned = self.rng.random() < 0.04
        return ("returned" if returned else "delivered"), shipped_at, arrival

    @staticmethod
    def _order_row(
        order_id,
        customer_id,
        status,
        ordered_at,
        shipped_at,
        promised,
        delivered_at,
        canceled_at,
        cents,
    ) -> tuple:
        return (
            order_id,
            customer_id,
            status,
            format_timestamp(ordered_at),
            format_timestamp(shipped_at),
            promised.isoformat(),
            format_timestamp(delivered_at),
            format_timestamp(canceled_at),
            format_cents(cents),
        )


# -- writers ---------------------------------------------------------------------------------


def write_csv(directory: Path, order_count: int = SAMPLE_ORDERS, seed: int = SAMPLE_SEED) -> None:
    """Write the four CSV files (the committed sample is the default count and seed)."""
    directory.mkdir(parents=True, exist_ok=True)
    gen = Generator(order_count, seed)
    _write_rows(directory / "customers.csv", CUSTOMER_COLUMNS, gen.customer_rows())
    _write_rows(directory / "products.csv", PRODUCT_COLUMNS, gen.product_rows())
    with (
        open(directory / "orders.csv", "w", newline="") as orders_file,
        open(directory / "order_items.csv", "w", newline="") as items_file,
    ):
        orders_out, items_out = csv.writer(orders_file), csv.writer(items_file)
        orders_out.writerow(ORDER_COLUMNS)
        items_out.writerow(ITEM_COLUMNS)
        for order, items in gen.orders_and_items():
            orders_out.writerow(["" if v is None else v for v in order])
            items_out.writerows(items)


def _write_rows(path: Path, header: tuple[str, ...], rows: Iterator[tuple]) -> None:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)


def write_sqlite(
    path: Path, order_count: int, seed: int = SAMPLE_SEED, batch: int = 20_000
) -> None:
    """Build a large SQLite database quickly: schema by migration, rows in batches."""
    from nl2sql.database import create_schema_for_bulk_load, finish_bulk_load

    if path.exists():
        raise ConfigError(f"{path} already exists; remove it or choose another path.")
    url = f"sqlite:///{path}"
    create_schema_for_bulk_load(url)
    gen = Generator(order_count, seed)
    connection = sqlite3.connect(path)
    connection.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    with connection:
        connection.executemany(_insert_sql("customers", CUSTOMER_COLUMNS), gen.customer_rows())
        connection.executemany(_insert_sql("products", PRODUCT_COLUMNS), gen.product_rows())
        order_batch: list[tuple] = []
        item_batch: list[tuple] = []
        for order, items in gen.orders_and_items():
            order_batch.append(order)
            item_batch.extend(items)
            if len(order_batch) >= batch:
                _flush(connection, order_batch, item_batch)
        _flush(connection, order_batch, item_batch)
    connection.close()
    finish_bulk_load(url)


def _flush(connection: sqlite3.Connection, orders: list[tuple], items: list[tuple]) -> None:
    connection.executemany(_insert_sql("orders", ORDER_COLUMNS), orders)
    connection.executemany(_insert_sql("order_items", ITEM_COLUMNS), items)
    orders.clear()
    items.clear()


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


# Each table in load order (keys before the rows that refer to them), with its columns.
LOAD_ORDER = (
    ("customers", CUSTOMER_COLUMNS),
    ("products", PRODUCT_COLUMNS),
    ("orders", ORDER_COLUMNS),
    ("order_items", ITEM_COLUMNS),
)


def write_database(url: str, order_count: int, seed: int = SAMPLE_SEED) -> None:
    """Build a large database on PostgreSQL or DuckDB: the CSV files are written to a
    temporary folder as they are generated, then each table is bulk-loaded from its file
    (PostgreSQL COPY FROM STDIN, DuckDB COPY FROM), so memory stays flat at any size."""
    from nl2sql.database import describe_database_error

    try:
        _load_database(url, order_count, seed)
    except sa_exc.DBAPIError as error:
        raise describe_database_error(url, error) from None


def _load_database(url: str, order_count: int, seed: int) -> None:
    from nl2sql.database import create_schema_for_bulk_load, finish_bulk_load, make_engine

    engine = make_engine(url)
    try:
        if inspect(engine).get_table_names():
            raise ConfigError(f"{engine.url!r} already has tables; generate into an empty one.")
        create_schema_for_bulk_load(url)
        with tempfile.TemporaryDirectory(prefix="nl2sql-generate-") as folder:
            write_csv(Path(folder), order_count, seed)
            load = {"postgresql": _copy_postgresql, "duckdb": _copy_duckdb}
            backend = engine.url.get_backend_name()
            if backend not in load:
                raise ConfigError(f"db generate fills SQLite, PostgreSQL or DuckDB, not {backend}.")
            load[backend](engine, Path(folder))
    finally:
        engine.dispose()
    finish_bulk_load(url)


def _copy_postgresql(engine: Any, folder: Path) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, columns in LOAD_ORDER:
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, HEADER)"
            with open(folder / f"{table}.csv", "rb") as rows, cursor.copy(statement) as copy:
                while chunk := rows.read(1 << 20):
                    copy.write(chunk)
        raw.commit()
    finally:
        raw.close()


def _copy_duckdb(engine: Any, folder: Path) -> None:
    with engine.begin() as connection:
        for table, columns in LOAD_ORDER:
            path = str(folder / f"{table}.csv").replace("'", "''")
            connection.exec_driver_sql(
                f"COPY {table} ({', '.join(columns)}) FROM '{path}' (FORMAT csv, HEADER)"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=SAMPLE_ORDERS, help="how many orders")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--csv", type=Path, metavar="DIR", help="write the four CSV files here")
    target.add_argument("--sqlite", type=Path, metavar="FILE", help="write a new SQLite database")
    target.add_argument("--db", metavar="URL", help="fill an empty PostgreSQL or DuckDB database")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.csv:
        write_csv(args.csv, args.orders, args.seed)
    elif args.db:
        write_database(args.db, args.orders, args.seed)
    else:
        write_sqlite(args.sqlite, args.orders, args.seed)
    elapsed = time.perf_counter() - started
    print(f"{args.orders:,} orders written in {elapsed:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
