"""A live nl2sql HTTP API for tests: uvicorn on a loopback port over the sample database.

Keys are made here and only their hashes reach the service, as in a real config.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from nl2sql import database
from nl2sql.config import ApiKey
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.server.conversations import ConversationStore, StoreLimits
from nl2sql.server.keys import digest
from nl2sql.server.serve import serving_in_thread
from nl2sql.server.service import Service

TODAY = date(2026, 11, 28)
KEYS = {
    "unscoped": "test-key-unscoped",
    "customer_13": "test-key-customer-13",
    "customer_7": "test-key-customer-7",
    "limited": "test-key-two-a-minute",
}


def api_keys() -> tuple[ApiKey, ...]:
    roomy = {"requests_per_minute": 100_000, "concurrent": 100}
    return (
        ApiKey(digest(KEYS["unscoped"]), name="analytics", **roomy),
        ApiKey(digest(KEYS["customer_13"]), customer=13, **roomy),
        ApiKey(digest(KEYS["customer_7"]), customer=7, **roomy),
        ApiKey(digest(KEYS["limited"]), name="limited", requests_per_minute=2, concurrent=1),
    )


@dataclass
class LiveServer:
    url: str
    service: Service
    db_url: str
    keys: dict[str, str] = field(default_factory=lambda: dict(KEYS))

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[name]}"}


def start_service(db_url: str, store_path: Path, limits: StoreLimits | None = None) -> Service:
    service = Service(
        ReadOnlyDatabase(db_url),
        api_keys(),
        model="offline",
        store=ConversationStore(store_path, limits),
        today=TODAY,
    )
    service.check()
    return service


@pytest.fixture(scope="module", name="served_db")
def served_db_fixture(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('served') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


@pytest.fixture(scope="module", name="live_server")
def live_server_fixture(
    served_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The API over the sample SQLite database, offline model, today 2026-11-28."""
    store = tmp_path_factory.mktemp("conversations") / "conversations.sqlite3"
    service = start_service(served_db, store)
    with serving_in_thread(service) as running:
        yield LiveServer(running.url, service, served_db)
    service.close()
    service.db.close()


live_server = live_server_fixture  # either name imports the fixture
served_db = served_db_fixture
