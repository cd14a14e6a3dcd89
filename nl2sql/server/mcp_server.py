"""The MCP server: the tools `ask`, `query` and `schema` over the transport-neutral ``Service``.

``nl2sql mcp`` serves them over stdio (the key is ``$NL2SQL_API_KEY``, checked at start-up) or,
with ``--http PORT``, over streamable HTTP at ``http://127.0.0.1:PORT/mcp``, where every HTTP
request must carry ``Authorization: Bearer KEY`` (anything else is a 401 before MCP sees it).
A key maps to its tenant server-side, as in the HTTP API; the caller never names a tenant.

Everything the database or the model says is returned as data: JSON structured content and
the same JSON as text. A refusal or an error is a tool error (``isError``) whose text is
nl2sql's one-line message.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import INVALID_REQUEST, CallToolResult, TextContent, ToolAnnotations
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from nl2sql.config import DEFAULT_CONCURRENT, ApiKey
from nl2sql.errors import AuthError, ConfigError, NL2SQLError, first_line
from nl2sql.server.serve import listening_socket
from nl2sql.server.service import (
    Answer,
    AskArguments,
    QueryResult,
    Service,
    describe_problems,
)

KEY_VARIABLE = "NL2SQL_API_KEY"
MCP_PATH = "/mcp"
# The local user's own process over stdio when the config lists no keys: unscoped, like
# `nl2sql ask`. Its conversations are kept under this owner.
LOCAL_KEY = ApiKey(
    "local", name="local", requests_per_minute=100_000, concurrent=DEFAULT_CONCURRENT
)

KeyForRequest = Callable[[Context], ApiKey]

INSTRUCTIONS = (
    "nl2sql answers questions about one read-only database without anyone writing SQL. Use "
    "`ask` for a question in plain English; use `query` to fill nl2sql's typed Query spec "
    "yourself (never SQL; its description lists every table and column); `schema` returns "
    "that spec as a function-tool definition. Show the user the `understood` line of a "
    "result: it says what was counted, with which filters and dates."
)
ASK_DESCRIPTION = (
    "Answer a plain-English question about the database, e.g. 'how many orders were "
    "delivered last month?'. nl2sql's own model picks the query; the result has the answer, "
    "`understood` (what was counted: filters, date range; show it to the user), the rows, the "
    "typed query and the SQL it ran. For a follow-up ('only those from Germany') pass the "
    "`conversation_id` of the previous result. Use this when you have the question in words; "
    "use `query` when you would rather fill the typed spec yourself. A question nl2sql cannot "
    "answer from the database is an error saying why, with the conversation_id to reply on."
)
QUERY_PREFIX = (
    "Run one typed query on the database: fill this typed spec instead of writing SQL "
    "(nl2sql compiles it; SQL is never accepted). Tables and columns are the enums in the "
    "input schema. Returns columns, rows, row_count, truncated, the SQL nl2sql ran and "
    "`understood` (what the spec means in words). An invalid spec is an error naming every "
    "bad field; fix those and call again. The spec, as nl2sql's own model is told it:\n\n"
)
SCHEMA_DESCRIPTION = (
    "The Query tool's definition as a strict function tool (name, description, JSON-schema "
    "parameters): the same spec the `query` tool takes. Use it to hand the spec to your own "
    "model, or to read its description of every table and column."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


def build_mcp(service: Service, key_for_request: KeyForRequest) -> MCPServer:
    """The MCP server over `service`; `key_for_request` names the key each call runs as
    (it raises AuthError when the request has none)."""

    async def ask(arguments: dict[str, Any], ctx: Context) -> Annotated[CallToolResult, Answer]:
        try:
            key = key_for_request(ctx)
            asked = ask_arguments(arguments)
            reply = await service.ask(key, asked.question, conversation_id=asked.conversation_id)
        except NL2SQLError as error:
            return failed(error)
        body = reply.to_json()
        if not reply.answered:
            return error_result(
                f"{body['error']} (conversation_id {body['conversation_id']}: to reply or "
                "clarify, call ask again with it.)"
            )
        return data_result(body)

    async def query(
        arguments: dict[str, Any], ctx: Context
    ) -> Annotated[CallToolResult, QueryResult]:
        try:
            key = key_for_request(ctx)
            return data_result(await service.query(key, arguments))
        except NL2SQLError as error:
            return failed(error)

    async def schema(ctx: Context) -> CallToolResult:
        try:
            key_for_request(ctx)
        except NL2SQLError as error:
            return failed(error)
        return data_result(service.schema())

    definition = service.schema()["function"]
    tools = [
        tool_as_given(
            ask,
            name="ask",
            title="Ask a question",
            description=ASK_DESCRIPTION,
            parameters=AskArguments.model_json_schema(),
        ),
        tool_as_given(
            query,
            name="query",
            title="Run a typed query",
            description=QUERY_PREFIX + definition["description"],
            parameters=definition["parameters"],
        ),
        Tool.from_function(
            schema,
            name="schema",
            title="The Query spec",
            description=SCHEMA_DESCRIPTION,
            annotations=READ_ONLY,
        ),
    ]
    return MCPServer("nl2sql", instructions=INSTRUCTIONS, log_level="WARNING", tools=tools)


class ArgumentsAsGiven(FuncMetadata):
    """Hands a tool the call's arguments untouched, as `arguments`: nl2sql validates them
    itself, so a bad call gets nl2sql's one-line message, not pydantic's many lines."""

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        return {"arguments": dict(arguments_to_validate)}


def tool_as_given(
    fn: Callable[..., Any],
    *,
    name: str,
    title: str,
    description: str,
    parameters: Mapping[str, Any],
) -> Tool:
    """A tool whose input schema is exactly `parameters` (for `query`, the strict Query
    tool's JSON schema), its arguments passed to `fn` unvalidated for nl2sql to validate."""
    tool = Tool.from_function(
        fn, name=name, title=title, description=description, annotations=READ_ONLY
    )
    metadata = tool.fn_metadata
    passthrough = ArgumentsAsGiven(
        arg_model=metadata.arg_model,
        output_schema=metadata.output_schema,
        output_model=metadata.output_model,
        wrap_output=metadata.wrap_output,
    )
    return tool.model_copy(
        update={"parameters": copy.deepcopy(dict(parameters)), "fn_metadata": passthrough}
    )


def ask_arguments(arguments: dict[str, Any]) -> AskArguments:
    try:
        return AskArguments.model_validate(arguments)
    except ValidationError as error:
        message = describe_problems(error.errors(), "Bad ask arguments", "arguments")
        raise ConfigError(message) from None


def data_result(body: dict[str, Any]) -> CallToolResult:
    """Structured content, and the same object as JSON text for clients that read only text."""
    text = json.dumps(body, ensure_ascii=False, default=str)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=body)


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def failed(error: NL2SQLError) -> CallToolResult:
    return error_result(first_line(error, type(error).__name__))


# --- scope ----------------------------------------------------------------------------------


def stdio_key(service: Service, environ: Mapping[str, str] | None = None) -> ApiKey:
    """The key a stdio server runs as, from $NL2SQL_API_KEY, checked before serving."""
    token = (os.environ if environ is None else environ).get(KEY_VARIABLE, "").strip()
    if not token:
        if service.keys.keys:
            raise AuthError(
                f"The config lists [[api_keys]]: set {KEY_VARIABLE} to one of the keys in the "
                "MCP client's env block for this server."
            )
        return LOCAL_KEY
    if not service.keys.keys:
        raise ConfigError(
            f"{KEY_VARIABLE} is set but the config lists no [[api_keys]]: add the key's table "
            f"(nl2sql new-key prints one) and pass --config, or unset {KEY_VARIABLE}."
        )
    try:
        return service.keys.match(token)
    except AuthError:
        raise AuthError(
            f"{KEY_VARIABLE} was not accepted: it matches none of the config's [[api_keys]]."
        ) from None


def fixed_key(key: ApiKey) -> KeyForRequest:
    return lambda _ctx: key


def bearer_key(service: Service) -> KeyForRequest:
    """Each HTTP request's own `Authorization: Bearer KEY` (the transport checked it too)."""

    def key_for_request(ctx: Context) -> ApiKey:
        headers = ctx.headers or {}
        return service.keys.find(headers.get("authorization"))

    return key_for_request


class RequireKey:
    """ASGI wrapper: an HTTP request without a configured key is a 401 before MCP reads it.

    The body is a JSON-RPC error carrying the one-line message, so an MCP client shows it.
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            authorization = None
            for name, value in scope.get("headers", ()):
                if name.lower() == b"authorization":
                    authorization = value.decode("latin-1")
            try:
                self.service.keys.find(authorization)
            except AuthError as error:
                await unauthorized(first_line(error), send)
                return
        await self.app(scope, receive, send)


async def unauthorized(message: str, send: Send) -> None:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
    payload = json.dumps(body).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
        (b"www-authenticate", b"Bearer"),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


# --- running --------------------------------------------------------------------------------


def http_app(service: Service, host: str = "127.0.0.1") -> ASGIApp:
    """The streamable-HTTP MCP app at /mcp, every request keyed (mount it in any ASGI server;
    its lifespan must run)."""
    server = build_mcp(service, bearer_key(service))
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, host=host)
    return RequireKey(app, service)


def run_mcp(service: Service, *, http_port: int | None, host: str = "127.0.0.1") -> None:
    """Serve until stopped: stdio (keyed by $NL2SQL_API_KEY), or streamable HTTP on
    host:http_port at /mcp (keyed per request; the config must list keys)."""
    if http_port is None:
        key = stdio_key(service)  # before serving: a wrong key fails the command at start
        try:
            build_mcp(service, fixed_key(key)).run("stdio")
        except KeyboardInterrupt:  # Ctrl-C in a terminal: stop quietly, like end of input
            pass
        return
    import uvicorn

    if not service.keys.keys:
        service.check(require_keys=True)  # raises: HTTP needs keys
    sock = listening_socket(host, http_port, "--http PORT")
    print(f"nl2sql MCP server at http://{host}:{http_port}{MCP_PATH}", file=sys.stderr)
    try:
        config = uvicorn.Config(http_app(service, host), log_level="info", lifespan="on")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
