"""The one module that pickles: workflows, rules and state values.

Stored pickles are framed as ``MAGIC | version | tag | payload`` where ``tag``
is an HMAC-SHA256 of the payload keyed with the pickle secret (see
:mod:`aiflow_core.homefiles`: configured, or generated and kept owner-only
under ``$AIFLOW_HOME``). Frames are verified before anything is unpickled; a
frame with an unknown version, no signature or a wrong one raises
:class:`~aiflow_core.errors.IntegrityError`, so writing to the database is not
enough to run code in an engine.

The secret is process-wide: every :class:`~aiflow_core.client.Client` (and
engine) sets it from its configuration; a process that made none resolves it
from ``$AIFLOW_HOME`` on first use.
"""

from __future__ import annotations

import hashlib
import hmac
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
    """Set the process-wide signing secret (``None``: resolve it from the configuration on next use)."""
    global _secret
    _secret = secret.encode() if isinstance(secret, str) else secret


def _key() -> bytes:
    if _secret is None:
        from aiflow_core.config import load_config
        from aiflow_core.homefiles import pickle_secret

        config = load_config()
        configure(pickle_secret(config.home, config.pickle_secret))
    assert _secret is not None
    return _secret


def _tag(payload: bytes) -> bytes:
    return hmac.new(_key(), payload, hashlib.sha256).digest()


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


def _split(frame: bytes) -> tuple[bytes, bytes]:
    if len(frame) < _HEADER + _TAG or frame[: len(MAGIC)] != MAGIC:
        raise IntegrityError("stored object is not an aiflow pickle frame; it was not written by aiflow")
    version = frame[len(MAGIC)]
    if version != VERSION:
        raise IntegrityError(
            f"stored object has pickle frame version {version}; this aiflow reads {VERSION}"
        )
    return frame[_HEADER : _HEADER + _TAG], frame[_HEADER + _TAG :]


def verify(frame: bytes) -> bytes:
    """Check the version and signature of a frame; return its payload, or raise IntegrityError."""
    tag, payload = _split(frame)
    if not hmac.compare_digest(tag, _tag(payload)):
        raise IntegrityError(
            "stored object failed verification: it is not signed with this process's pickle secret "
            "(unsigned, corrupted, or written with another secret); every engine and client sharing a "
            "database must use the same secret: the same $AIFLOW_HOME (its pickle_secret file) or the same "
            "pickle_secret / AIFLOW_PICKLE_SECRET"
        )
    return payload


def loads(frame: bytes) -> Any:
    """Verify a frame made by :func:`dumps` and unpickle it."""
    return cloudpickle.loads(verify(frame))


def loads_verified(frame: bytes) -> Any:
    """Unpickle a frame its sender has verified, without the secret (a worker's frames from its engine).

    Only for frames received over a private channel from the process that
    checked them; stored frames go through :func:`loads`.
    """
    _, payload = _split(frame)
    return cloudpickle.loads(payload)
