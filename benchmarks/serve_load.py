"""Load on the HTTP API: many concurrent clients of many tenants, over loopback.

    python benchmarks/serve_load.py [--clients 50] [--seconds 30] [--tenants 20]

Starts `nl2sql serve` in its own process (offline model, sample database in a temporary
folder, one key per tenant plus an unscoped one), then runs the clients in this process for the
given time: each asks questions (a third streamed as SSE, some follow-ups by conversation_id)
and runs Query specs. Reports latency percentiles per kind of request, throughput, errors, and
rows of another tenant seen (checked against the database itself). Exits 1 on any error or
any cross-tenant row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from nl2sql import database
from nl2sql.server.keys import config_entry, new_key

TODAY = "2026-11-28"
QUESTIONS = [
    "how many orders were delivered last month?",
    "list my orders",
    "revenue per category this year",
    "orders per month in 2025",
    "what share of orders were canceled this year?",
    "top 5 products by revenue",
]
FOLLOW_UPS = ["only those from Germany", "only shipped ones", "what about last year?"]
OWN_CUSTOMER_COLUMN = {
    "table_name": "orders",
    "columns": [{"column": "orders.customer_id", "aggregate": None, "time_grain": None}],
    "conditions": [],
    "order_by": [],
    "limit": 1000,
}


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    cross_tenant_rows: int = 0
    rows_checked: int = 0  # rows of scoped answers whose tenant was checked
    refusals: int = 0


@dataclass(frozen=True)
class Client:
    key: str
    customer: int | None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_keys(customers: list[int]) -> tuple[list[Client], str]:
    clients, entries = [], []
    for customer in [None, *customers]:
        key, digest = new_key()
        clients.append(Client(key, customer))
        entry = config_entry(digest, customer)
        entries.append(entry + "\nrequests_per_minute = 100000\nconcurrent = 100")
    return clients, "\n\n".join(entries) + "\n"


def own_orders(db_url: str, customers: list[int]) -> dict[int, set[int]]:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT customer_id, id FROM orders")).all()
    engine.dispose()
    owned: dict[int, set[int]] = {c: set() for c in customers}
    for customer, order in rows:
        if customer in owned:
            owned[customer].add(order)
    return owned


def start_server(folder: Path, db_url: str, config: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"NL2SQL_MODEL": "offline", "XDG_DATA_HOME": str(folder)}
    command = [sys.executable, "-m", "nl2sql.cli", "serve", "--db", db_url]
    command += ["--config", str(config), "--port", str(port), "--today", TODAY]
    command += ["--conversations", str(folder / "conversations.sqlite3")]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_healthy(url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit(f"the server exited: {server.stderr.read().decode()[-500:]}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not become healthy in 60 s")


def check_tenant(
    body: dict[str, Any], client: Client, owned: dict[int, set[int]], tally: Tally
) -> None:
    """Count rows of a scoped answer that belong to another tenant: a customer id that is not
    the client's, or an order id outside the client's own orders."""
    if client.customer is None or "rows" not in body:
        return
    columns, rows = body.get("columns", []), body["rows"]
    if "orders.customer_id" in columns:
        index = columns.index("orders.customer_id")
        foreign = [row for row in rows if row[index] != client.customer]
    elif columns[:1] == ["orders.id"]:
        foreign = [row for row in rows if row[0] not in owned[client.customer]]
    else:
        return
    tally.rows_checked += len(rows)
    tally.cross_tenant_rows += len(foreign)


async def one_request(
    http: httpx.AsyncClient, client: Client, state: dict[str, Any], rng: random.Random
) -> tuple[str, httpx.Response, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {client.key}"}
    roll = rng.random()
    if roll < 0.2:
        response = await http.post("/v1/query", json=OWN_CUSTOMER_COLUMN, headers=headers)
        body = response.json() | {"columns": ["orders.customer_id"]}
        return "query", response, body
    question = rng.choice(QUESTIONS)
    payload: dict[str, Any] = {"question": question}
    kind = "ask"
    if state.get("conversation_id") and roll < 0.4:
        payload = {"question": rng.choice(FOLLOW_UPS), "conversation_id": state["conversation_id"]}
        kind = "follow-up"
    if roll > 0.66:
        headers["Accept"] = "text/event-stream"
        kind += " (SSE)"
    response = await http.post("/v1/ask", json=payload, headers=headers)
    body = read_body(response)
    state["conversation_id"] = body.get("conversation_id") or state.get("conversation_id")
    return kind, response, body


def read_body(response: httpx.Response) -> dict[str, Any]:
    import json

    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        return dict(response.json())
    last: dict[str, Any] = {}
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") in ("result", "error"):
            last = json.loads(lines["data"]) | {"_event": lines["event"]}
    return last


async def run_client(
    url: str, client: Client, until: float, tally: Tally, owned: dict[int, set[int]], seed: int
) -> None:
    rng, state = random.Random(seed), {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                kind, response, body = await one_request(http, client, state, rng)
            except (httpx.HTTPError, ValueError) as error:
                tally.errors.append(f"{type(error).__name__}: {error}")
                continue
            tally.latencies[kind].append((time.perf_counter() - started) * 1000)
            tally.statuses[response.status_code] += 1
            if response.status_code == 422 and body.get("refused"):
                tally.refusals += 1
            elif response.status_code != 200 or body.get("_event") == "error":
                tally.errors.append(f"{kind} {response.status_code}: {body.get('error')}")
            check_tenant(body, client, owned, tally)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report(tally: Tally, seconds: float, clients: int) -> None:
    total = sum(tally.statuses.values())
    print(f"{clients} clients for {seconds:.0f} s: {total} requests, {total / seconds:.1f}/s")
    print(f"{'request':<18}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for kind, samples in sorted(tally.latencies.items()):
        print(
            f"{kind:<18}{len(samples):>7}{statistics.median(samples):>9.0f}"
            f"{percentile(samples, 0.95):>9.0f}{percentile(samples, 0.99):>9.0f}"
        )
    everything = [s for samples in tally.latencies.values() for s in samples]
    print(f"{'all':<18}{len(everything):>7}{statistics.median(everything):>9.0f}"
          f"{percentile(everything, 0.95):>9.0f}{percentile(everything, 0.99):>9.0f}")
    print(f"statuses: {dict(sorted(tally.statuses.items()))}; refusals (422): {tally.refusals}")
    print(
        f"errors: {len(tally.errors)}; rows of another tenant: {tally.cross_tenant_rows} "
        f"(of {tally.rows_checked} scoped rows checked)"
    )
    for error in tally.errors[:5]:
        print(f"  {error}")


async def load(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="nl2sql-load-"))
    db_url = f"sqlite:///{folder / 'orders.sqlite3'}"
    database.init_database(db_url)
    customers = list(range(1, args.tenants + 1))
    clients, config_text = make_keys(customers)
    config = folder / "nl2sql.toml"
    config.write_text(config_text)
    owned = own_orders(db_url, customers)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(folder, db_url, config, port)
    try:
        await wait_healthy(url, server)
        tally = Tally()
        until = time.monotonic() + args.seconds
        started = time.monotonic()
        await asyncio.gather(
            *(
                run_client(url, clients[i % len(clients)], until, tally, owned, seed=i)
                for i in range(args.clients)
            )
        )
        report(tally, time.monotonic() - started, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 1 if tally.errors or tally.cross_tenant_rows else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--tenants", type=int, default=20)
    args = parser.parse_args()
    if not 0 < args.seconds <= 60:
        parser.error("--seconds must be between 0 and 60")
    sys.exit(asyncio.run(load(args)))


if __name__ == "__main__":
    main()
