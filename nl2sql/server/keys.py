"""API keys: a key is never stored, only its SHA-256; each maps to a tenant server-side."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from nl2sql.config import ApiKey
from nl2sql.errors import AuthError

KEY_PREFIX = "nl2sql_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key and its SHA-256 (what goes in the config)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, digest(key)


def config_entry(key_sha256: str, customer: int | None, name: str = "") -> str:
    """The [[api_keys]] table to paste into the config."""
    lines = ["[[api_keys]]", f'key_sha256 = "{key_sha256}"']
    if name:
        lines.append(f"name = {json.dumps(name)}")  # a TOML basic string
    if customer is not None:
        lines.append(f"customer = {customer}")
    return "\n".join(lines)


class KeyRing:
    """The configured keys, looked up by the bearer token a request carries."""

    def __init__(self, keys: tuple[ApiKey, ...]) -> None:
        self.keys = keys

    def find(self, authorization: str | None) -> ApiKey:
        """The key named by an `Authorization: Bearer KEY` header; AuthError otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Missing API key: send the header 'Authorization: Bearer KEY'.")
        return self.match(token.strip())

    def match(self, token: str) -> ApiKey:
        wanted = digest(token)
        # Compare every entry in constant time, so timing does not reveal a near match.
        found = [key for key in self.keys if hmac.compare_digest(key.key_sha256, wanted)]
        if not found:
            raise AuthError("The API key was not accepted; check it against the server's config.")
        return found[0]
