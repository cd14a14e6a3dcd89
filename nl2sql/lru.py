"""A small thread-safe cache that keeps the most recently used entries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class Recent(Generic[Key, Value]):
    """At most `size` entries; the least recently used goes first. `make` runs outside the
    lock, so two threads may both build a missing entry (the last one stays)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Key, Value] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Key, make: Callable[[], Value]) -> Value:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found
        value = make()
        with self.lock:
            self.entries[key] = value
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self.entries)
