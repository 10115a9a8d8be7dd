"""Events: the one kind of input the scheduler reacts to.

User events, operations (start/stop), timer fires and task status changes are
all events in one log, ordered by ``offset``.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import attrs

#: Largest accepted event value, in characters.
MAX_EVENT_VALUE_LENGTH = 1_048_576
#: Largest accepted event key, in characters.
MAX_EVENT_KEY_LENGTH = 1024


class EventKind(str, Enum):
    """What an event in the log stands for.

    USER events and TASK_STATUS changes are seen by conditions; the other kinds
    are operations, timer fires and executor reports (TASK_REPORT: what an
    executor observed, turned into a TASK_STATUS event when it changes the
    task's status) that the scheduler executes. NOTICE events record what the
    scheduler decided not to do and why (a start skipped for a disabled
    workflow, say).
    """

    USER = "USER"
    TASK_STATUS = "TASK_STATUS"
    TASK_REPORT = "TASK_REPORT"
    START_WORKFLOW = "START_WORKFLOW"
    STOP_WORKFLOW = "STOP_WORKFLOW"
    START_TASK = "START_TASK"
    STOP_TASK = "STOP_TASK"
    PERIODIC_TASK = "PERIODIC_TASK"
    SCHEDULE_FIRE = "SCHEDULE_FIRE"
    HEARTBEAT_TIMEOUT = "HEARTBEAT_TIMEOUT"
    RETRY_TASK = "RETRY_TASK"
    NOTICE = "NOTICE"


@attrs.define(eq=True)
class Event:
    """An event: a ``key`` and an optional string ``value``, plus where it comes from.

    ``key`` and ``value`` may be given positionally, as in the original
    notification service. ``workflow_execution_id`` is set on events sent from
    inside a task: such events only drive that execution's task rules.
    ``offset`` and ``create_time`` are assigned by the event log.
    """

    key: str
    value: str | None = None
    namespace: str = attrs.field(default="default", kw_only=True)
    sender: str | None = attrs.field(default=None, kw_only=True)
    context: dict[str, Any] | None = attrs.field(default=None, kw_only=True)
    kind: EventKind = attrs.field(default=EventKind.USER, kw_only=True, converter=EventKind)
    workflow_execution_id: int | None = attrs.field(default=None, kw_only=True)
    offset: int | None = attrs.field(default=None, kw_only=True)
    create_time: dt.datetime | None = attrs.field(default=None, kw_only=True)
    idempotency_key: str | None = attrs.field(default=None, kw_only=True)


def validate_event(key: object, value: object, namespace: object) -> None:
    """Raise a typed error if ``key``, ``value`` or ``namespace`` cannot be sent.

    Keys are non-empty strings of at most :data:`MAX_EVENT_KEY_LENGTH`
    characters; values are ``None`` or strings of at most
    :data:`MAX_EVENT_VALUE_LENGTH` characters.
    """
    from aiflow_core.errors import InvalidArgumentError

    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"event key must be a non-empty string, got {key!r}")
    if len(key) > MAX_EVENT_KEY_LENGTH:
        raise InvalidArgumentError(
            f"event key {key[:40]!r}... is {len(key)} characters long; "
            f"the limit is {MAX_EVENT_KEY_LENGTH}"
        )
    if value is not None and not isinstance(value, str):
        raise InvalidArgumentError(
            f"event value must be a string or None, got {type(value).__name__} {value!r:.60}"
        )
    if value is not None and len(value) > MAX_EVENT_VALUE_LENGTH:
        raise InvalidArgumentError(
            f"event value for key {key!r} is {len(value)} characters long; "
            f"the limit is {MAX_EVENT_VALUE_LENGTH}"
        )
    if not isinstance(namespace, str) or not namespace:
        raise InvalidArgumentError(f"namespace must be a non-empty string, got {namespace!r}")
