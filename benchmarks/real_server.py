"""A question set through `nl2sql ask` against a real model server: does the protocol work?

    python benchmarks/real_server.py --gguf MODEL.gguf [--set FILE] [--limit N]
    python benchmarks/real_server.py --base-url http://127.0.0.1:8080/v1 --model NAME [...]

With `--gguf` it starts llama-cpp-python's OpenAI-compatible server on that model file
(`pip install 'llama-cpp-python[server]'` builds llama.cpp: 20-30 minutes on 2 cores) and stops
it at the end; with `--base-url` it uses a server already running (llama.cpp's llama-server,
Ollama, vLLM, LM Studio). Each question runs as `nl2sql ask --format json -v` on nl2sql's sample
database with the settings a CPU server needs (`--timeout 300 --max-retries 0`), and is reported
as: protocol OK (exit 0 with a query, or a clear refusal, exit 3), model round trips, seconds, and
right / refused / wrong against the set's reference SQL. Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the question sets and their judge live with the tests

from question_sets import HERE, Case, load_set, open_target, rows_match  # noqa: E402

DEFAULT_SET = HERE / "development.toml"
NL2SQL = str(Path(sys.executable).parent / "nl2sql")  # the installed command, as users run it
ROUND_TRIPS = re.compile(r"model calls: (\d+)")


@dataclass
class Row:
    case: Case
    protocol_ok: bool
    round_trips: int | None
    seconds: float
    verdict: str  # right / refused / wrong / error
    detail: str = ""


def ask(case: Case, url: str, env: dict[str, str], timeout: float) -> Row:
    command = [
        NL2SQL, "ask", case.question, "--db", url,
        "--today", case.today.isoformat(), "--format", "json", "-v",
        "--timeout", str(timeout), "--max-retries", "0",
    ]  # fmt: skip
    if case.customer_id is not None:
        command += ["--customer", str(case.customer_id)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.monotonic() - started
    trips = ROUND_TRIPS.search(done.stderr)
    round_trips = int(trips.group(1)) if trips else None
    try:
        payload: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        payload = {}
    if done.returncode == 0 and payload.get("query") is not None:
        return Row(case, True, round_trips, seconds, "answered", json.dumps(payload.get("rows")))
    if done.returncode == 3:
        return Row(case, True, round_trips, seconds, "refused", payload.get("error", "")[:200])
    detail = (payload.get("error") or done.stderr.strip() or done.stdout.strip())[:200]
    return Row(case, False, round_trips, seconds, "error", detail)


def judge(row: Row, target: Any) -> Row:
    if row.verdict != "answered":
        return row
    expected = [tuple(r) for r in target.connection.execute(row.case.sql).fetchall()]
    actual = json.loads(row.detail) or []
    row.verdict = "right" if rows_match(expected, actual, row.case.ordered) else "wrong"
    return row


@contextmanager
def llama_cpp_server(gguf: Path, port: int, chat_format: str, wait: float) -> Any:
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--chat_format", chat_format, "--n_ctx", "16384",
    ]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/v1"
        wait_for(base, wait, server)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for(base: str, seconds: float, server: subprocess.Popen[bytes] | None = None) -> None:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if server is not None and server.poll() is not None:
            sys.exit(f"the model server exited with code {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2):
                return
        except OSError:
            time.sleep(1)
    sys.exit(f"no model server answered at {base}/models within {seconds:g} s")


def run(base: str, model: str, cases: list[Case], timeout: float, api: str) -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="nl2sql-real-server-"))
    target = open_target("sample", folder)
    env = {
        **os.environ,
        "OPENAI_BASE_URL": base,
        "NL2SQL_MODEL": model,
        "NL2SQL_API": api,
        # A question may take a few replies of `timeout` each; a reply is bounded, so a model
        # that rambles stops at the bound instead of at the server's context size.
        "NL2SQL_QUESTION_TIMEOUT": str(timeout * 3),
        "NL2SQL_MAX_OUTPUT_TOKENS": os.environ.get("NL2SQL_MAX_OUTPUT_TOKENS", "1024"),
    }
    env.pop("OPENAI_API_KEY", None)
    env.pop("AZURE_OPENAI_ENDPOINT", None)
    rows = []
    for case in cases:
        row = judge(ask(case, target.url, env, timeout), target)
        rows.append(row)
        trips = "?" if row.round_trips is None else row.round_trips
        status = "ok " if row.protocol_ok else "BAD"
        print(f"{status} {row.verdict:<8} trips {trips:<2} {row.seconds:6.1f} s  {case.question}")
        if row.verdict in ("refused", "error", "wrong"):
            print(f"      {row.detail}", flush=True)
    return rows


def summary(rows: list[Row]) -> str:
    n = len(rows) or 1
    ok = sum(row.protocol_ok for row in rows)
    verdicts = ("right", "refused", "wrong", "error")
    counts = {v: sum(row.verdict == v for row in rows) for v in verdicts}
    seconds = sum(row.seconds for row in rows)
    return (
        f"{len(rows)} questions: protocol OK {ok} ({ok / n:.0%}); "
        + ", ".join(f"{v} {c}" for v, c in counts.items())
        + f"; {seconds:.0f} s in all"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--gguf", type=Path, help="start llama-cpp-python's server on this model")
    where.add_argument("--base-url", help="use a server already running, e.g. .../v1")
    parser.add_argument("--model", default="local", help="the model name the server expects")
    parser.add_argument("--chat-format", default="chatml-function-calling")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--api", default="chat", choices=("chat", "responses"))
    parser.add_argument("--start-wait", type=float, default=300.0)
    args = parser.parse_args()
    cases = [c for c in load_set(args.set) if c.database == "sample"][: args.limit]
    if args.gguf:
        with llama_cpp_server(args.gguf, args.port, args.chat_format, args.start_wait) as base:
            rows = run(base, args.model, cases, args.timeout, args.api)
    else:
        wait_for(args.base_url.rstrip("/"), args.start_wait)
        rows = run(args.base_url.rstrip("/"), args.model, cases, args.timeout, args.api)
    print(summary(rows))


if __name__ == "__main__":
    main()
