"""Making what the engine writes on behalf of user code storable on every database.

Task error messages and the events a task sends may hold anything: NUL
characters (PostgreSQL text cannot hold them), lone surrogates (no database
encodes them) or megabytes of text. The engine passes them through
:func:`storable_text` (or :func:`storable_event`) before it writes them, so
one task can never make every write fail. Callers of the API who send such
values are refused instead, by :func:`check_storable`.
"""

from __future__ import annotations

import json

import attrs

from aiflow_core.errors import StoreDataError
from aiflow_core.model.event import MAX_EVENT_VALUE_LENGTH, Event

#: The longest error text the engine stores for a task execution; longer errors are cut (see :func:`storable_text`).
ERROR_LIMIT = 65_536


def storable_text(text: str, limit: int | None = None) -> str:
    """``text`` made storable on every database, for what the engine writes on behalf of user code.

    NUL characters (PostgreSQL text cannot hold them) and lone surrogates (no
    database encodes them) become U+FFFD; text longer than ``limit``
    characters is cut to ``limit``, ending in a marker that gives the full
    length. Text that is storable already is returned as it is.
    """
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if limit is not None and len(text) > limit:
        marker = f"... [cut: {len(text)} characters in all]"
        keep = max(limit - len(marker), 0)
        text = text[:keep] + marker[: limit - keep]
    return text


def storable_event(event: Event) -> Event:
    """``event`` with its key, value and sender made storable (:func:`storable_text`).

    For events the engine sends on behalf of a task; events a caller sends
    through the API are refused by :func:`check_storable` instead.
    """
    return attrs.evolve(
        event,
        key=storable_text(event.key, EVENT_FIELD_LIMITS["key"]),
        value=None if event.value is None else storable_text(event.value, MAX_EVENT_VALUE_LENGTH),
        sender=None if event.sender is None else storable_text(event.sender, EVENT_FIELD_LIMITS["sender"]),
    )


#: The longest string each text field of an event may hold (the columns of the SQL schema).
EVENT_FIELD_LIMITS = {"key": 1024, "namespace": 255, "sender": 255, "idempotency_key": 255}


def check_storable(event: Event) -> str | None:
    """Raise StoreDataError unless every store keeps ``event`` as it is; return its context as JSON text.

    Text fields fit their column (:data:`EVENT_FIELD_LIMITS`) and hold no NUL
    character (PostgreSQL text cannot), and the context is JSON without NaN
    or infinities. Stores call it on every event they append, so the same
    misuse is refused the same way on every backend, before the database
    sees it.
    """
    for name in ("key", "value", "namespace", "sender", "idempotency_key"):
        text = getattr(event, name)
        if text is None:
            continue
        limit = EVENT_FIELD_LIMITS.get(name)
        if limit is not None and len(text) > limit:
            raise StoreDataError(
                f"event {name} {text[:40]!r}... is {len(text)} characters long; the limit is {limit}"
            )
        if "\x00" in text:
            raise StoreDataError(f"event {name} {text[:40]!r} holds a NUL character, which no store keeps")
    if event.context is None:
        return None
    return check_json(event.context, f"context of event {event.key!r}")


def check_json(value: object, what: str) -> str:
    """``value`` as JSON text; StoreDataError naming ``what`` if it is not JSON (NaN and infinities are not)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreDataError(f"{what} must hold only JSON values, got {value!r:.200}: {exc}") from None
