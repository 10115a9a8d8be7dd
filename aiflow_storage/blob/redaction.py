"""Keeping credentials out of reprs, logs and error messages.

A blob manager knows which of its configuration values are secret. It keeps
them in a :class:`RedactedConfig` (a ``dict`` whose ``repr`` masks them) and
passes every message that may quote a backend's error through
:func:`scrub`, which replaces each secret value by ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MASK", "SECRET_KEYS", "RedactedConfig", "redact", "scrub", "secret_values"]

MASK = "***"

SECRET_KEYS = frozenset(
    {
        "access_key_id",
        "access_key_secret",
        "secret_access_key",
        "session_token",
        "account_key",
        "sas_token",
        "connection_string",
        "credential",
        "client_secret",
        "password",
        "token",
        "key",
        "secret",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    }
)
"""Configuration and storage-option keys whose values are never shown."""

_CONN_STRING_PARTS = re.compile(r"(?i)(AccountKey|SharedAccessSignature)=([^;]+)")


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_KEYS


def redact(value: Any) -> Any:
    """Return a copy of ``value`` with every secret-keyed entry replaced by ``***``.

    Nested mappings and lists are walked; other values are returned as is.
    """
    if isinstance(value, Mapping):
        return {
            k: (MASK if _is_secret_key(k) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def secret_values(config: Mapping[str, Any]) -> frozenset[str]:
    """Collect the secret strings held anywhere in ``config``.

    Values of secret keys count, and so do the ``AccountKey=`` and
    ``SharedAccessSignature=`` parts of an Azure connection string.
    """
    found: set[str] = set()

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, secret or _is_secret_key(k))
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v, secret)
        elif isinstance(node, str) and secret and len(node) >= 4:
            found.add(node)
            found.update(m.group(2) for m in _CONN_STRING_PARTS.finditer(node))

    walk(config, False)
    return frozenset(found)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _CONN_STRING_PARTS.sub(lambda m: f"{m.group(1)}={MASK}", text)


class RedactedConfig(dict[str, Any]):
    """A configuration ``dict`` whose ``repr`` and ``str`` mask secret values."""

    def __repr__(self) -> str:
        return repr(redact(dict(self)))

    __str__ = __repr__
