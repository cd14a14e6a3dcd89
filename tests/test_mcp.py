"""The MCP server through the MCP SDK's own client: over stdio (``python -m nl2sql.cli mcp`` as
a subprocess) and over streamable HTTP (in-process uvicorn on loopback, and ``--http PORT``).
The sample database, the offline model, today pinned to 2026-11-28."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from serving import KEYS, TODAY, api_keys, start_service
from sqlalchemy import create_engine, text

from nl2sql import database
from nl2sql.config import ApiKey
from nl2sql.errors import ConfigError, NL2SQLError
from nl2sql.execute import ReadOnlyDatabase
from nl2sql.server.keys import digest
from nl2sql.server.mcp_server import http_app, run_mcp, stdio_key
from nl2sql.server.serve import app_in_thread
from nl2sql.server.service import Service
from nl2sql.tooling import tool_definition

ROOT = Path(__file__).resolve().parents[1]
DELIVERED_LAST_MONTH = "how many orders were delivered last month?"
LAST_MONTH = "delivered_at >= '2026-10-01' AND delivered_at < '2026-11-01'"
REFUSED = "what is the weather in Paris?"
STDIO_KEYS = {"all": "mcp-test-key-all", "customer_13": "mcp-test-key-customer-13"}
CUSTOMER_IDS = {  # every order's customer, as a Query spec (no SQL anywhere)
    "table_name": "orders",
    "columns": [{"column": "orders.customer_id", "aggregate": None, "time_grain": None}],
    "conditions": [],
    "order_by": [],
    "limit": 1000,
}


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('mcp') / 'orders.sqlite3'}"
    database.init_database(url)
    return url


@pytest.fixture(scope="module")
def query_parameters(db_url: str) -> dict[str, Any]:
    """The strict Query tool's JSON schema, as nl2sql builds it for this database."""
    db = ReadOnlyDatabase(db_url)
    try:
        return dict(tool_definition(db.tool)["function"]["parameters"])
    finally:
        db.close()


def count(db_url: str, sql: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def write_config(path: Path, *, keys: bool) -> Path:
    lines = []
    if keys:
        lines += ["[[api_keys]]", f'key_sha256 = "{digest(STDIO_KEYS["all"])}"', 'name = "all"']
        lines += ["", "[[api_keys]]", f'key_sha256 = "{digest(STDIO_KEYS["customer_13"])}"']
        lines += ["customer = 13"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mcp_args(db_url: str, config: Path, conversations: Path, *extra: str) -> list[str]:
    return [
        "-m", "nl2sql.cli", "mcp", "--db", db_url, "--config", str(config),
        "--today", TODAY.isoformat(), "--conversations", str(conversations), *extra,
    ]  # fmt: skip


def child_env(**extra: str) -> dict[str, str]:
    """What the server process gets: no NL2SQL_* or model settings from this environment."""
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return env | {"NL2SQL_MODEL": "offline"} | extra


@asynccontextmanager
async def stdio_session(
    db_url: str, tmp_path: Path, *, keys: bool, api_key: str | None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """`nl2sql mcp` spawned by the SDK's stdio client; every line it writes to stdout must be
    JSON-RPC (the client hands any other line to the message handler as an exception)."""
    config = write_config(tmp_path / "nl2sql.toml", keys=keys)
    env = child_env(**({"NL2SQL_API_KEY": api_key} if api_key else {}))
    params = StdioServerParameters(
        command=sys.executable,
        args=mcp_args(db_url, config, tmp_path / "conversations.sqlite3"),
        env=env,
        cwd=ROOT,
    )
    not_protocol: list[Exception] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):
            not_protocol.append(message)

    with (tmp_path / "server-stderr.txt").open("w", encoding="utf-8") as errlog:
        transport = stdio_client(params, errlog=errlog)
        async with Client(transport, mode=mode, message_handler=on_message) as client:
            yield client
    assert not_protocol == []


@asynccontextmanager
async def http_session(url: str, key: str | None, mode: str = "auto") -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    body = result.structured_content
    assert json.loads(result.content[0].text) == body  # the same data as text
    return dict(body)


def error_text(result: Any) -> str:
    assert result.is_error, result.structured_content
    assert len(result.content) == 1 and result.content[0].type == "text"
    message = str(result.content[0].text)
    assert "\n" not in message
    return message


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mcp_over_http(service: Service) -> Iterator[str]:
    """nl2sql's MCP HTTP app under uvicorn on a free loopback port, in a thread: its URL."""
    with app_in_thread(http_app(service), lifespan="on") as url:
        yield f"{url}/mcp"


@pytest.fixture(scope="module")
def mcp_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The MCP server over streamable HTTP, keyed by tests/serving.py's KEYS."""
    store = tmp_path_factory.mktemp("mcp-conversations") / "conversations.sqlite3"
    service = start_service(db_url, store)
    with mcp_over_http(service) as url:
        yield url
    service.close()
    service.db.close()


# --- stdio ----------------------------------------------------------------------------------


def test_stdio_serves_the_three_tools_in_the_key_s_tenant(
    db_url: str, tmp_path: Path, query_parameters: dict[str, Any]
) -> None:
    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with stdio_session(
            db_url, tmp_path, keys=True, api_key=STDIO_KEYS["customer_13"]
        ) as client:
            seen["tools"] = (await client.list_tools()).tools
            seen["ask"] = await client.call_tool("ask", {"question": DELIVERED_LAST_MONTH})
            conversation = seen["ask"].structured_content["conversation_id"]
            seen["follow"] = await client.call_tool(
                "ask", {"question": "only those from Germany", "conversation_id": conversation}
            )
            seen["query"] = await client.call_tool("query", CUSTOMER_IDS)
            seen["bad"] = await client.call_tool("query", {"table_name": "orderz"})
            seen["refused"] = await client.call_tool("ask", {"question": REFUSED})
            seen["schema"] = await client.call_tool("schema", {})
        return seen

    seen = asyncio.run(scenario())
    tools = {tool.name: tool for tool in seen["tools"]}
    assert sorted(tools) == ["ask", "query", "schema"]
    assert tools["query"].input_schema == query_parameters
    assert "instead of writing SQL" in (tools["query"].description or "")

    answer = structured(seen["ask"])
    mine = count(db_url, f"SELECT count(*) FROM orders WHERE {LAST_MONTH} AND customer_id = 13")
    assert answer["rows"] == [[mine]]
    assert answer["understood"].startswith("count of orders, delivered 2026-10-01 to 2026-10-31")
    follow = structured(seen["follow"])
    assert "Germany" in follow["understood"]
    assert follow["conversation_id"] == answer["conversation_id"]

    rows = structured(seen["query"])["rows"]
    assert rows and {row[0] for row in rows} == {13}
    assert error_text(seen["bad"]).startswith("Invalid query: table_name: 'orderz'")
    refusal = error_text(seen["refused"])
    assert "did not understand" in refusal and "conversation_id" in refusal
    assert structured(seen["schema"])["function"]["parameters"] == query_parameters


def test_stdio_without_keys_in_the_config_serves_the_local_user_unscoped(
    db_url: str, tmp_path: Path
) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with stdio_session(
            db_url, tmp_path, keys=False, api_key=None, mode="legacy"
        ) as client:
            asked = await client.call_tool("ask", {"question": DELIVERED_LAST_MONTH})
            return asked, await client.call_tool("query", CUSTOMER_IDS)

    asked, queried = asyncio.run(scenario())
    everyone = count(db_url, f"SELECT count(*) FROM orders WHERE {LAST_MONTH}")
    assert structured(asked)["rows"] == [[everyone]]
    assert len({row[0] for row in structured(queried)["rows"]}) > 1
    assert (tmp_path / "server-stderr.txt").read_text(encoding="utf-8") == ""


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


def test_the_command_fails_at_start_with_one_line_and_stdout_is_only_protocol(
    db_url: str, tmp_path: Path
) -> None:
    """Spawned side by side (each start imports nl2sql): a failed start is one line on stderr
    and nothing on stdout; a served session's stdout, to its exit, is only JSON-RPC."""
    keyed = write_config(tmp_path / "keyed.toml", keys=True)
    keyless = write_config(tmp_path / "keyless.toml", keys=False)
    cases = {  # name: (config, NL2SQL_API_KEY, extra flags, what the one line says)
        "wrong key": (keyed, "not-a-key", (), "NL2SQL_API_KEY was not accepted"),
        "http, no keys": (keyless, None, ("--http", str(free_port())), "No API keys"),
        "served": (keyed, STDIO_KEYS["all"], (), None),
    }
    processes = {}
    for name, (config, key, extra, _) in cases.items():
        args = mcp_args(db_url, config, tmp_path / f"{name}.sqlite3", *extra)
        processes[name] = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(**({"NL2SQL_API_KEY": key} if key else {})),
            cwd=ROOT,
        )
    sent = json.dumps(INITIALIZE) + "\n"  # then end of input: the server stops
    outputs = {name: process.communicate(sent, timeout=60) for name, process in processes.items()}
    for name, (_, _, _, expected) in cases.items():
        stdout, stderr = outputs[name]
        if expected is None:
            assert processes[name].returncode == 0, stderr
            replies = [json.loads(line) for line in stdout.splitlines()]
            assert [reply["id"] for reply in replies] == [1]
            assert replies[0]["result"]["serverInfo"]["name"] == "nl2sql"
            continue
        assert processes[name].returncode == 2, (name, stderr)
        assert stdout == "", name
        assert len(stderr.strip().splitlines()) == 1 and expected in stderr, (name, stderr)


@pytest.mark.parametrize(
    ("keys", "environ", "expected"),
    [
        (True, {}, "set NL2SQL_API_KEY to one of the keys in the MCP client's env block"),
        (True, {"NL2SQL_API_KEY": "  "}, "set NL2SQL_API_KEY"),
        (True, {"NL2SQL_API_KEY": "wrong"}, "NL2SQL_API_KEY was not accepted"),
        (False, {"NL2SQL_API_KEY": "some-key"}, "NL2SQL_API_KEY is set but the config lists no"),
    ],
)
def test_the_stdio_key_is_checked_before_serving(
    keys: bool, environ: dict[str, str], expected: str
) -> None:
    with keys_only(api_keys() if keys else ()) as service:
        with pytest.raises(NL2SQLError) as raised:
            stdio_key(service, environ)
    assert expected in str(raised.value) and "\n" not in str(raised.value)
    assert raised.value.exit_code == 2


def test_the_stdio_key_names_the_tenant_and_no_keys_is_the_local_user() -> None:
    with keys_only(api_keys()) as keyed:
        assert stdio_key(keyed, {"NL2SQL_API_KEY": KEYS["customer_13"]}).customer == 13
        assert stdio_key(keyed, {"NL2SQL_API_KEY": f" {KEYS['unscoped']}\n"}).customer is None
    with keys_only(()) as keyless:
        local = stdio_key(keyless, {})
    assert local.customer is None and local.name == "local"


def test_run_mcp_over_http_needs_keys() -> None:
    with keys_only(()) as keyless, pytest.raises(ConfigError, match="No API keys"):
        run_mcp(keyless, http_port=free_port())


class NoDatabase:
    """Enough of a database for a Service whose keys are all a test looks at."""

    def check_customer(self, customer: int | None) -> None:
        pass


@contextmanager
def keys_only(keys: tuple[ApiKey, ...]) -> Iterator[Service]:
    service = Service(NoDatabase(), keys)  # type: ignore[arg-type]
    try:
        yield service
    finally:
        service.close()


# --- streamable HTTP ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_http_lists_exactly_the_three_tools_and_the_query_schema(
    mcp_url: str, query_parameters: dict[str, Any], mode: str
) -> None:
    async def scenario() -> list[Any]:
        async with http_session(mcp_url, KEYS["unscoped"], mode=mode) as client:
            return list((await client.list_tools()).tools)

    tools = {tool.name: tool for tool in asyncio.run(scenario())}
    assert sorted(tools) == ["ask", "query", "schema"]
    assert tools["query"].input_schema == query_parameters
    assert tools["ask"].input_schema["required"] == ["question"]
    assert set(tools["ask"].input_schema["properties"]) == {"question", "conversation_id"}
    assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools.values())


def test_http_ask_answers_and_a_follow_up_continues_the_conversation(
    mcp_url: str, db_url: str
) -> None:
    async def scenario() -> tuple[Any, Any, Any]:
        async with http_session(mcp_url, KEYS["unscoped"]) as client:
            first = await client.call_tool("ask", {"question": DELIVERED_LAST_MONTH})
            conversation = first.structured_content["conversation_id"]
            follow = await client.call_tool(
                "ask", {"question": "only those from Germany", "conversation_id": conversation}
            )
            # Another key cannot continue it: conversations belong to the key that began them.
        async with http_session(mcp_url, KEYS["customer_7"]) as client:
            other = await client.call_tool(
                "ask", {"question": "only shipped ones", "conversation_id": conversation}
            )
        return first, follow, other

    first, follow, other = asyncio.run(scenario())
    answer = structured(first)
    expected = count(db_url, f"SELECT count(*) FROM orders WHERE {LAST_MONTH}")
    assert answer["rows"] == [[expected]] and f"{expected} orders" in answer["answer"]
    assert answer["understood"].startswith("count of orders, delivered 2026-10-01 to 2026-10-31")
    assert answer["sql"].startswith("SELECT") and answer["query"]["table_name"] == "orders"
    assert structured(follow)["conversation_id"] == answer["conversation_id"]
    assert "Germany" in structured(follow)["understood"]
    assert "conversation" in error_text(other).lower()


def test_http_query_runs_a_spec_and_an_invalid_one_gets_nl2sql_s_message(mcp_url: str) -> None:
    invalid = CUSTOMER_IDS | {"columns": [{"column": "orders.nope"}], "limit": "ten"}

    async def scenario() -> tuple[Any, Any, Any]:
        async with http_session(mcp_url, KEYS["unscoped"]) as client:
            good = await client.call_tool("query", CUSTOMER_IDS)
            bad = await client.call_tool("query", invalid)
            sql = await client.call_tool("query", {"sql": "SELECT * FROM customers"})
            return good, bad, sql

    good, bad, sql = asyncio.run(scenario())
    result = structured(good)
    assert result["columns"] and len({row[0] for row in result["rows"]}) > 1
    assert result["sql"].startswith("SELECT") and result["understood"].startswith("orders")
    message = error_text(bad)
    assert message.startswith("Invalid query:") and "orders.nope" in message and "limit" in message
    assert error_text(sql).startswith("Invalid query:")


def test_http_a_scoped_key_only_ever_sees_its_customer(mcp_url: str) -> None:
    widened = CUSTOMER_IDS | {
        "conditions": [
            {"column": "orders.customer_id", "aggregate": None, "operator": "!=", "value": 13}
        ]
    }

    async def scenario() -> list[Any]:
        async with http_session(mcp_url, KEYS["customer_13"]) as client:
            return [
                await client.call_tool("query", CUSTOMER_IDS),
                await client.call_tool("query", widened),
                await client.call_tool("ask", {"question": "list my orders"}),
            ]

    everything, others, listed = asyncio.run(scenario())
    rows = structured(everything)["rows"]
    assert rows and {row[0] for row in rows} == {13}
    assert structured(others)["rows"] == []
    answer = structured(listed)
    assert "customer_id = 13" in answer["sql"]


def test_http_a_refused_question_or_bad_arguments_are_one_line_tool_errors(
    mcp_url: str,
) -> None:
    async def scenario() -> list[Any]:
        async with http_session(mcp_url, KEYS["unscoped"]) as client:
            return [
                await client.call_tool("ask", {"question": REFUSED}),
                await client.call_tool("ask", {}),
                await client.call_tool("ask", {"question": DELIVERED_LAST_MONTH, "sql": "x"}),
                await client.call_tool("ask", {"question": "   "}),
            ]

    refused, missing, extra, empty = (error_text(result) for result in asyncio.run(scenario()))
    assert "did not understand" in refused and "conversation_id " in refused
    assert missing == "Bad ask arguments: question: Field required."
    assert extra.startswith("Bad ask arguments: sql: Extra inputs are not permitted")
    assert empty.startswith("The question is empty")


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic abc", "Bearer"])
def test_http_without_a_configured_key_is_a_401(mcp_url: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx.post(mcp_url, json=listing, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "key" in response.json()["error"]["message"]

    async def scenario() -> None:
        key = authorization.split(" ", 1)[-1] if authorization else None
        async with http_session(mcp_url, key):
            pass

    with pytest.raises(BaseException) as raised:  # noqa: B017  (an exception group, checked below)
        asyncio.run(scenario())
    errors = [error for error in leaves(raised.value) if isinstance(error, MCPError)]
    assert errors and "key" in str(errors[0])


def test_mcp_http_command_serves_keyed_requests(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "nl2sql.toml", keys=True)
    args = mcp_args(db_url, config, tmp_path / "conversations.sqlite3", "--http", str(port))
    server = subprocess.Popen(
        [sys.executable, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

        async def scenario() -> tuple[Any, Any]:
            url = f"http://127.0.0.1:{port}/mcp"
            async with http_session(url, STDIO_KEYS["customer_13"]) as client:
                asked = await client.call_tool("ask", {"question": DELIVERED_LAST_MONTH})
                return asked, await client.call_tool("query", CUSTOMER_IDS)

        asked, queried = asyncio.run(scenario())
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    mine = count(db_url, f"SELECT count(*) FROM orders WHERE {LAST_MONTH} AND customer_id = 13")
    assert structured(asked)["rows"] == [[mine]]  # --today reached the server
    assert {row[0] for row in structured(queried)["rows"]} == {13}
    assert "127.0.0.1:" + str(port) in stderr
