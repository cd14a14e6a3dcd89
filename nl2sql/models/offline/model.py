"""Placeholder offline model: replaced by the English parser (issue 5)."""

from __future__ import annotations

from typing import Any


class OfflineModel:
    def __init__(self, db: Any) -> None:
        self.db = db

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"content": "The offline model cannot answer questions yet."}
