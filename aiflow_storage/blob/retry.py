"""Bounded retries of transient failures and translation of backend errors.

Every store operation of a blob manager runs through :func:`call`. Errors
are sorted by their class names (walking the ``__cause__``/``__context__``
chain), so no cloud SDK has to be imported to recognise its exceptions:

* missing objects become :class:`BlobNotFoundError`;
* a local path the operating system refuses (a ``PermissionError`` naming
  a file) becomes :class:`BlobPermissionError` naming that path;
* refused or missing credentials become :class:`BlobCredentialsError` at
  once: they are never retried, and never retried anonymously;
* connection resets, timeouts and throttling are retried with exponential
  backoff and jitter, at most ``attempts`` times in all, then become
  :class:`BlobConnectionError`;
* anything else becomes :class:`BlobError`.

Messages are scrubbed of the manager's secrets, and the original exception
is not chained (its text could hold them); its class name is kept in the
message.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from aiflow_core.errors import AIFlowError
from aiflow_storage.blob.errors import (
    BlobConnectionError,
    BlobCredentialsError,
    BlobError,
    BlobNotFoundError,
    BlobPermissionError,
)
from aiflow_storage.blob.redaction import scrub

__all__ = ["RetryPolicy", "call", "classify"]

log = logging.getLogger("aiflow_storage.blob")

T = TypeVar("T")

_CREDENTIAL_NAMES = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "ClientAuthenticationError",
        "CredentialUnavailableError",
        "DefaultCredentialsError",
        "RefreshError",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
    }
)
_CREDENTIAL_WORDS = (
    "AuthenticationFailed",
    "AuthorizationFailure",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "Forbidden",
)
_TRANSIENT_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ClientConnectionError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ServiceRequestError",
        "ServiceResponseError",
        "ChunkedEncodingError",
        "ConnectionError",
        "Timeout",
        "FSTimeoutError",
    }
)
_TRANSIENT_WORDS = ("SlowDown", "ServiceUnavailable", "RequestTimeout", "503 ", "502 ", "504 ")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and node not in seen and len(seen) < 8:
        seen.append(node)
        node = node.__cause__ or node.__context__
    return seen


def _refused_path(chain: list[BaseException]) -> str | None:
    """The local path of an operating system's ``PermissionError`` in ``chain`` (cloud ones name none)."""
    for error in chain:
        if isinstance(error, PermissionError) and getattr(error, "filename", None):
            return str(error.filename)
    return None


def classify(exc: BaseException) -> str:
    """Return ``"credentials"``, ``"permission"``, ``"not_found"``, ``"transient"`` or ``"other"`` for ``exc``."""
    chain = _chain(exc)
    names = {cls.__name__ for e in chain for cls in type(e).__mro__}
    text = " ".join(str(e) for e in chain)
    if not names & _CREDENTIAL_NAMES and _refused_path(chain) is not None:
        return "permission"
    if names & _CREDENTIAL_NAMES or any(isinstance(e, PermissionError) for e in chain):
        return "credentials"
    if any(word in text for word in _CREDENTIAL_WORDS):
        return "credentials"
    if isinstance(exc, FileNotFoundError) or "NoSuchKey" in names:
        return "not_found"
    if any(isinstance(e, ConnectionError | TimeoutError) for e in chain):
        return "transient"
    if names & _TRANSIENT_NAMES or any(word in text for word in _TRANSIENT_WORDS):
        return "transient"
    return "other"


class RetryPolicy:
    """How often and how patiently transient failures are retried.

    ``attempts`` counts every try (so 1 disables retries); the delay before
    try *n* is ``min(max_delay, base_delay * 2 ** (n - 1))`` scaled by a
    random factor in [0.5, 1).
    """

    def __init__(self, attempts: int = 4, base_delay: float = 0.1, max_delay: float = 2.0) -> None:
        if attempts < 1:
            raise ValueError(f"retry attempts must be at least 1, got {attempts!r}")
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay

    def delay(self, attempt: int) -> float:
        """Return the pause before retry number ``attempt`` (1-based)."""
        pause = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return pause * (0.5 + random.random() / 2)

    def __repr__(self) -> str:
        return f"RetryPolicy(attempts={self.attempts}, base_delay={self.base_delay})"


def _translate(exc: Exception, kind: str, what: str, secrets: Iterable[str]) -> AIFlowError:
    detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
    if kind == "not_found":
        return BlobNotFoundError(f"{what}: no such blob or file ({detail})")
    if kind == "permission":
        path = scrub(str(_refused_path(_chain(exc))), secrets)
        return BlobPermissionError(
            f"{what}: permission denied on {path!r}: the user running aiflow may not write to or read it; "
            f"check the owner and mode of {os.path.dirname(path) or path!r}, or configure a blob root "
            "this user can write to"
        )
    if kind == "credentials":
        return BlobCredentialsError(
            f"{what}: permission denied; the store refused the configured credentials "
            f"or none were found ({detail})"
        )
    if kind == "transient":
        return BlobConnectionError(f"{what}: the store could not be reached ({detail})")
    return BlobError(f"{what} failed ({detail})")


def call(
    op: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy,
    secrets: Iterable[str] = (),
) -> T:
    """Run ``op``, retrying transient failures under ``policy``; translate errors.

    ``what`` describes the operation for messages (for example
    ``"download of 's3://bucket/key'"``); it must not hold secrets.
    """
    attempt = 1
    while True:
        try:
            return op()
        except AIFlowError:
            raise
        except Exception as exc:
            kind = classify(exc)
            if kind != "transient" or attempt >= policy.attempts:
                raise _translate(exc, kind, what, secrets) from None
            pause = policy.delay(attempt)
            log.warning(
                "%s: transient failure (%s), retry %d of %d in %.2fs",
                what,
                type(exc).__name__,
                attempt,
                policy.attempts - 1,
                pause,
            )
            time.sleep(pause)
            attempt += 1
