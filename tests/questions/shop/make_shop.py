#!/usr/bin/env python3
"""Build shop.sqlite3 (or the path given): a small bike-and-outdoor web shop (deterministic).

Written, with shop.toml and ../shop-blind.toml, by a helper who never saw nl2sql's code: a
database nl2sql was not made for, its config as a careful user would write it, and questions.

Tables: towns, members, catalog, sales, sale_lines, shipments, returns.
Run again to rebuild from scratch; the same seed gives the same database.
"""

import datetime as dt
import os
import random
import sqlite3
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.path.join(HERE, "shop.sqlite3")
TODAY = dt.date(2025, 12, 31)

random.seed(4217)

SCHEMA = """
PRAGMA foreign_keys = ON;

CREATE TABLE towns (
    town_id    INTEGER PRIMARY KEY,
    town_name  TEXT NOT NULL,
    country    TEXT NOT NULL,
    UNIQUE (town_name, country)
);

CREATE TABLE members (
    member_no  INTEGER PRIMARY KEY,
    full_name  TEXT NOT NULL,
    email      TEXT NOT NULL UNIQUE,
    town_id    INTEGER NOT NULL REFERENCES towns (town_id),
    tier       TEXT NOT NULL CHECK (tier IN ('bronze', 'silver', 'gold')),
    joined_on  TEXT NOT NULL              -- 'YYYY-MM-DD'
);

CREATE TABLE catalog (
    item_id     INTEGER PRIMARY KEY,
    item_name   TEXT NOT NULL UNIQUE,
    category    TEXT NOT NULL,
    brand       TEXT NOT NULL,
    list_price  NUMERIC NOT NULL          -- euros
);

CREATE TABLE sales (
    sale_id       INTEGER PRIMARY KEY,
    member_no     INTEGER NOT NULL REFERENCES members (member_no),
    placed_at     TEXT NOT NULL,          -- 'YYYY-MM-DD HH:MM:SS'
    state         TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    channel       TEXT NOT NULL,          -- web, app, phone
    order_total   NUMERIC NOT NULL,       -- euros, sum of its line amounts
    shipping_fee  NUMERIC NOT NULL        -- euros, not part of order_total
);

CREATE TABLE sale_lines (
    sale_id      INTEGER NOT NULL REFERENCES sales (sale_id),
    line_no      INTEGER NOT NULL,
    item_id      INTEGER NOT NULL REFERENCES catalog (item_id),
    qty          INTEGER NOT NULL,
    unit_price   NUMERIC NOT NULL,        -- euros charged per unit
    line_amount  NUMERIC NOT NULL,        -- euros, qty * unit_price
    PRIMARY KEY (sale_id, line_no)
);

CREATE TABLE shipments (
    shipment_id   INTEGER PRIMARY KEY,
    sale_id       INTEGER NOT NULL UNIQUE REFERENCES sales (sale_id),
    carrier       TEXT NOT NULL,
    shipped_on    TEXT NOT NULL,          -- 'YYYY-MM-DD'
    delivered_on  TEXT                    -- 'YYYY-MM-DD', NULL while in transit
);

CREATE TABLE returns (
    sale_id        INTEGER NOT NULL,
    line_no        INTEGER NOT NULL,
    returned_on    TEXT NOT NULL,         -- 'YYYY-MM-DD'
    reason         TEXT NOT NULL,
    refund_amount  NUMERIC NOT NULL,      -- euros
    PRIMARY KEY (sale_id, line_no),
    FOREIGN KEY (sale_id, line_no) REFERENCES sale_lines (sale_id, line_no)
);
"""

TOWNS = [
    ("Berlin", "Germany"),
    ("Munich", "Germany"),
    ("Hamburg", "Germany"),
    ("Freiburg", "Germany"),
    ("Amsterdam", "Netherlands"),
    ("Utrecht", "Netherlands"),
    ("Rotterdam", "Netherlands"),
    ("Lyon", "France"),
    ("Grenoble", "France"),
    ("Annecy", "France"),
    ("Copenhagen", "Denmark"),
    ("Aarhus", "Denmark"),
    ("Vienna", "Austria"),
    ("Innsbruck", "Austria"),
    ("Ghent", "Belgium"),
    ("Antwerp", "Belgium"),
]
# relative weights of member towns
TOWN_WEIGHTS = [9, 6, 5, 3, 8, 4, 3, 4, 3, 2, 5, 2, 4, 3, 3, 2]

FIRST = [
    "Anna",
    "Lukas",
    "Sophie",
    "Jonas",
    "Emma",
    "Finn",
    "Mia",
    "Noah",
    "Lena",
    "Elias",
    "Clara",
    "Paul",
    "Marie",
    "Felix",
    "Julia",
    "Max",
    "Sara",
    "Daan",
    "Lotte",
    "Bram",
    "Camille",
    "Hugo",
    "Chloé",
    "Louis",
    "Freja",
    "Mads",
    "Ida",
    "Oscar",
    "Nina",
    "Theo",
    "Eva",
    "Jan",
    "Ruby",
    "Milan",
    "Hanna",
    "Victor",
    "Lea",
    "Emil",
    "Isa",
    "Tom",
]
LAST = [
    "Müller",
    "Schmidt",
    "Fischer",
    "Weber",
    "Wagner",
    "Becker",
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Dubois",
    "Moreau",
    "Laurent",
    "Girard",
    "Nielsen",
    "Hansen",
    "Jensen",
    "Larsen",
    "Gruber",
    "Huber",
    "Bauer",
    "Peeters",
    "Janssens",
    "Maes",
    "Claes",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
]

CATALOG = [
    # (item_name, category, brand, list_price)
    ("Trailhawk 29 Hardtail", "Bikes", "Ridgeway", 1249.00),
    ("Urban Glide 7", "Bikes", "Velora", 689.00),
    ("Gravel Nomad GRX", "Bikes", "Ridgeway", 1890.00),
    ("Commuter E-Flow", "Bikes", "Velora", 2499.00),
    ("Kids Sprout 20", "Bikes", "Littlewheel", 329.00),
    ("Summit Full Suspension", "Bikes", "Ridgeway", 3150.00),
    ("Aero Road Helmet", "Helmets", "Cranium", 149.00),
    ("Trail MIPS Helmet", "Helmets", "Cranium", 119.00),
    ("City Shell Helmet", "Helmets", "Velora", 69.00),
    ("Kids Bubble Helmet", "Helmets", "Littlewheel", 39.00),
    ("Beam 800 Front Light", "Lights", "Lumeo", 59.00),
    ("Glow Rear Light", "Lights", "Lumeo", 24.00),
    ("Night Rider Light Set", "Lights", "Lumeo", 79.00),
    ("Dynamo Hub Light", "Lights", "Velora", 95.00),
    ("Fortress U-Lock", "Locks", "Keepsafe", 64.00),
    ("Fold Lock 900", "Locks", "Keepsafe", 89.00),
    ("Cable Coil Lock", "Locks", "Keepsafe", 19.00),
    ("Alpine Dome 2", "Tents", "Northpeak", 279.00),
    ("Basecamp Tunnel 4", "Tents", "Northpeak", 469.00),
    ("Ultralight Solo Tarp", "Tents", "Featherline", 159.00),
    ("Family Cabin 6", "Tents", "Northpeak", 649.00),
    ("Daypack 22", "Backpacks", "Featherline", 79.00),
    ("Trek 45 Backpack", "Backpacks", "Northpeak", 169.00),
    ("Hydration Pack 12", "Backpacks", "Ridgeway", 89.00),
    ("Expedition 65", "Backpacks", "Northpeak", 259.00),
    ("Down Mummy -5", "Sleeping Bags", "Featherline", 329.00),
    ("Summer Quilt 10", "Sleeping Bags", "Featherline", 139.00),
    ("Synthetic Rectangle 0", "Sleeping Bags", "Northpeak", 99.00),
    ("Rain Shell Jacket", "Apparel", "Northpeak", 189.00),
    ("Merino Base Layer", "Apparel", "Featherline", 74.00),
    ("Padded Cycling Shorts", "Apparel", "Velora", 59.00),
    ("Softshell Gloves", "Apparel", "Cranium", 34.00),
    ("Thermal Cycling Jersey", "Apparel", "Velora", 84.00),
    ("Multi-Tool 16", "Tools", "Keepsafe", 29.00),
    ("Floor Pump Pro", "Tools", "Keepsafe", 49.00),
    ("Chain Care Kit", "Tools", "Lumeo", 22.00),
    ("Torque Wrench Set", "Tools", "Keepsafe", 119.00),
    ("Puncture Repair Kit", "Tools", "Littlewheel", 9.00),
]
# popularity weights by category
CAT_WEIGHT = {
    "Bikes": 1.2,
    "Helmets": 2.0,
    "Lights": 2.6,
    "Locks": 2.0,
    "Tents": 1.0,
    "Backpacks": 1.4,
    "Sleeping Bags": 0.9,
    "Apparel": 2.2,
    "Tools": 2.4,
}

CARRIERS = ["DHL", "PostNL", "DPD", "UPS", "GLS"]
CARRIER_W = [5, 3, 3, 2, 2]
CHANNELS = ["web", "app", "phone"]
CHANNEL_W = [6, 3, 1]
REASONS = ["Wrong size", "Damaged in transit", "Changed mind", "Not as described"]


def rand_date(a: dt.date, b: dt.date) -> dt.date:
    return a + dt.timedelta(days=random.randint(0, (b - a).days))


def main(path: str = PATH) -> None:
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)

    con.executemany(
        "INSERT INTO towns VALUES (?, ?, ?)", [(i + 1, t, c) for i, (t, c) in enumerate(TOWNS)]
    )

    # members: unique names
    names = set()
    members = []
    n_members = 260
    while len(members) < n_members:
        name = f"{random.choice(FIRST)} {random.choice(LAST)}"
        if name in names:
            continue
        names.add(name)
        no = len(members) + 1
        email = (
            name.lower().replace(" ", ".").replace("ü", "ue").replace("é", "e")
        ) + "@example.com"
        town = random.choices(range(1, len(TOWNS) + 1), weights=TOWN_WEIGHTS)[0]
        tier = random.choices(["bronze", "silver", "gold"], weights=[6, 3, 1])[0]
        joined = rand_date(dt.date(2021, 3, 1), dt.date(2025, 11, 30))
        members.append((no, name, email, town, tier, joined.isoformat()))
    con.executemany("INSERT INTO members VALUES (?, ?, ?, ?, ?, ?)", members)
    # some members buy much more than others
    activity = {m[0]: random.lognormvariate(0, 0.9) for m in members}
    joined_of = {m[0]: dt.date.fromisoformat(m[5]) for m in members}

    con.executemany(
        "INSERT INTO catalog VALUES (?, ?, ?, ?, ?)",
        [(i + 1, *row) for i, row in enumerate(CATALOG)],
    )
    item_ids = list(range(1, len(CATALOG) + 1))
    item_w = [CAT_WEIGHT[c[1]] for c in CATALOG]
    price_of = {i + 1: c[3] for i, c in enumerate(CATALOG)}
    cat_of = {i + 1: c[1] for i, c in enumerate(CATALOG)}

    # sales: more every year, seasonal peak in spring/summer and December
    per_year = {2023: 480, 2024: 610, 2025: 760}
    month_w = [0.6, 0.6, 0.9, 1.2, 1.4, 1.4, 1.3, 1.2, 1.0, 0.8, 0.8, 1.3]
    sale_dates = []
    for year, n in per_year.items():
        for _ in range(n):
            month = random.choices(range(1, 13), weights=month_w)[0]
            first = dt.date(year, month, 1)
            last = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
            d = rand_date(first, last)
            t = dt.time(random.randint(6, 23), random.randint(0, 59), random.randint(0, 59))
            sale_dates.append(dt.datetime.combine(d, t))
    sale_dates.sort()

    sales, lines, shipments, returns = [], [], [], []
    for sid, placed in enumerate(sale_dates, start=1):
        eligible = [m for m in joined_of if joined_of[m] <= placed.date()]
        member = random.choices(eligible, weights=[activity[m] for m in eligible])[0]
        n_lines = random.choices([1, 2, 3, 4], weights=[45, 30, 17, 8])[0]
        chosen = []
        while len(chosen) < n_lines:
            it = random.choices(item_ids, weights=item_w)[0]
            if it not in chosen:
                chosen.append(it)
        promo = random.random() < 0.2
        total = 0.0
        for ln, it in enumerate(chosen, start=1):
            qty = (
                1
                if cat_of[it] in ("Bikes", "Tents")
                else random.choices([1, 2, 3], weights=[70, 22, 8])[0]
            )
            price = round(price_of[it] * (0.85 if promo else 1.0), 2)
            amount = round(qty * price, 2)
            total = round(total + amount, 2)
            lines.append((sid, ln, it, qty, price, amount))
        fee = 0.0 if total >= 100 else 4.95
        age = (TODAY - placed.date()).days
        if age <= 2:
            state = random.choice(["pending", "paid"])
        elif age <= 7:
            state = random.choice(["paid", "shipped", "shipped", "delivered"])
        elif random.random() < 0.06:
            state = "cancelled"
        else:
            state = "delivered"
        channel = random.choices(CHANNELS, weights=CHANNEL_W)[0]
        if state in ("shipped", "delivered"):
            shipped = placed.date() + dt.timedelta(days=random.randint(0, 2))
            if shipped > TODAY:
                shipped = TODAY
            delivered = None
            if state == "delivered":
                delivered = shipped + dt.timedelta(days=random.randint(1, 6))
                if delivered > TODAY:
                    state, delivered = "shipped", None
            carrier = random.choices(CARRIERS, weights=CARRIER_W)[0]
            shipments.append(
                (
                    len(shipments) + 1,
                    sid,
                    carrier,
                    shipped.isoformat(),
                    delivered.isoformat() if delivered else None,
                )
            )
            if delivered:
                for s, ln, _item, _qty, _price, amount in lines[-n_lines:]:
                    if random.random() < 0.055:
                        back = delivered + dt.timedelta(days=random.randint(2, 28))
                        if back <= TODAY:
                            returns.append(
                                (s, ln, back.isoformat(), random.choice(REASONS), amount)
                            )
        sales.append(
            (sid, member, placed.strftime("%Y-%m-%d %H:%M:%S"), state, channel, total, fee)
        )

    con.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?)", sales)
    con.executemany("INSERT INTO sale_lines VALUES (?, ?, ?, ?, ?, ?)", lines)
    con.executemany("INSERT INTO shipments VALUES (?, ?, ?, ?, ?)", shipments)
    con.executemany("INSERT INTO returns VALUES (?, ?, ?, ?, ?)", returns)
    con.execute("CREATE INDEX ix_sales_member ON sales (member_no)")
    con.execute("CREATE INDEX ix_lines_item ON sale_lines (item_id)")
    con.commit()
    for t in ["towns", "members", "catalog", "sales", "sale_lines", "shipments", "returns"]:
        print(t, con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
    con.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else PATH)
