"""Start the HTTP API under uvicorn: the service is built and checked before the port opens."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nl2sql import database
from nl2sql.config import Config
from nl2sql.errors import ConfigError
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.server.conversations import ConversationStore, StoreLimits

if TYPE_CHECKING:
    from nl2sql.server.service import Service


def conversations_path() -> Path:
    """Where conversations are kept by default: beside nl2sql's own local database."""
    return database.default_sqlite_path().with_name("conversations.sqlite3")


def open_service(
    url: str | None,
    config: Config | None,
    *,
    model: str | None = None,
    conversations: str | Path | None = None,
    today: date | None = None,
    limits: StoreLimits | None = None,
    require_keys: bool = True,
) -> Service:
    """A checked Service over the database (keys from the config): ready to serve."""
    from nl2sql.server.service import Service

    db = ReadOnlyDatabase(url, config=config)
    store = ConversationStore(conversations or conversations_path(), limits)
    service = Service(db, config.api_keys if config else (), model=model, store=store, today=today)
    try:
        service.check(require_keys=require_keys)
    except BaseException:
        service.close()
        db.close()
        raise
    return service


def listening_socket(host: str, port: int, flag: str = "--port") -> socket.socket:
    """The bound socket, or one line naming the address and the flag that fixes it."""
    try:
        sock = socket.create_server((host, port))
    except OSError as error:
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {error.strerror}. Choose another {flag}."
        ) from None
    # asyncio turns Nagle off only for sockets it made itself; without this, each response's
    # second write waits for the client's delayed ACK: 40 ms on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve(service: Service, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C)."""
    import uvicorn

    from nl2sql.server.http import create_app

    sock = listening_socket(host, port)
    config = uvicorn.Config(create_app(service), log_level="info", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class Running:
    url: str
    service: Service


@contextmanager
def serving_in_thread(service: Service, host: str = "127.0.0.1") -> Iterator[Running]:
    """The API on a free loopback port in a background thread (tests, benchmarks)."""
    from nl2sql.server.http import create_app

    with app_in_thread(create_app(service), host) as url:
        yield Running(url, service)


@contextmanager
def app_in_thread(
    app: Any, host: str = "127.0.0.1", lifespan: Literal["on", "off"] = "off"
) -> Iterator[str]:
    """Any ASGI app under uvicorn on a free port of `host`, in a thread: its base URL."""
    import uvicorn

    sock = listening_socket(host, 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on {host}")
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
