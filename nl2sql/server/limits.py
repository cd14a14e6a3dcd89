"""Limits per key: requests in the last minute, and questions running at once."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nl2sql.config import ApiKey
from nl2sql.errors import LimitError

WINDOW_SECONDS = 60.0


class KeyLimits:
    """Admits a request when its key is under both limits; 429 material otherwise."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.recent: dict[str, deque[float]] = {}
        self.running: dict[str, int] = {}
        self.lock = threading.Lock()

    @contextmanager
    def admit(self, key: ApiKey) -> Iterator[None]:
        with self.lock:
            self._check_rate(key)
            self._check_running(key)
            self.running[key.key_sha256] = self.running.get(key.key_sha256, 0) + 1
        try:
            yield
        finally:
            with self.lock:
                self.running[key.key_sha256] -= 1

    def _check_rate(self, key: ApiKey) -> None:
        now = self.clock()
        recent = self.recent.setdefault(key.key_sha256, deque())
        while recent and recent[0] <= now - WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= key.requests_per_minute:
            wait = max(1, math.ceil(recent[0] + WINDOW_SECONDS - now))
            raise LimitError(
                f"Too many requests: {key.label} may make {key.requests_per_minute} a minute. "
                f"Try again in {wait} s.",
                retry_after=wait,
            )
        recent.append(now)

    def _check_running(self, key: ApiKey) -> None:
        if self.running.get(key.key_sha256, 0) >= key.concurrent:
            raise LimitError(
                f"Too many questions at once: {key.label} may run {key.concurrent} at a time. "
                "Try again when one has finished.",
                retry_after=1,
            )
