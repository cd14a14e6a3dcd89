"""Cassettes: a case's model exchanges on disk, so a suite runs again with no model reachable.

`--record DIR` puts a ``RecordingTransport`` under the openai client: every request goes to
the real endpoint (or the offline model) and the request body, the reply's status and body
(a streamed reply as its list of server-sent events) are kept. `--replay DIR` puts a
``ReplayTransport`` there instead: a request is answered from the exchange recorded for the
same request (method, route and JSON body), so a changed prompt, schema or date finds none
and the case fails naming the first field that differs.

Nothing secret reaches a file: request headers (where API keys and bearer tokens travel) are
never stored, reply headers are cut to the few the SDK reads, and every text is scrubbed of
the keys in the environment and of anything shaped like a key or a token.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai

from nl2sql.errors import ConfigError
from nl2sql.models.backends import Backend, masked

FORMAT = 1
REPLAY_BASE_URL = "http://replay.nl2sql.invalid/v1"  # never resolved: the cassette answers
KEPT_REPLY_HEADERS = ("content-type", "retry-after", "retry-after-ms", "x-should-retry")
SECRET_ENV = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "NL2SQL_READER_PASSWORD")
SECRET_SHAPES = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}"),  # OpenAI keys
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),  # JWTs (Entra ID)
)
SCRUBBED = "[scrubbed]"


def scrub(text: str) -> str:
    """`text` with every API key, token and password nl2sql knows of replaced."""
    for name in SECRET_ENV:
        secret = os.environ.get(name, "")
        if len(secret) >= 4:
            text = text.replace(secret, SCRUBBED)
    for shape in SECRET_SHAPES:
        text = shape.sub(SCRUBBED, text)
    return text


def route(url: httpx2.URL) -> str:
    """The API a request calls, whatever the host or prefix (OpenAI, Azure, a local server)."""
    for name in ("chat/completions", "responses"):
        if url.path.rstrip("/").endswith("/" + name):
            return name
    return url.path


def request_key(method: str, api: str, body: Any) -> str:
    canonical = json.dumps([method, api, body], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def _body(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        return content.decode("utf-8", "replace")


@dataclass
class Cassette:
    """The exchanges of one case, in the order they happened, and the backend they came from.

    `misses` collects what a replay could not answer, for the case's report.
    """

    path: Path
    backend: dict[str, Any] = field(default_factory=dict)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @classmethod
    def for_case(cls, folder: Path, suite: str, case: str) -> Cassette:
        return cls(folder / slug(Path(suite).name.split(".")[0]) / f"{slug(case)}.json")

    @classmethod
    def load(cls, path: Path) -> Cassette:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"No cassette {path}: record it first with --record {path.parent.parent}."
            ) from None
        except (OSError, ValueError) as error:
            raise ConfigError(f"Cannot read the cassette {path}: {error}.") from None
        if not isinstance(data, dict) or data.get("nl2sql_cassette") != FORMAT:
            raise ConfigError(
                f"{path} is not an nl2sql cassette (format {FORMAT}); record it again with "
                f"--record {path.parent.parent}."
            )
        return cls(path, data.get("backend") or {}, list(data.get("exchanges") or []))

    def save(self) -> None:
        """Write the file whole (a temporary file renamed over it), scrubbed of secrets."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"nl2sql_cassette": FORMAT, "backend": self.backend, "exchanges": self.exchanges}
        text = scrub(json.dumps(payload, indent=1, ensure_ascii=False, default=str))
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(text + "\n", encoding="utf-8")
        partial.replace(self.path)

    def describe_backend(self, backend: Backend) -> None:
        self.backend = {
            "kind": backend.kind,
            "model": backend.model,
            "endpoint": masked(backend.endpoint),
            "strict_tools": backend.strict_tools,
            "api": backend.api,
        }


def slug(name: str) -> str:
    """A file name from a case name: lower case, runs of other characters as one '-'."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    return cleaned[:80] or "case"


# -- recording -----------------------------------------------------------------------------------


class RecordingTransport(httpx2.BaseTransport):
    """Sends each request on through `inner` and keeps the exchange in the cassette."""

    def __init__(self, cassette: Cassette, inner: httpx2.BaseTransport) -> None:
        self.cassette, self.inner = cassette, inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        content = request.read()
        response = self.inner.handle_request(request)
        try:
            reply = response.read()  # the whole reply (a stream too), through the deadline
        finally:
            response.close()
        headers = {k: v for k, v in response.headers.items() if k.lower() in KEPT_REPLY_HEADERS}
        api, body = route(request.url), _body(content)
        self.cassette.exchanges.append(
            {
                "key": request_key(request.method, api, body),
                "request": {"method": request.method, "route": api, "body": body},
                "response": {"status": response.status_code, "headers": headers}
                | _reply_fields(headers.get("content-type", ""), reply),
            }
        )
        return httpx2.Response(response.status_code, headers=headers, content=reply)


def _reply_fields(content_type: str, reply: bytes) -> dict[str, Any]:
    text = reply.decode("utf-8", "replace")
    if "text/event-stream" in content_type:
        return {"events": [event for event in text.split("\n\n") if event.strip()]}
    body = _body(reply)
    return {"body": body} if not isinstance(body, str) else {"text": body}


# -- replaying -----------------------------------------------------------------------------------


class ReplayTransport(httpx2.BaseTransport):
    """Answers each request from the cassette; a request it has not seen is a 404 naming the
    first difference from the request recorded at the same step, kept in `misses`."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self.waiting: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
        for exchange in cassette.exchanges:
            self.waiting[exchange.get("key", "")].append(exchange)
        self.step = 0

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        api, body = route(request.url), _body(request.read())
        self.step += 1
        found = self.waiting.get(request_key(request.method, api, body))
        if not found:
            return self._miss(api, body)
        reply = found.popleft()["response"]
        return httpx2.Response(
            reply["status"], headers=reply.get("headers"), content=_content(reply)
        )

    def _miss(self, api: str, body: Any) -> httpx2.Response:
        recorded = self.cassette.exchanges
        same_step = recorded[self.step - 1]["request"] if self.step <= len(recorded) else None
        if same_step is None:
            why = f"the cassette holds {len(recorded)} request(s) and this is request {self.step}"
        else:
            why = "it differs from the recorded one at " + first_difference(
                same_step.get("body"), body
            )
        message = (
            f"no recorded model reply for request {self.step} ({api}) in {self.cassette.path}: "
            f"{why}. The prompt, schema, date or nl2sql changed; record the suite again with "
            "--record."
        )
        self.cassette.misses.append(message)
        return httpx2.Response(
            404,
            headers={"x-should-retry": "false"},
            json={"error": {"message": message, "type": "cassette_miss"}},
        )


def _content(reply: dict[str, Any]) -> bytes:
    if "events" in reply:
        return "".join(f"{event}\n\n" for event in reply["events"]).encode()
    if "body" in reply:
        return json.dumps(reply["body"]).encode()
    return str(reply.get("text", "")).encode()


def first_difference(recorded: Any, sent: Any, path: str = "body") -> str:
    """Where two request bodies first differ, with both values cut short."""
    if isinstance(recorded, dict) and isinstance(sent, dict):
        for name in sorted(set(recorded) | set(sent)):
            if recorded.get(name) != sent.get(name):
                return first_difference(recorded.get(name), sent.get(name), f"{path}.{name}")
    if isinstance(recorded, list) and isinstance(sent, list) and len(recorded) == len(sent):
        for index, (left, right) in enumerate(zip(recorded, sent, strict=True)):
            if left != right:
                return first_difference(left, right, f"{path}[{index}]")
    if isinstance(recorded, str) and isinstance(sent, str):
        common = min(len(recorded), len(sent))
        at = next((i for i in range(common) if recorded[i] != sent[i]), common)
        start = max(0, at - 20)
        recorded, sent = recorded[start : at + 30], sent[start : at + 30]
        path = f"{path}, character {at + 1}"
    return f"{path} (recorded {_short(recorded)}, now {_short(sent)})"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def replay_backend(cassette: Cassette) -> Backend:
    """The backend the cassette was recorded with, answered by the cassette alone."""
    recorded = cassette.backend
    client = openai.OpenAI(
        api_key="replay",
        base_url=REPLAY_BASE_URL,
        http_client=httpx2.Client(transport=ReplayTransport(cassette)),
        max_retries=0,
    )
    return Backend(
        str(recorded.get("kind", "compatible")),
        client,
        str(recorded.get("model", "")),
        f"the cassette {cassette.path}",
        bool(recorded.get("strict_tools", True)),
        api=str(recorded.get("api", "chat")),
    )


def recording_backend(backend: Backend, cassette: Cassette) -> Backend:
    """`backend` with every exchange kept in `cassette`."""
    cassette.describe_backend(backend)
    transport = RecordingTransport(cassette, backend.transport)
    client = backend.client.copy(http_client=httpx2.Client(transport=transport))
    return Backend(
        backend.kind,
        client,
        backend.model,
        backend.endpoint,
        backend.strict_tools,
        api=backend.api,
        transport=transport,
    )
