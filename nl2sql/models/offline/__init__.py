"""The built-in offline model: a deterministic English parser behind the Chat Completions API.

It is served in-process by an ``httpx2`` transport, so the agent talks to it through the real
``openai`` client: strict tool parsing, tool messages and streaming all run as they would
against a hosted model, with no key and no network.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import httpx2
import openai

from nl2sql.models.backends import OFFLINE, Backend
from nl2sql.models.offline.transport import AsyncOfflineTransport, OfflineTransport

if TYPE_CHECKING:
    from nl2sql.execute import ReadOnlyDatabase
    from nl2sql.models.offline.model import OfflineModel

OFFLINE_BASE_URL = "http://offline.nl2sql.invalid/v1"  # never resolved: the transport answers


def offline_backend(
    db: ReadOnlyDatabase | None,
    *,
    today: date | None = None,
    customer_id: int | None = None,
    asynchronous: bool = False,
) -> Backend:
    """An openai client whose HTTP requests are answered by the offline model in-process."""
    from nl2sql.models.offline.model import OfflineModel

    model = OfflineModel(db, today=today, customer_id=customer_id)
    return serving(model, asynchronous=asynchronous)


def serving(model: OfflineModel, *, asynchronous: bool = False) -> Backend:
    """A backend answered by `model`, one already built (the server shares one per tenant)."""
    transport: object
    if asynchronous:
        transport = AsyncOfflineTransport(model)
        client: object = openai.AsyncOpenAI(
            api_key=OFFLINE,
            base_url=OFFLINE_BASE_URL,
            http_client=httpx2.AsyncClient(transport=transport),
            max_retries=0,
        )
    else:
        transport = OfflineTransport(model)
        client = openai.OpenAI(
            api_key=OFFLINE,
            base_url=OFFLINE_BASE_URL,
            http_client=httpx2.Client(transport=transport),
            max_retries=0,
        )
    return Backend("offline", client, OFFLINE, "built-in (in-process)", transport=transport)
