"""The config file: what a database cannot say about itself (DESIGN section 7).

A TOML file (``--config PATH`` or ``NL2SQL_CONFIG``) adds undeclared joins, the tenant key and
shared tables, descriptions, words, labels, allowed values and hidden tables or columns. It is
read once at the edge and applied to a catalog's tables as ``info`` and ``comment``, so every
reader of the catalog sees it the same way as nl2sql's built-in meaning.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nl2sql.errors import ConfigError

CONFIG_ENV = "NL2SQL_CONFIG"

# Each key a section may hold, with the type its value must have.
TOP_LEVEL_KEYS: dict[str, type] = {
    "database": str,
    "description": str,
    "notes": list,
    "joins": list,
    "tenant": dict,
    "tables": dict,
    "columns": dict,
    "api_keys": list,
}
TENANT_KEYS: dict[str, type] = {"column": str, "shared": list}
JOIN_KEYS: dict[str, type] = {"from": str, "to": str}
TABLE_KEYS: dict[str, type] = {
    "description": str,
    "words": list,
    "label": str,
    "hidden": bool,
    "row": str,
    "rows": str,
}
COLUMN_KEYS: dict[str, type] = {
    "description": str,
    "words": list,
    "values": list,
    "hidden": bool,
    "phrase": str,
    "verb": str,
    "unit": str,
    "hint": str,
    "type": str,
    "derived_from": list,
}
API_KEY_KEYS: dict[str, type] = {
    "key_sha256": str,
    "customer": int,
    "name": str,
    "requests_per_minute": int,
    "concurrent": int,
}
DEFAULT_REQUESTS_PER_MINUTE = 60
DEFAULT_CONCURRENT = 4
UNITS = ("money",)
TYPES = ("date", "datetime")  # for dates a database keeps as text


@dataclass(frozen=True)
class Join:
    """A many -> one join the database does not declare: `from` a column `to` a key."""

    source: str  # "orders.customer_id"
    target: str  # "customers.id"


@dataclass(frozen=True)
class ApiKey:
    """A key the HTTP API and MCP server accept, known only by its SHA-256, and the tenant it
    answers for (None: unscoped, it may ask anything)."""

    key_sha256: str
    customer: int | None = None
    name: str = ""
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    concurrent: int = DEFAULT_CONCURRENT

    @property
    def label(self) -> str:
        """How logs and messages name the key: its name, else the start of its hash."""
        return self.name or f"key {self.key_sha256[:8]}"


@dataclass(frozen=True)
class Config:
    """One config file, checked for shape; names are checked against a catalog when applied."""

    path: str = "config"
    database: str | None = None
    description: str | None = None
    notes: tuple[str, ...] = ()
    joins: tuple[Join, ...] = ()
    tenant_column: str | None = None
    shared: tuple[str, ...] = ()
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    columns: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    api_keys: tuple[ApiKey, ...] = ()

    @property
    def hidden_tables(self) -> frozenset[str]:
        return frozenset(name for name, keys in self.tables.items() if keys.get("hidden"))

    @property
    def hidden_columns(self) -> frozenset[str]:
        return frozenset(name for name, keys in self.columns.items() if keys.get("hidden"))

    def problem(self, where: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {where}: {message}")


def config_path(given: str | Path | None) -> Path | None:
    """--config, else NL2SQL_CONFIG, else none."""
    value = given or os.environ.get(CONFIG_ENV)
    return Path(value).expanduser() if value else None


def load_config(given: str | Path | None) -> Config | None:
    """The config named by --config or NL2SQL_CONFIG, checked; None when there is none."""
    path = config_path(given)
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"Cannot read the config {path}: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"The config {path} is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"The config {path} is not valid TOML: {error}.") from None
    return parse_config(data, str(path))


def as_config(value: Config | str | Path | None) -> Config | None:
    """A Config as given, or loaded from a path (library callers may pass either)."""
    if value is None or isinstance(value, Config):
        return value
    return load_config(value)


def parse_config(data: Mapping[str, Any], path: str = "config") -> Config:
    """A Config from parsed TOML, naming the first key or value of the wrong shape."""
    _check_keys(data, TOP_LEVEL_KEYS, path, "the top level")
    tenant = data.get("tenant", {})
    _check_keys(tenant, TENANT_KEYS, path, "[tenant]")
    tables = data.get("tables", {})
    columns = data.get("columns", {})
    for name, keys in tables.items():
        _check_section(keys, TABLE_KEYS, path, f"[tables.{name}]")
    for name, keys in columns.items():
        _check_section(keys, COLUMN_KEYS, path, f'[columns."{name}"]')
        unit = keys.get("unit")
        if unit is not None and unit not in UNITS:
            raise ConfigError(
                f'{path}: [columns."{name}"] unit: {unit!r} is not a known unit; use "money".'
            )
        kind = keys.get("type")
        if kind is not None and kind not in TYPES:
            raise ConfigError(
                f'{path}: [columns."{name}"] type: {kind!r} is not a type nl2sql can read a '
                'text column as; use "date" or "datetime".'
            )
    return Config(
        path=path,
        database=data.get("database"),
        description=data.get("description"),
        notes=tuple(_strings(data.get("notes", []), path, "notes")),
        joins=tuple(_join(item, path, index) for index, item in enumerate(data.get("joins", []))),
        tenant_column=tenant.get("column"),
        shared=tuple(_strings(tenant.get("shared", []), path, "[tenant] shared")),
        tables=tables,
        columns=columns,
        api_keys=_api_keys(data.get("api_keys", []), path),
    )


def _check_keys(section: Any, allowed: dict[str, type], path: str, where: str) -> None:
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {where} must be a table of keys.")
    for key, value in section.items():
        if key not in allowed:
            raise ConfigError(
                f"{path}: {where}: unknown key {key!r}. Known keys: {', '.join(allowed)}."
            )
        if not isinstance(value, allowed[key]):
            raise ConfigError(
                f"{path}: {where}: {key} must be {_type_name(allowed[key])}, "
                f"not {type(value).__name__}."
            )
        if allowed[key] is list and key not in ("joins", "api_keys"):
            _strings(value, path, f"{where} {key}")


def _check_section(section: Any, allowed: dict[str, type], path: str, where: str) -> None:
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: {where} must be a table of keys.")
    _check_keys(section, allowed, path, where)


def _strings(values: Any, path: str, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{path}: {where} must be a list of strings.")
    return list(values)


def _join(item: Any, path: str, index: int) -> Join:
    where = f"joins[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f'{path}: {where} must be {{ from = "t.c", to = "t.c" }}.')
    _check_keys(item, JOIN_KEYS, path, where)
    if set(item) != set(JOIN_KEYS):
        raise ConfigError(f"{path}: {where} needs both from and to.")
    return Join(item["from"], item["to"])


def _api_keys(items: list[Any], path: str) -> tuple[ApiKey, ...]:
    keys = tuple(_api_key(item, path, index) for index, item in enumerate(items))
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key.key_sha256 in seen:
            raise ConfigError(f"{path}: api_keys[{index}]: the same key_sha256 is listed twice.")
        seen.add(key.key_sha256)
    return keys


def _api_key(item: Any, path: str, index: int) -> ApiKey:
    where = f"api_keys[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f'{path}: {where} must be a table: [[api_keys]] key_sha256 = "...".')
    _check_keys(item, API_KEY_KEYS, path, where)
    digest = item.get("key_sha256", "")
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest.lower()):
        raise ConfigError(
            f"{path}: {where}: key_sha256 must be the 64 hex digits of the key's SHA-256 "
            "(nl2sql new-key prints a key and its hash)."
        )
    for name in ("customer", "requests_per_minute", "concurrent"):
        value = item.get(name)
        if value is not None and (isinstance(value, bool) or value < 1):
            raise ConfigError(f"{path}: {where}: {name} must be a positive whole number.")
    return ApiKey(
        key_sha256=digest.lower(),
        customer=item.get("customer"),
        name=item.get("name", ""),
        requests_per_minute=item.get("requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE),
        concurrent=item.get("concurrent", DEFAULT_CONCURRENT),
    )


def _type_name(kind: type) -> str:
    names = {str: "text", list: "a list", dict: "a table", bool: "true or false"}
    return names.get(kind, "a whole number")
