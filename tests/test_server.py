"""The HTTP API over real HTTP: httpx against uvicorn on 127.0.0.1, the sample database,
the offline model. Every endpoint, auth, tenant scope, streaming, limits and errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import (  # noqa: F401  (the fixtures register by import)
    LiveServer,
    live_server_fixture,
    served_db_fixture,
    start_service,
)
from sqlalchemy import create_engine, text

from nl2sql.server.conversations import StoreLimits
from nl2sql.server.serve import serving_in_thread
from nl2sql.tooling import tool_definition

DELIVERED_LAST_MONTH = "how many orders were delivered last month?"


def count(db_url: str, sql: str, **params: Any) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def ask(server: LiveServer, key: str, question: str, **fields: Any) -> httpx.Response:
    body = {"question": question} | fields
    return httpx.post(f"{server.url}/v1/ask", json=body, headers=server.auth(key), timeout=30)


def sse_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of an SSE body."""
    events = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_ask_answers_with_understood_and_a_conversation(live_server: LiveServer) -> None:
    response = ask(live_server, "unscoped", DELIVERED_LAST_MONTH)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = count(
        live_server.db_url,
        "SELECT count(*) FROM orders WHERE delivered_at >= '2026-10-01' "
        "AND delivered_at < '2026-11-01'",
    )
    assert body["rows"] == [[expected]] and f"{expected} orders" in body["answer"]
    assert body["understood"].startswith("count of orders, delivered 2026-10-01 to 2026-10-31")
    assert body["sql"].startswith("SELECT") and body["query"]["table_name"] == "orders"
    assert set(body) >= {"columns", "row_count", "truncated", "conversation_id"}

    follow = ask(live_server, "unscoped", "only those from Germany", **{
        "conversation_id": body["conversation_id"]
    })
    assert follow.status_code == 200, follow.text
    assert "Germany" in follow.json()["understood"]
    assert follow.json()["conversation_id"] == body["conversation_id"]


def test_today_in_the_request_moves_relative_dates(live_server: LiveServer) -> None:
    body = ask(live_server, "unscoped", DELIVERED_LAST_MONTH, today="2026-08-15").json()
    assert "delivered 2026-07-01 to 2026-07-31" in body["understood"]


def test_the_answer_streams_as_sse(live_server: LiveServer) -> None:
    headers = live_server.auth("unscoped") | {"Accept": "text/event-stream"}
    response = httpx.post(
        f"{live_server.url}/v1/ask",
        json={"question": "revenue per category this year"},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "result" and set(kinds[:-1]) == {"text"} and len(kinds) > 2
    result = events[-1][1]
    assert "".join(data["delta"] for _, data in events[:-1]) == result["answer"]
    assert result["rows"] and result["conversation_id"]


def test_a_refusal_is_an_error_that_keeps_the_conversation(live_server: LiveServer) -> None:
    response = ask(live_server, "unscoped", "what is the weather in Paris?")
    assert response.status_code == 422
    body = response.json()
    assert body["refused"] is True and "did not understand" in body["error"]
    assert body["conversation_id"] and "\n" not in body["error"]
    streamed = httpx.post(
        f"{live_server.url}/v1/ask",
        json={"question": "what is the weather in Paris?"},
        headers=live_server.auth("unscoped") | {"Accept": "text/event-stream"},
    )
    assert streamed.status_code == 422 and streamed.json()["refused"] is True


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/ask", {"question": DELIVERED_LAST_MONTH}),
        ("POST", "/v1/query", {"table_name": "orders"}),
        ("GET", "/v1/schema", None),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Basic abc", "Bearer"])
def test_every_endpoint_needs_a_configured_key(
    live_server: LiveServer, method: str, path: str, body: Any, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = httpx.request(method, live_server.url + path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert list(response.json()) == ["error"] and "key" in response.json()["error"]


SCOPED_QUESTIONS = [
    "list my orders",
    "how many orders per customer?",
    "top 5 customers by revenue",
    "orders per country",
    "show orders from customer 7",
    "revenue per category this year",
]


@pytest.mark.parametrize("question", SCOPED_QUESTIONS)
def test_a_scoped_key_sees_only_its_customer(live_server: LiveServer, question: str) -> None:
    scoped = ask(live_server, "customer_13", question)
    unscoped = ask(live_server, "unscoped", question)
    if scoped.status_code != 200:
        assert scoped.status_code == 422  # refused is fine; another tenant's rows never are
        return
    sql = scoped.json()["sql"]
    assert scoped.json()["rows"] != unscoped.json().get("rows") or "13" in sql
    # Run the query the scoped key ran, unscoped, restricted to everyone but 13: nothing.
    spec = scoped.json()["query"]
    columns = [{"column": "orders.customer_id", "aggregate": None, "time_grain": None}]
    probe = spec | {"columns": columns, "order_by": [], "limit": 500}
    if "orders" not in json.dumps(spec):
        return
    rows = query(live_server, "customer_13", probe).json().get("rows", [])
    assert all(row == [13] for row in rows)


def query(server: LiveServer, key: str, spec: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/query", json=spec, headers=server.auth(key), timeout=30)


def test_query_runs_a_spec_in_the_key_s_scope(live_server: LiveServer) -> None:
    spec = {
        "table_name": "orders",
        "columns": [{"column": "orders.customer_id", "aggregate": None, "time_grain": None}],
        "conditions": [],
        "order_by": [],
        "limit": 1000,
    }
    unscoped = query(live_server, "unscoped", spec).json()
    scoped = query(live_server, "customer_13", spec).json()
    assert {row[0] for row in unscoped["rows"]} > {13}
    assert scoped["rows"] and {row[0] for row in scoped["rows"]} == {13}
    mine = count(live_server.db_url, "SELECT count(*) FROM orders WHERE customer_id = 13")
    assert scoped["row_count"] == mine and scoped["understood"].startswith("orders")
    # A condition naming another customer cannot widen the scope.
    other = spec | {
        "conditions": [
            {"column": "orders.customer_id", "aggregate": None, "operator": "=", "value": 7}
        ]
    }
    assert query(live_server, "customer_13", other).json()["rows"] == []


def test_query_errors_name_the_problem(live_server: LiveServer) -> None:
    bad = query(live_server, "unscoped", {"table_name": "orders", "columns": "all"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("Invalid query:")
    not_json = httpx.post(
        f"{live_server.url}/v1/query", content=b"{nope", headers=live_server.auth("unscoped")
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]


def test_schema_is_the_tool(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/v1/schema", headers=live_server.auth("unscoped"))
    assert response.json() == json.loads(json.dumps(tool_definition(live_server.service.db.tool)))


def test_health_page_and_openapi(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/healthz").json() == {"status": "ok"}
    page = httpx.get(f"{live_server.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    document = httpx.get(f"{live_server.url}/openapi.json").json()
    assert set(document["paths"]) == {"/v1/ask", "/v1/query", "/v1/schema", "/healthz"}
    body = document["paths"]["/v1/query"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Query"}
    assert "QueryColumn" in document["components"]["schemas"]
    docs = httpx.get(f"{live_server.url}/docs")  # Swagger UI comes from a CDN: no CSP there
    assert docs.status_code == 200 and "content-security-policy" not in docs.headers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"question": ""}, "question: String should have at least 1 character"),
        ({"question": "x" * 2001}, "question: String should have at most 2000"),
        ({"question": "hi", "tenant": 7}, "tenant: Extra inputs are not permitted"),
        ({"question": "hi", "today": "yesterday"}, "today:"),
        ({}, "question: Field required"),
    ],
)
def test_bad_ask_bodies_are_one_line_400s(
    live_server: LiveServer, body: dict[str, Any], message: str
) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/ask", json=body, headers=live_server.auth("unscoped")
    )
    assert response.status_code == 400 and message in response.json()["error"]


def test_unknown_routes_and_methods_are_json_errors(live_server: LiveServer) -> None:
    missing = httpx.get(f"{live_server.url}/v1/nothing")
    assert missing.status_code == 404 and "error" in missing.json()
    wrong = httpx.get(f"{live_server.url}/v1/ask")
    assert wrong.status_code == 405 and "error" in wrong.json()


def test_a_conversation_belongs_to_the_key_that_started_it(live_server: LiveServer) -> None:
    started = ask(live_server, "customer_13", "list my orders").json()
    stolen = ask(
        live_server, "customer_7", "only those from Germany",
        conversation_id=started["conversation_id"],
    )
    assert stolen.status_code == 404 and "No conversation" in stolen.json()["error"]
    unknown = ask(live_server, "unscoped", "only shipped", conversation_id="made-up")
    assert unknown.status_code == 404


def test_conversations_expire_and_are_capped(served_db: str, tmp_path: Path) -> None:
    limits = StoreLimits(ttl_seconds=0.5, max_questions=2, max_conversations=2)
    service = start_service(served_db, tmp_path / "c.sqlite3", limits)
    with serving_in_thread(service) as running:
        server = LiveServer(running.url, service, served_db)
        first = ask(server, "unscoped", DELIVERED_LAST_MONTH).json()["conversation_id"]
        second = ask(server, "unscoped", "only those from Germany", conversation_id=first)
        assert second.status_code == 200
        full = ask(server, "unscoped", "only shipped ones", conversation_id=first)
        assert full.status_code == 409 and "start a new one" in full.json()["error"]
        for _ in range(3):
            ask(server, "unscoped", DELIVERED_LAST_MONTH)
        assert service.store.count() == 2
        kept = ask(server, "unscoped", DELIVERED_LAST_MONTH).json()["conversation_id"]
        time.sleep(0.6)
        expired = ask(server, "unscoped", "only those from Germany", conversation_id=kept)
        assert expired.status_code == 404 and "expired" in expired.json()["error"]
    service.close()
    service.db.close()


def test_a_key_over_its_rate_gets_429_with_retry_after(served_db: str, tmp_path: Path) -> None:
    service = start_service(served_db, tmp_path / "c.sqlite3")
    with serving_in_thread(service) as running:
        server = LiveServer(running.url, service, served_db)
        statuses = [ask(server, "limited", DELIVERED_LAST_MONTH).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = ask(server, "limited", DELIVERED_LAST_MONTH)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "2 a minute" in refused.json()["error"]
        assert ask(server, "unscoped", DELIVERED_LAST_MONTH).status_code == 200  # per key
    service.close()
    service.db.close()


def test_concurrent_questions_per_key_are_bounded(served_db: str, tmp_path: Path) -> None:
    """A key allowed one question at a time: of several at once, some get 429 (never 5xx),
    and every admitted one is answered."""
    service = start_service(served_db, tmp_path / "c.sqlite3")
    key = next(k for k in service.keys.keys if k.name == "limited")
    object.__setattr__(key, "requests_per_minute", 1000)
    with serving_in_thread(service) as running:
        server = LiveServer(running.url, service, served_db)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda _: ask(server, "limited", "revenue per month in 2025").status_code,
                         range(8))
            )
    assert set(statuses) <= {200, 429} and 200 in statuses
    service.close()
    service.db.close()


def test_mixed_tenants_at_once_never_cross(live_server: LiveServer) -> None:
    """Many clients of two tenants at once: each sees only its own customer's orders."""
    def mine(key: str) -> set[int]:
        body = ask(live_server, key, "list my orders").json()
        ids = [row[0] for row in body["rows"]]
        return set(ids)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(mine, ["customer_13", "customer_7"] * 12))
    own = {
        customer: {
            row
            for (row,) in create_engine(live_server.db_url).connect().execute(
                text("SELECT id FROM orders WHERE customer_id = :c"), {"c": customer}
            )
        }
        for customer in (13, 7)
    }
    for index, ids in enumerate(results):
        assert ids and ids <= own[13 if index % 2 == 0 else 7]


def serve_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nl2sql.cli", "serve", *args],
        capture_output=True, text=True, timeout=60, env=env,
    )


def test_serve_refuses_to_start_without_keys(served_db: str, tmp_path: Path) -> None:
    config = tmp_path / "nl2sql.toml"
    config.write_text('description = "no keys"\n')
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NL2SQL_MODEL": "offline"}
    done = serve_command("--db", served_db, "--config", str(config), env=env)
    assert done.returncode == 2 and "No API keys" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_serve_names_a_key_for_a_missing_customer(served_db: str, tmp_path: Path) -> None:
    config = tmp_path / "nl2sql.toml"
    config.write_text(f'[[api_keys]]\nkey_sha256 = "{"ab" * 32}"\ncustomer = 99999\n')
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NL2SQL_MODEL": "offline"}
    done = serve_command("--db", served_db, "--config", str(config), env=env)
    assert done.returncode == 2 and "no customer 99999" in done.stderr


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('key_sha256 = "abc"', "64 hex digits"),
        (f'key_sha256 = "{"ab" * 32}"\ncustomer = 0', "positive whole number"),
        (f'key_sha256 = "{"ab" * 32}"\nscope = 3', "unknown key 'scope'"),
    ],
)
def test_bad_api_key_entries_are_named(tmp_path: Path, entry: str, message: str) -> None:
    from nl2sql.config import load_config
    from nl2sql.errors import ConfigError

    config = tmp_path / "nl2sql.toml"
    config.write_text(f"[[api_keys]]\n{entry}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_new_key_prints_a_key_and_only_its_hash_for_the_config(tmp_path: Path) -> None:
    from nl2sql.config import load_config
    from nl2sql.server.keys import KeyRing

    done = subprocess.run(
        [sys.executable, "-m", "nl2sql.cli", "new-key", "--customer", "13", "--name", 'a "b"'],
        capture_output=True, text=True, timeout=60,
    )
    key, _, entry = done.stdout.partition("\n\n")
    config = tmp_path / "nl2sql.toml"
    config.write_text(entry)
    loaded = load_config(config)
    assert loaded is not None and key.strip() not in entry
    found = KeyRing(loaded.api_keys).match(key.strip())
    assert found.customer == 13 and found.name == 'a "b"'


def test_nl2sql_serve_answers_curl_as_the_readme_shows(served_db: str, tmp_path: Path) -> None:
    """The command itself, as a user runs it: a config with a key, `nl2sql serve`, then the
    README's curl (whose -d sends a form Content-Type with the JSON body)."""
    import os
    import socket

    from nl2sql.server.keys import config_entry, new_key

    key, key_sha256 = new_key()
    config = tmp_path / "nl2sql.toml"
    config.write_text(config_entry(key_sha256, None, "curl") + "\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"NL2SQL_MODEL": "offline", "XDG_DATA_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "nl2sql.cli", "serve", "--db", served_db]
    command += ["--config", str(config), "--port", str(port), "--today", "2026-11-28"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        response = httpx.post(
            f"{url}/v1/ask",
            content=b'{"question": "how many orders were delivered last month?"}',
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/x-www-form-urlencoded",  # what curl -d sends
            },
            timeout=30,
        )
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert response.status_code == 200, (response.text, stderr.decode()[-500:])
    expected = count(
        served_db,
        "SELECT count(*) FROM orders WHERE delivered_at >= '2026-10-01' "
        "AND delivered_at < '2026-11-01'",
    )
    assert response.json()["rows"] == [[expected]]
    assert (tmp_path / "nl2sql" / "conversations.sqlite3").exists()  # beside the local db


def test_new_key_with_a_bad_customer_prints_no_key() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nl2sql.cli", "new-key", "--customer", "abc"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and done.stdout == "" and "--customer" in done.stderr


def test_one_offline_model_per_tenant_serves_every_conversation(
    served_db: str, tmp_path: Path
) -> None:
    """The value index is read once per tenant, not per question or conversation."""
    service = start_service(served_db, tmp_path / "c.sqlite3")
    with serving_in_thread(service) as running:
        server = LiveServer(running.url, service, served_db)
        models = dict(service.models.tenant_models)
        for _ in range(3):
            assert ask(server, "customer_13", DELIVERED_LAST_MONTH).status_code == 200
            assert ask(server, "unscoped", DELIVERED_LAST_MONTH).status_code == 200
        # The same objects (models compare by identity), built at start-up, one per tenant.
        assert service.models.tenant_models == models and set(models) == {None, 13, 7}
    service.close()
    service.db.close()
