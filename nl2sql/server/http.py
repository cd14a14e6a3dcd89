"""The HTTP API (DESIGN section 10): FastAPI routes over the ``Service``, and the web page.

Every failure is ``{"error": "one line"}`` with the status `STATUS` gives its error class;
with ``Accept: text/event-stream`` an answer streams as SSE (`text` events, then `result`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from nl2sql.config import ApiKey
from nl2sql.deadline import QuestionTimeoutError
from nl2sql.errors import (
    AuthError,
    ConfigError,
    ConversationBusyError,
    ConversationNotFoundError,
    DatabaseError,
    DatabaseUnavailableError,
    LimitError,
    ModelError,
    NL2SQLError,
    QueryTimeoutError,
    QueryValidationError,
    RefusedError,
    first_line,
)
from nl2sql.server.service import (
    Answer,
    AskArguments,
    QueryResult,
    Reply,
    Service,
    describe_problems,
)

# The status of each error class, most specific first.
STATUS: tuple[tuple[type[NL2SQLError], int], ...] = (
    (AuthError, 401),
    (LimitError, 429),
    (ConversationNotFoundError, 404),
    (ConversationBusyError, 409),
    (RefusedError, 422),
    (QueryValidationError, 400),
    (ConfigError, 400),
    (QueryTimeoutError, 504),
    (QuestionTimeoutError, 504),
    (DatabaseUnavailableError, 503),
    (ModelError, 502),
    (DatabaseError, 500),
    (NL2SQLError, 500),
)
API_DOCS = ("/docs", "/redoc")  # FastAPI's pages load Swagger UI / ReDoc from a CDN
PAGE_FILES = {"/": "page.html", "/page.js": "page.js", "/page.css": "page.css"}
PAGE_TYPES = {"html": "text/html", "js": "text/javascript", "css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class AskBody(AskArguments):
    today: date | None = Field(
        default=None, description="The day relative dates are read from [default: today]."
    )


class ErrorBody(BaseModel):
    error: str
    question: str | None = None
    refused: bool | None = None
    conversation_id: str | None = None


class Health(BaseModel):
    status: str


def status_of(error: NL2SQLError) -> int:
    return next(status for kind, status in STATUS if isinstance(error, kind))


def error_response(error: NL2SQLError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, LimitError) else {}
    if isinstance(error, AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    body = {"error": first_line(error, type(error).__name__)}
    return JSONResponse(body, status_code=status_of(error), headers=headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 409, 422, 429, 500, 502, 503, 504)
}


def create_app(service: Service) -> FastAPI:
    """The ASGI app: mount it in any ASGI server (``nl2sql serve`` runs it under uvicorn)."""
    app = FastAPI(title="nl2sql", version="1", summary="Questions about an orders database.")
    app.state.service = service

    @app.exception_handler(NL2SQLError)
    async def nl2sql_error(_request: Request, error: NL2SQLError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own 404/405 say {"detail": ...}; every error here is {"error": ...}
        message = f"{error.detail}: see /docs for the API's routes."
        return JSONResponse({"error": message}, status_code=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": describe_validation(error)}, status_code=400)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.url.path not in API_DOCS:
            response.headers.update(SECURITY_HEADERS)
        return response

    add_routes(app, service)
    app.openapi = lambda: openapi_document(app, service)  # type: ignore[method-assign]
    return app


AuthHeader = Annotated[str | None, Header(description="Bearer KEY")]


def add_routes(app: FastAPI, service: Service) -> None:
    @app.post(
        "/v1/ask",
        response_model=Answer,
        responses=ERRORS | {200: stream_doc()},
        openapi_extra={"requestBody": body_doc("AskBody")},
    )
    async def ask(
        request: Request,
        authorization: AuthHeader = None,
        accept: Annotated[str | None, Header()] = None,
    ) -> Response:
        """Answer a question; with `Accept: text/event-stream`, stream it as SSE."""
        key = service.keys.find(authorization)  # before the body: no key, no other answer
        body = ask_body(await request.body())
        if "text/event-stream" in (accept or ""):
            return await streamed(service, key, body)
        reply = await service.ask(
            key, body.question, conversation_id=body.conversation_id, today=body.today
        )
        return reply_response(reply)

    @app.post(
        "/v1/query",
        response_model=QueryResult,
        responses=ERRORS,
        openapi_extra={"requestBody": body_doc("Query")},
    )
    async def query(request: Request, authorization: AuthHeader = None) -> dict[str, Any]:
        """Run a Query tool call's arguments (the object `nl2sql run` takes)."""
        key = service.keys.find(authorization)
        return await service.query(key, await json_body(request))

    @app.get("/v1/schema", responses=ERRORS)
    async def schema(authorization: AuthHeader = None) -> dict[str, Any]:
        """The strict Query tool, as the model sees it."""
        service.keys.find(authorization)
        return service.schema()

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for route, name in PAGE_FILES.items():
        app.add_api_route(route, page_file(name), methods=["GET"], include_in_schema=False)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)  # no icon; a browser asks on every load


def reply_response(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.to_json(), status_code=200 if reply.answered else 422)


async def streamed(service: Service, key: ApiKey, body: AskBody) -> Response:
    """SSE once the answer starts; an error before that is a plain JSON error response."""
    deltas: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        service.ask(
            key,
            body.question,
            conversation_id=body.conversation_id,
            today=body.today,
            on_text=deltas.put_nowait,
        )
    )
    first = asyncio.create_task(deltas.get())
    await asyncio.wait({task, first}, return_when=asyncio.FIRST_COMPLETED)
    if task.done() and not first.done():
        first.cancel()
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        reply = task.result()
        if not reply.answered:
            return reply_response(reply)
        return sse_response(events(task, deltas, None))
    return sse_response(events(task, deltas, first.result()))


def sse_response(stream: AsyncIterator[str]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def events(
    task: asyncio.Task[Reply], deltas: asyncio.Queue[str], first: str | None
) -> AsyncIterator[str]:
    """`text` events as the answer arrives, then one `result` (or `error`) event."""
    try:
        if first is not None:
            yield sse("text", {"delta": first})
        while not task.done() or not deltas.empty():
            getting = asyncio.ensure_future(deltas.get())
            await asyncio.wait({task, getting}, return_when=asyncio.FIRST_COMPLETED)
            if getting.done():
                yield sse("text", {"delta": getting.result()})
            else:
                getting.cancel()
        yield final_event(task)
    finally:
        task.cancel()  # the client went away: stop the question (the deadline ends its SQL)


def final_event(task: asyncio.Task[Reply]) -> str:
    error = task.exception()
    if isinstance(error, NL2SQLError):
        return sse("error", {"error": first_line(error), "status": status_of(error)})
    if error is not None:
        return sse("error", {"error": "The server failed answering; see its log.", "status": 500})
    reply = task.result()
    return sse("result" if reply.answered else "error", reply.to_json())


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(
            "The body is not JSON: send a Query tool call's arguments as a JSON object."
        ) from None


def ask_body(raw: bytes) -> AskBody:
    """The /v1/ask body, read as JSON whatever its Content-Type (curl -d sends a form's)."""
    try:
        return AskBody.model_validate_json(raw)
    except ValidationError as error:
        raise ConfigError(describe_problems(error.errors(), "Bad request", "body")) from None


def describe_validation(error: RequestValidationError) -> str:
    return describe_problems(error.errors(), "Bad request", "body")


def page_file(name: str) -> Callable[[], Awaitable[Response]]:
    text = resources.files("nl2sql.server").joinpath("static", name).read_text("utf-8")
    media = PAGE_TYPES[name.rsplit(".", 1)[1]]

    async def serve() -> Response:
        return Response(text, media_type=media, headers={"Cache-Control": "no-cache"})

    return serve


def stream_doc() -> dict[str, Any]:
    return {
        "description": "The answer; with Accept: text/event-stream, SSE `text` events "
        "({delta}) then one `result` event (this object) or `error` event.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }


def body_doc(schema: str) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{schema}"}
    return {"required": True, "content": {"application/json": {"schema": reference}}}


def openapi_document(app: FastAPI, service: Service) -> dict[str, Any]:
    """FastAPI's document, with the Query tool's own JSON schema as the /v1/query body."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    parameters = json.loads(json.dumps(service.schema()["function"]["parameters"]))
    definitions = parameters.pop("$defs", {})
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.items():
        schemas["Query" + name] = relinked(schema)
    schemas["Query"] = relinked(parameters)
    schemas["AskBody"] = AskBody.model_json_schema(ref_template="#/components/schemas/{model}")
    document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    app.openapi_schema = document
    return document


def relinked(schema: Any) -> Any:
    """A JSON schema whose `#/$defs/X` references point at OpenAPI's components."""
    text = json.dumps(schema)
    return json.loads(re.sub(r'"#/\$defs/(\w+)"', r'"#/components/schemas/Query\1"', text))
