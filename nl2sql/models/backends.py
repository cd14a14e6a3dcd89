"""Pick the model endpoint from flags and the environment (DESIGN.md section 3).

Every backend is an ``openai`` client, so the agent has one code path: OpenAI, Azure OpenAI,
any Chat Completions compatible server, or the offline model served in-process.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import openai

from nl2sql.deadline import AsyncDeadlineTransport, DeadlineTransport
from nl2sql.errors import ConfigError
from nl2sql.settings import env_count, env_seconds

if TYPE_CHECKING:
    from nl2sql.execute import ReadOnlyDatabase

OFFLINE = "offline"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_AZURE_API_VERSION = "2024-10-21"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 2
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass
class Backend:
    """A configured client and the model to ask."""

    kind: str  # "openai", "azure", "compatible" or "offline"
    client: Any  # openai.OpenAI / AsyncOpenAI / AzureOpenAI / AsyncAzureOpenAI
    model: str
    endpoint: str
    strict_tools: bool = True
    api: str = "chat"  # "chat" (Chat Completions) or "responses" (the Responses API)
    transport: Any = None  # the httpx2 transport under the client (a cassette wraps it)

    def describe(self) -> str:
        return f"{self.kind} model '{self.model}' at {masked(self.endpoint)}"

    @property
    def system_role(self) -> str:
        """The role the instructions go in: NL2SQL_SYSTEM_ROLE, else "developer" for OpenAI's
        reasoning models (o1, o3, o4-mini, gpt-5...), which expect it, else "system"."""
        chosen = os.environ.get(SYSTEM_ROLE_ENV)
        if chosen:
            if chosen not in SYSTEM_ROLES:
                raise ConfigError(
                    f"{SYSTEM_ROLE_ENV} must be one of {', '.join(SYSTEM_ROLES)}, not {chosen!r}."
                )
            return chosen
        reasoning = re.match(r"^(o\d|gpt-5)", self.model or "")
        return "developer" if self.kind in ("openai", "azure") and reasoning else "system"

    @property
    def output_limit(self) -> tuple[str, int] | None:
        """(request field, tokens) bounding each reply, from NL2SQL_MAX_OUTPUT_TOKENS; None
        when unset. A CPU server with no bound can generate until its context is full, minutes
        for one reply. OpenAI and Azure take max_completion_tokens (reasoning tokens count);
        compatible servers take max_tokens."""
        chosen = os.environ.get(MAX_OUTPUT_TOKENS_ENV, "").strip()
        if not chosen:
            return None
        if not chosen.isdigit() or int(chosen) < 1:
            raise ConfigError(
                f"{MAX_OUTPUT_TOKENS_ENV} must be a whole number of tokens (e.g. 1024), not "
                f"{chosen!r}."
            )
        field = "max_completion_tokens" if self.kind in ("openai", "azure") else "max_tokens"
        return field, int(chosen)


SYSTEM_ROLE_ENV = "NL2SQL_SYSTEM_ROLE"
SYSTEM_ROLES = ("system", "developer")
MAX_OUTPUT_TOKENS_ENV = "NL2SQL_MAX_OUTPUT_TOKENS"


def resolve_api(api: str | None) -> str:
    """--api, else NL2SQL_API, else Chat Completions."""
    from nl2sql.responses_api import API_ENV, APIS, CHAT

    chosen = api or os.environ.get(API_ENV) or CHAT
    if chosen not in APIS:
        raise ConfigError(f"--api must be one of {', '.join(APIS)}, not {chosen!r}.")
    return chosen


def masked(endpoint: str) -> str:
    """An endpoint URL with any user and password in it replaced by '***'."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", endpoint)


def choose_backend(
    model: str | None = None,
    *,
    db: ReadOnlyDatabase | None = None,
    today: date | None = None,
    customer_id: int | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    asynchronous: bool = False,
    api: str | None = None,
) -> Backend:
    """--model / NL2SQL_MODEL first; then OpenAI key, Azure endpoint, base URL; else offline.
    `api` (else NL2SQL_API): "chat" or "responses"."""
    backend = _choose(model, db, today, customer_id, timeout, max_retries, asynchronous)
    backend.api = resolve_api(api)
    return backend


def endpoint_configured() -> bool:
    env = os.environ
    return bool(
        env.get("OPENAI_API_KEY") or env.get("AZURE_OPENAI_ENDPOINT") or env.get("OPENAI_BASE_URL")
    )


def answers_offline(model: str | None) -> bool:
    """Whether `model` (else NL2SQL_MODEL, else the environment) is the built-in model."""
    model = model or os.environ.get("NL2SQL_MODEL")
    return model == OFFLINE or (not model and not endpoint_configured())


def _choose(
    model: str | None,
    db: ReadOnlyDatabase | None,
    today: date | None,
    customer_id: int | None,
    timeout: float | None,
    max_retries: int | None,
    asynchronous: bool,
) -> Backend:
    env = os.environ
    model = model or env.get("NL2SQL_MODEL")
    options: dict[str, Any] = {
        "timeout": env_seconds("NL2SQL_TIMEOUT", DEFAULT_TIMEOUT) if timeout is None else timeout,
        "max_retries": (
            env_count("NL2SQL_MAX_RETRIES", DEFAULT_MAX_RETRIES)
            if max_retries is None
            else max_retries
        ),
    }
    if model and model != OFFLINE and not endpoint_configured():
        # Never answer with a different model than the one asked for.
        raise ConfigError(
            f"Model '{model}' needs an endpoint: set OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT or "
            "OPENAI_BASE_URL, or use --model offline for the built-in model."
        )
    if answers_offline(model):
        from nl2sql.models.offline import offline_backend

        return offline_backend(db, today=today, customer_id=customer_id, asynchronous=asynchronous)
    strict = env.get("NL2SQL_STRICT_TOOLS", "1") not in ("0", "false", "no")
    if env.get("AZURE_OPENAI_ENDPOINT") and not env.get("OPENAI_API_KEY"):
        return azure_backend(model, asynchronous=asynchronous, strict=strict, **options)
    return openai_backend(model, asynchronous=asynchronous, strict=strict, **options)


def openai_backend(
    model: str | None,
    *,
    asynchronous: bool = False,
    strict: bool = True,
    base_url: str | None = None,
    api_key: str | None = None,
    **options: Any,
) -> Backend:
    """OpenAI, or a compatible server when OPENAI_BASE_URL (or base_url) is set."""
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    # Local servers (vLLM, Ollama, llama.cpp) usually need no key, but the SDK insists on one.
    key = api_key or os.environ.get("OPENAI_API_KEY") or ("not-needed" if base_url else None)
    factory = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    transport = http_transport(asynchronous)
    client = factory(
        api_key=key, base_url=base_url, http_client=http_client(transport), **options
    )
    kind = "compatible" if base_url and "api.openai.com" not in base_url else "openai"
    if kind == "compatible" and not model:
        raise ConfigError(
            f"Name the model served at {base_url}: pass --model NAME or set "
            "NL2SQL_MODEL (e.g. llama3.1 for Ollama)."
        )
    model = model or DEFAULT_OPENAI_MODEL
    return Backend(kind, client, model, str(client.base_url), strict, transport=transport)


def azure_backend(
    model: str | None,
    *,
    asynchronous: bool = False,
    strict: bool = True,
    endpoint: str | None = None,
    api_key: str | None = None,
    token_provider: Any = None,
    api_version: str | None = None,
    **options: Any,
) -> Backend:
    """Azure OpenAI with an API key, or Microsoft Entra ID through azure-identity."""
    env = os.environ
    endpoint = endpoint or env.get("AZURE_OPENAI_ENDPOINT")
    if not endpoint:
        raise ConfigError(
            "Azure OpenAI needs AZURE_OPENAI_ENDPOINT (https://NAME.openai.azure.com)."
        )
    deployment = model or env.get("AZURE_OPENAI_DEPLOYMENT")
    if not deployment:
        raise ConfigError(
            "Azure OpenAI needs a deployment name: pass --model DEPLOYMENT or set "
            "AZURE_OPENAI_DEPLOYMENT."
        )
    api_key = api_key or env.get("AZURE_OPENAI_API_KEY")
    if api_key is None and token_provider is None:
        token_provider = entra_token_provider(asynchronous)
    factory = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
    transport = http_transport(asynchronous)
    client = factory(
        http_client=http_client(transport),
        azure_endpoint=endpoint,
        api_key=api_key,
        azure_ad_token_provider=token_provider,
        api_version=api_version or env.get("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION,
        **options,
    )
    return Backend("azure", client, deployment, str(endpoint), strict, transport=transport)


def http_transport(asynchronous: bool) -> Any:
    """A network transport that stops at the question's deadline."""
    return AsyncDeadlineTransport() if asynchronous else DeadlineTransport()


def http_client(transport: Any) -> Any:
    """The SDK's own HTTP client over `transport`."""
    if isinstance(transport, AsyncDeadlineTransport):
        return openai.DefaultAsyncHttpx2Client(transport=transport)
    return openai.DefaultHttpx2Client(transport=transport)


def entra_token_provider(asynchronous: bool) -> Any:
    """A bearer token provider from azure-identity (the optional `azure` extra)."""
    try:
        if asynchronous:
            from azure.identity.aio import DefaultAzureCredential as AsyncCredential
            from azure.identity.aio import get_bearer_token_provider as async_provider

            return async_provider(AsyncCredential(), AZURE_SCOPE)
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError as error:
        raise ConfigError(
            "Azure OpenAI without AZURE_OPENAI_API_KEY uses Microsoft Entra ID: "
            "install it with pip install 'nl2sql[azure]', or set "
            "AZURE_OPENAI_API_KEY."
        ) from error
    return get_bearer_token_provider(DefaultAzureCredential(), AZURE_SCOPE)


def describe_api_error(error: Exception, backend: Backend) -> str:
    """One line naming the endpoint and what went wrong, after the SDK's retries ran out."""
    where = backend.describe()
    if isinstance(error, openai.LengthFinishReasonError):
        return (
            f"The reply from {where} was cut off by its length limit. Ask a narrower "
            "question or raise the model's max tokens."
        )
    if isinstance(error, openai.ContentFilterFinishReasonError):
        return f"The reply from {where} was blocked by its content filter."
    if isinstance(error, openai.APITimeoutError):
        return f"{where} did not answer in time (after retries). Try again, or raise --timeout."
    if isinstance(error, openai.APIConnectionError):
        return f"Cannot reach {where}: {error.__cause__ or error}. Check the URL and network."
    if isinstance(error, openai.AuthenticationError):
        return f"{where} rejected the API key (401). Check OPENAI_API_KEY / AZURE_OPENAI_API_KEY."
    if isinstance(error, openai.RateLimitError):
        return f"{where} is rate limiting requests (429) and retries ran out. Wait and try again."
    if isinstance(error, openai.APIStatusError):
        detail = _error_detail(error)
        return f"{where} answered HTTP {error.status_code}: {detail}"
    return f"{where} failed: {error}"


def _error_detail(error: openai.APIStatusError) -> str:
    body = error.body  # the SDK hands over the "error" member when there is one
    if isinstance(body, str) and body.strip():  # LM Studio: {"error": "<text>"}
        return server_message(body)
    if isinstance(body, dict):
        inner = body.get("error")
        message = body.get("message") or (
            inner.get("message") if isinstance(inner, dict) else inner
        )
        if message:
            return server_message(str(message))
    return server_message(str(error.message))


MAX_DETAIL_CHARS = 300


def server_message(text: str) -> str:
    """A server's error on one line: its first line and the first detail that names what was
    wrong. Pydantic servers (llama-cpp-python) list every union branch they tried; the branch
    errors of the wrong kind (`literal_error` on the role, `missing` fields) are skipped."""
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith(("File ", "Traceback", "POST ", "GET "))
    ]
    if not lines:
        return "no details"
    details = lines[1:]
    telling = [line for line in details if "literal_error" not in line and "'missing'" not in line]
    chosen = (telling or details)[:1]
    joined = " ".join([lines[0], *chosen])
    return joined if len(joined) <= MAX_DETAIL_CHARS else joined[: MAX_DETAIL_CHARS - 1] + "…"
