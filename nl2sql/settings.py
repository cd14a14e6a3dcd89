"""Numbers read from the environment, each checked the same way with one clear error."""

from __future__ import annotations

import os

from nl2sql.errors import ConfigError


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from `name`, else `default`."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:  # also refuses nan
        raise ConfigError(f"{name} must be a positive number of seconds, not {value!r}.")
    return seconds


def env_count(name: str, default: int) -> int:
    """A whole number, zero or more, from `name`, else `default`."""
    value = os.environ.get(name)
    if not value:
        return default
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise ConfigError(f"{name} must be a whole number (0 or more), not {value!r}.")
    return count
