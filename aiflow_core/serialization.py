"""The one module that pickles: workflows, rules and state values.

Stored pickles are framed as ``MAGIC | version | tag | payload`` where ``tag``
is an HMAC-SHA256 of the payload keyed with the configured secret, or a plain
SHA-256 when no secret is set. Frames are verified before anything is
unpickled; a frame with an unknown version or a wrong tag raises
:class:`~aiflow_core.errors.IntegrityError`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import types
from collections.abc import Iterable
from typing import Any

import cloudpickle

from aiflow_core.errors import IntegrityError

MAGIC = b"AFPK"
VERSION = 1
_HEADER = len(MAGIC) + 1
_TAG = 32
_secret: bytes | None = None
#: Serializes the process-wide by-value registrations of :func:`dumps`.
_by_value_lock = threading.Lock()


def configure(secret: str | bytes | None) -> None:
    """Set the process-wide signing secret (``None``: digests only).

    The environment variable ``AIFLOW_PICKLE_SECRET`` is used when this was
    never called.
    """
    global _secret
    _secret = secret.encode() if isinstance(secret, str) else secret


def _key() -> bytes | None:
    if _secret is not None:
        return _secret
    env = os.environ.get("AIFLOW_PICKLE_SECRET")
    return env.encode() if env else None


def _tag(payload: bytes) -> bytes:
    key = _key()
    if key:
        return hmac.new(key, payload, hashlib.sha256).digest()
    return hashlib.sha256(payload).digest()


def dumps(obj: Any, by_value: Iterable[types.ModuleType] = ()) -> bytes:
    """Pickle ``obj`` into a frame.

    Functions and classes of workflow files are pickled by value, and so are
    those of the modules ``by_value`` (with their submodules), so unpickling
    needs none of them importable.
    """
    wanted = list(by_value)
    if not wanted:
        payload = cloudpickle.dumps(obj)
    else:
        with _by_value_lock:
            registered = cloudpickle.list_registry_pickle_by_value()
            modules = [m for m in wanted if m.__name__ not in registered]
            for module in modules:
                cloudpickle.register_pickle_by_value(module)
            try:
                payload = cloudpickle.dumps(obj)
            finally:
                for module in modules:
                    cloudpickle.unregister_pickle_by_value(module)
    return MAGIC + bytes([VERSION]) + _tag(payload) + payload


def loads(frame: bytes) -> Any:
    """Verify a frame made by :func:`dumps` and unpickle it."""
    if len(frame) < _HEADER + _TAG or frame[: len(MAGIC)] != MAGIC:
        raise IntegrityError("stored object is not an aiflow pickle frame")
    version = frame[len(MAGIC)]
    if version != VERSION:
        raise IntegrityError(
            f"stored object has pickle frame version {version}; this aiflow reads {VERSION}"
        )
    tag = frame[_HEADER : _HEADER + _TAG]
    payload = frame[_HEADER + _TAG :]
    if not hmac.compare_digest(tag, _tag(payload)):
        raise IntegrityError(
            "stored object failed verification (corrupted, or signed with another "
            "pickle_secret)"
        )
    return cloudpickle.loads(payload)
