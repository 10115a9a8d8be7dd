"""The events the engine emits itself: their keys, their sender and their contexts.

Each kind whose context the engine reads has one record here with one
constructor, :meth:`to_event`, and one reader, ``from_event``, which checks the
stored context and raises :class:`~aiflow_core.errors.MalformedEventError`
when a field is missing or of the wrong type (the scheduler then quarantines
the event like any other it cannot apply). The stored shape of each context is
a plain JSON object and does not change with these records.

Timers store the event they will append: :func:`timer_payload` turns an event
into a timer's payload and :func:`timer_event` turns the payload back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import attrs

from aiflow_core.errors import MalformedEventError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.meta import StartCause
from aiflow_core.model.status import TaskStatus

#: Prefix of task status event keys; user keys should not start with it.
TASK_STATUS_KEY_PREFIX = "aiflow.task_status/"
#: Prefix of the keys of NOTICE events recording a start skipped for a disabled workflow.
START_SKIPPED_KEY_PREFIX = "aiflow.start_skipped/"
#: Prefix of the keys of NOTICE events recording an event skipped because it could not be applied.
SKIPPED_EVENT_KEY_PREFIX = "aiflow.skipped_event/"
#: Prefix of the keys of NOTICE events recording a stored row set aside because it could not be read.
QUARANTINE_KEY_PREFIX = "aiflow.quarantined/"
#: Key prefix of the NOTICE events that record a refused report of a stale task attempt.
STALE_ATTEMPT_KEY_PREFIX = "aiflow.stale_attempt/"
#: Tables whose rows the scheduler decodes itself (state values, pickled workflows and trigger rules).
STATE_TABLE = "aiflow_state"
SNAPSHOT_TABLE = "aiflow_workflow_snapshot"
TRIGGER_TABLE = "aiflow_workflow_trigger"
#: Sender of the events the engine emits.
ENGINE_SENDER = "aiflow"


def task_status_event_key(workflow_name: str, task_name: str) -> str:
    """Return the key of the status events of ``task_name`` of ``workflow_name``.

    Status events carry the workflow execution id, so task rules only see the
    status changes of their own execution; workflow triggers see them all.
    """
    return f"{TASK_STATUS_KEY_PREFIX}{workflow_name}/{task_name}"


def parse_task_status_event_key(key: str) -> tuple[str, str] | None:
    """Return (workflow, task) for a status event key, else ``None``."""
    if not key.startswith(TASK_STATUS_KEY_PREFIX):
        return None
    workflow, _, task = key[len(TASK_STATUS_KEY_PREFIX) :].partition("/")
    return (workflow, task) if task else None


# -- reading contexts --
def _where(event: Event) -> str:
    return f"{event.kind.value} event {event.key!r} @ offset {event.offset}"


def _context(event: Event, *kinds: EventKind) -> dict[str, Any]:
    if event.kind not in kinds:
        expected = " or ".join(k.value for k in kinds)
        raise MalformedEventError(f"{_where(event)} is not a {expected} event")
    if not isinstance(event.context, dict):
        raise MalformedEventError(f"{_where(event)} has context {event.context!r}; expected a JSON object")
    return event.context


def _int(event: Event, context: dict[str, Any], name: str) -> int:
    value = context.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEventError(f"{_where(event)}: context field {name!r} is {value!r}; expected an integer")
    return value


def _str(event: Event, context: dict[str, Any], name: str) -> str:
    value = context.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(f"{_where(event)}: context field {name!r} is {value!r}; expected a string")
    return value


def _optional_str(event: Event, context: dict[str, Any], name: str) -> str | None:
    value = context.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedEventError(f"{_where(event)}: context field {name!r} is {value!r}; expected a string")
    return value


def _time(event: Event, context: dict[str, Any], name: str) -> dt.datetime:
    text = _str(event, context, name)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise MalformedEventError(
            f"{_where(event)}: context field {name!r} is {text!r}; expected an ISO time with its offset"
        )
    return value


def _execution_id(event: Event) -> int:
    value = event.workflow_execution_id
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEventError(f"{_where(event)} has workflow execution id {value!r}; expected an integer")
    return value


def _status(event: Event) -> TaskStatus:
    try:
        return TaskStatus(event.value)
    except ValueError:
        raise MalformedEventError(
            f"{_where(event)} has status {event.value!r}; expected one of {[s.value for s in TaskStatus]}"
        ) from None


def _status_key(event: Event) -> tuple[str, str]:
    parsed = parse_task_status_event_key(event.key)
    if parsed is None:
        raise MalformedEventError(f"{_where(event)}: expected a key {TASK_STATUS_KEY_PREFIX}<workflow>/<task>")
    return parsed


# -- task statuses --
@attrs.frozen(kw_only=True)
class TaskReport:
    """TASK_REPORT: the status an executor observed of a task execution.

    Reports are applied when the scheduler reaches them in the log: a report
    that changes the task's status becomes a TASK_STATUS event with the
    resulting status (a failure with retries left becomes RETRYING); a stale
    report (say RUNNING after a stop was decided) changes nothing.
    """

    namespace: str
    workflow_name: str
    workflow_execution_id: int
    task_execution_id: int
    task_name: str
    sequence_number: int
    status: TaskStatus
    error: str | None = None
    #: The lease epoch of the engine that dispatched the attempt (None: an unfenced engine's).
    epoch: int | None = None

    def to_event(self) -> Event:
        """The event to append."""
        extra: dict[str, Any] = {"error": self.error}
        if self.epoch is not None:
            extra["epoch"] = self.epoch
        return _status_event(self, EventKind.TASK_REPORT, **extra)

    @classmethod
    def from_event(cls, event: Event) -> TaskReport:
        """Read a report; raises MalformedEventError if it lacks a field."""
        fields, context = _status_fields(event, EventKind.TASK_REPORT)
        epoch = context.get("epoch")
        if epoch is not None and (not isinstance(epoch, int) or isinstance(epoch, bool)):
            raise MalformedEventError(f"{_where(event)}: context field 'epoch' is {epoch!r}; expected an integer")
        return cls(**fields, error=_optional_str(event, context, "error"), epoch=epoch)


@attrs.frozen(kw_only=True)
class TaskStatusChange:
    """TASK_STATUS: a task execution's status changed; conditions see these events."""

    namespace: str
    workflow_name: str
    workflow_execution_id: int
    task_execution_id: int
    task_name: str
    sequence_number: int
    status: TaskStatus

    def to_event(self) -> Event:
        """The event to append."""
        return _status_event(self, EventKind.TASK_STATUS)

    @classmethod
    def from_event(cls, event: Event) -> TaskStatusChange:
        """Read a status change; raises MalformedEventError if it lacks a field."""
        fields, _ = _status_fields(event, EventKind.TASK_STATUS)
        return cls(**fields)


def _status_event(record: TaskReport | TaskStatusChange, kind: EventKind, **extra: Any) -> Event:
    """The event of a task status report or change (``extra`` adds to its context)."""
    return Event(
        task_status_event_key(record.workflow_name, record.task_name), record.status.value,
        namespace=record.namespace, sender=ENGINE_SENDER, kind=kind,
        workflow_execution_id=record.workflow_execution_id,
        context={"task_execution_id": record.task_execution_id, "task_name": record.task_name,
                 "sequence_number": record.sequence_number, **extra},
    )


def _status_fields(event: Event, kind: EventKind) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields a task status report and change share, read from ``event``, and its context."""
    context = _context(event, kind)
    status = _status(event)
    workflow_name, _ = _status_key(event)
    fields = {
        "namespace": event.namespace, "workflow_name": workflow_name, "workflow_execution_id": _execution_id(event),
        "task_execution_id": _int(event, context, "task_execution_id"), "task_name": _str(event, context, "task_name"),
        "sequence_number": _int(event, context, "sequence_number"), "status": status,
    }
    return fields, context


@attrs.frozen(kw_only=True)
class HeartbeatTimeout:
    """HEARTBEAT_TIMEOUT: a running task execution's worker went silent; it is failed with ``error``."""

    namespace: str
    workflow_execution_id: int
    task_execution_id: int
    task_name: str
    error: str

    def to_event(self) -> Event:
        """The event to append."""
        return Event(
            self.task_name, TaskStatus.FAILED.value, namespace=self.namespace, sender=ENGINE_SENDER,
            kind=EventKind.HEARTBEAT_TIMEOUT, workflow_execution_id=self.workflow_execution_id,
            context={"task_execution_id": self.task_execution_id, "task_name": self.task_name, "error": self.error},
        )

    @classmethod
    def from_event(cls, event: Event) -> HeartbeatTimeout:
        """Read a timeout; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.HEARTBEAT_TIMEOUT)
        return cls(
            namespace=event.namespace, workflow_execution_id=_execution_id(event),
            task_execution_id=_int(event, context, "task_execution_id"), task_name=_str(event, context, "task_name"),
            error=_optional_str(event, context, "error") or "heartbeat timed out",
        )


# -- operations --
@attrs.frozen(kw_only=True)
class TaskOperation:
    """START_TASK / STOP_TASK: a user asked to start or stop a task of a running execution."""

    namespace: str
    workflow_execution_id: int
    task_name: str
    action: TaskAction = attrs.field(validator=attrs.validators.in_((TaskAction.START, TaskAction.STOP)))

    def to_event(self) -> Event:
        """The event to append."""
        kind = EventKind.START_TASK if self.action is TaskAction.START else EventKind.STOP_TASK
        return Event(
            self.task_name, None, namespace=self.namespace, kind=kind,
            workflow_execution_id=self.workflow_execution_id, context={"task_name": self.task_name},
        )

    @classmethod
    def from_event(cls, event: Event) -> TaskOperation:
        """Read an operation; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.START_TASK, EventKind.STOP_TASK)
        return cls(
            namespace=event.namespace, workflow_execution_id=_execution_id(event),
            task_name=_str(event, context, "task_name"),
            action=TaskAction.START if event.kind is EventKind.START_TASK else TaskAction.STOP,
        )


# -- time --
@attrs.frozen(kw_only=True)
class PeriodicFire:
    """PERIODIC_TASK: a periodic task of an execution is due to restart at ``fire_time``."""

    namespace: str
    workflow_execution_id: int
    task_name: str
    fire_time: dt.datetime

    @staticmethod
    def timer_prefix(workflow_execution_id: int) -> str:
        """The start of the dedup keys of every periodic timer of an execution."""
        return f"periodic:{workflow_execution_id}:"

    @property
    def dedup_key(self) -> str:
        """The key of this fire's timer: a fire is stored once."""
        return f"{self.timer_prefix(self.workflow_execution_id)}{self.task_name}:{self.fire_time.isoformat()}"

    def to_event(self) -> Event:
        """The event to append (stored in a timer until due)."""
        return Event(
            self.task_name, None, namespace=self.namespace, sender=ENGINE_SENDER, kind=EventKind.PERIODIC_TASK,
            workflow_execution_id=self.workflow_execution_id,
            context={"workflow_execution_id": self.workflow_execution_id, "task_name": self.task_name,
                     "fire_time": self.fire_time.isoformat()},
            idempotency_key=self.dedup_key,
        )

    @classmethod
    def from_event(cls, event: Event) -> PeriodicFire:
        """Read a fire; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.PERIODIC_TASK)
        return cls(
            namespace=event.namespace, workflow_execution_id=_execution_id(event),
            task_name=_str(event, context, "task_name"), fire_time=_time(event, context, "fire_time"),
        )


@attrs.frozen(kw_only=True)
class RetryFire:
    """RETRY_TASK: a RETRYING task execution is due to be tried again."""

    namespace: str
    workflow_execution_id: int
    task_execution_id: int
    task_name: str

    @staticmethod
    def timer_key(task_execution_id: int) -> str:
        """The dedup key of the retry timer of a task execution."""
        return f"retry:{task_execution_id}"

    def to_event(self) -> Event:
        """The event to append (stored in a timer until due)."""
        return Event(
            self.task_name, None, namespace=self.namespace, sender=ENGINE_SENDER, kind=EventKind.RETRY_TASK,
            workflow_execution_id=self.workflow_execution_id,
            context={"workflow_execution_id": self.workflow_execution_id,
                     "task_execution_id": self.task_execution_id},
            idempotency_key=self.timer_key(self.task_execution_id),
        )

    @classmethod
    def from_event(cls, event: Event) -> RetryFire:
        """Read a retry; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.RETRY_TASK)
        return cls(
            namespace=event.namespace, workflow_execution_id=_execution_id(event),
            task_execution_id=_int(event, context, "task_execution_id"), task_name=event.key,
        )


@attrs.frozen(kw_only=True)
class ScheduleFire:
    """SCHEDULE_FIRE: a workflow schedule (its ``expression`` is the key) was due at ``fire_time``."""

    namespace: str
    schedule_id: int
    workflow_id: int
    expression: str
    fire_time: dt.datetime

    def to_event(self) -> Event:
        """The event to append; keyed by (schedule, fire time), so a fire is appended at most once."""
        return Event(
            self.expression, None, namespace=self.namespace, sender=ENGINE_SENDER, kind=EventKind.SCHEDULE_FIRE,
            context={"schedule_id": self.schedule_id, "workflow_id": self.workflow_id,
                     "fire_time": self.fire_time.isoformat()},
            idempotency_key=f"schedule:{self.schedule_id}:{self.fire_time.isoformat()}",
        )

    @classmethod
    def from_event(cls, event: Event) -> ScheduleFire:
        """Read a fire; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.SCHEDULE_FIRE)
        return cls(
            namespace=event.namespace, schedule_id=_int(event, context, "schedule_id"),
            workflow_id=_int(event, context, "workflow_id"), expression=event.key,
            fire_time=_time(event, context, "fire_time"),
        )


def timer_payload(event: Event) -> dict[str, Any]:
    """The payload of a timer that appends ``event`` when due: its context plus its key and namespace."""
    return {**(event.context or {}), "key": event.key, "namespace": event.namespace}


def timer_event(kind: EventKind, payload: dict[str, Any], dedup_key: str) -> Event:
    """The event a due timer appends (the inverse of :func:`timer_payload`), keyed by the timer."""
    context = dict(payload)
    execution_id = context.get("workflow_execution_id")
    return Event(
        str(context.pop("key", kind.value)), None, namespace=str(context.pop("namespace", "default")),
        sender=ENGINE_SENDER, kind=kind, context=context, idempotency_key=dedup_key,
        workflow_execution_id=execution_id if isinstance(execution_id, int) else None,
    )


# -- rows that cannot be read --
@attrs.define(eq=True)
class UnreadableEvent(Event):
    """An event row the store could not decode (an unknown kind, a context that is not a JSON object).

    Stores return it in the row's place, carrying its ``offset`` and the
    ``error``, so the rows around it are read as usual; the scheduler
    quarantines it like an event it cannot apply. Its ``kind`` is the row's
    when known, else NOTICE, and its ``context`` is None.
    """

    error: str = attrs.field(default="", kw_only=True)

    def malformed(self) -> MalformedEventError:
        """The error to raise where the event would be applied."""
        return MalformedEventError(self.error)


# -- notices --
@attrs.frozen(kw_only=True)
class StartSkippedNotice:
    """NOTICE: a start of a workflow was skipped (the workflow is disabled); ``reason`` says so."""

    namespace: str
    workflow_name: str
    workflow_id: int
    cause: StartCause
    reason: str

    def to_event(self) -> Event:
        """The event to append."""
        return Event(
            f"{START_SKIPPED_KEY_PREFIX}{self.workflow_name}", self.reason, namespace=self.namespace,
            sender=ENGINE_SENDER, kind=EventKind.NOTICE,
            context={"workflow_id": self.workflow_id, "cause": self.cause.as_dict()},
        )

    @classmethod
    def from_event(cls, event: Event) -> StartSkippedNotice:
        """Read the notice; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.NOTICE)
        if not event.key.startswith(START_SKIPPED_KEY_PREFIX):
            raise MalformedEventError(f"{_where(event)}: expected a key {START_SKIPPED_KEY_PREFIX}<workflow>")
        try:
            cause = StartCause.from_dict(context["cause"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEventError(f"{_where(event)}: context field 'cause' is unreadable ({exc})") from None
        return cls(
            namespace=event.namespace, workflow_name=event.key[len(START_SKIPPED_KEY_PREFIX) :],
            workflow_id=_int(event, context, "workflow_id"), cause=cause, reason=event.value or "",
        )


@attrs.frozen(kw_only=True)
class SkippedEventNotice:
    """NOTICE: the event at ``offset`` could not be applied and was stepped over; ``reason`` says why."""

    namespace: str
    offset: int
    kind: EventKind
    reason: str

    def to_event(self) -> Event:
        """The event to append."""
        return Event(
            f"{SKIPPED_EVENT_KEY_PREFIX}{self.offset}", self.reason, namespace=self.namespace,
            sender=ENGINE_SENDER, kind=EventKind.NOTICE, context={"offset": self.offset, "kind": self.kind.value},
        )

    @classmethod
    def from_event(cls, event: Event) -> SkippedEventNotice:
        """Read the notice; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.NOTICE)
        kind = _str(event, context, "kind")
        if kind not in EventKind.__members__:
            raise MalformedEventError(f"{_where(event)}: context field 'kind' is {kind!r}; expected an event kind")
        return cls(
            namespace=event.namespace, offset=_int(event, context, "offset"), kind=EventKind(kind),
            reason=event.value or "",
        )


@attrs.frozen(kw_only=True)
class QuarantineNotice:
    """NOTICE: a stored row the scheduler cannot read was set aside; ``reason`` names it and the error.

    ``row`` identifies the row in ``table`` (its id, or ``scope/name`` of a
    state value). The notice is keyed by the row and the reason, so the same
    bad row read again (after a restart, say) is noted once.
    """

    namespace: str
    table: str
    row: str
    reason: str

    def to_event(self) -> Event:
        """The event to append."""
        digest = hashlib.sha256(f"{self.table}\0{self.row}\0{self.reason}".encode(errors="replace")).hexdigest()
        return Event(
            f"{QUARANTINE_KEY_PREFIX}{self.table}/{self.row}"[:1024], self.reason, namespace=self.namespace,
            sender=ENGINE_SENDER, kind=EventKind.NOTICE, context={"table": self.table, "row": self.row},
            idempotency_key=f"quarantine:{digest}",
        )

    @classmethod
    def from_event(cls, event: Event) -> QuarantineNotice:
        """Read the notice; raises MalformedEventError if it lacks a field."""
        context = _context(event, EventKind.NOTICE)
        return cls(
            namespace=event.namespace, table=_str(event, context, "table"), row=_str(event, context, "row"),
            reason=event.value or "",
        )


@attrs.frozen(kw_only=True)
class StaleAttemptNotice:
    """NOTICE: a report of a task attempt dispatched at a lease epoch the engine no longer holds was refused.

    Such an attempt belongs to an earlier leadership of the engine (it lost
    the lease since); the report changes nothing, and the scheduler counts
    the attempt lost by its own rules instead.
    """

    namespace: str
    task_execution_id: int
    epoch: int
    reason: str

    def to_event(self) -> Event:
        """The event to append (keyed, so the same refused report is noted once)."""
        digest = hashlib.sha256(self.reason.encode(errors="replace")).hexdigest()[:16]
        return Event(
            f"{STALE_ATTEMPT_KEY_PREFIX}{self.task_execution_id}", self.reason, namespace=self.namespace,
            sender=ENGINE_SENDER, kind=EventKind.NOTICE,
            context={"task_execution_id": self.task_execution_id, "epoch": self.epoch},
            idempotency_key=f"stale_attempt:{self.task_execution_id}:{self.epoch}:{digest}",
        )
