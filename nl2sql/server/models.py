"""One model per tenant, shared by every conversation the server holds.

The offline model reads the tenant's values once (its value index) and answers any day from
them; a remote model's client is one for all tenants (the tenant lives in each request's
system prompt and, above all, in the compiler's scope).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import TYPE_CHECKING

from nl2sql.execute import ReadOnlyDatabase
from nl2sql.lru import Recent
from nl2sql.models.backends import Backend, answers_offline, choose_backend

if TYPE_CHECKING:
    from nl2sql.models.offline.model import OfflineModel

DAYS_KEPT = 32  # offline backends kept per (tenant, day); each shares its tenant's value index


class SharedModels:
    """Backends for the async agent, built on first use and kept."""

    def __init__(self, db: ReadOnlyDatabase, model: str | None = None) -> None:
        self.db = db
        self.model = model
        self.offline = answers_offline(model)
        self.lock = threading.Lock()
        self.remote: Backend | None = None
        self.tenant_models: dict[int | None, OfflineModel] = {}
        self.days: Recent[tuple[int | None, date], Backend] = Recent(DAYS_KEPT)

    def backend(self, customer_id: int | None, today: date) -> Backend:
        """The backend for a tenant on a day (blocking on first use: call it off the loop)."""
        with self.lock:
            if not self.offline:
                if self.remote is None:
                    self.remote = choose_backend(self.model, db=self.db, asynchronous=True)
                return self.remote
            return self._offline_backend(customer_id, today)

    def _offline_backend(self, customer_id: int | None, today: date) -> Backend:
        from nl2sql.models.offline import serving
        from nl2sql.models.offline.model import OfflineModel

        def on_the_day() -> Backend:
            model = self.tenant_models.get(customer_id)
            if model is None:
                model = OfflineModel(self.db, customer_id=customer_id)
                self.tenant_models[customer_id] = model
            return serving(model.on_day(today), asynchronous=True)

        return self.days.get((customer_id, today), on_the_day)

    def warm(self, customers: list[int | None], today: date) -> None:
        """Build each tenant's model now, so the first question does not wait for it."""
        for customer_id in customers:
            self.backend(customer_id, today)
