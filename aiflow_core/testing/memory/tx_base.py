"""What every part of a memory transaction shares: the tables and the undo log.

The tables are plain dictionaries (some holding dictionaries: indexes by
parent). Every write goes through :meth:`TxBase._put` or :meth:`TxBase._pop`,
which record the value they replace; rolling back replays that record
backwards, so a failed transaction leaves nothing behind without copying
any table. Stored rows are immutable (frozen metas, bytes, JSON text), so a
row handed to a caller cannot change the store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Hashable
from typing import Any

import attrs

from aiflow_core.errors import StoreConflictError
from aiflow_core.model.clock import Clock, ensure_utc
from aiflow_core.model.event import Event
from aiflow_core.model.explanation import ExplanationRecord
from aiflow_core.model.meta import (
    TaskExecutionMeta,
    WorkflowExecutionMeta,
    WorkflowMeta,
    WorkflowScheduleMeta,
    WorkflowTriggerMeta,
)
from aiflow_core.ports import Timer
from aiflow_core.storable import check_json

#: The counter holding the last offset of the event log.
EVENT_COUNTER = "event_offset"
#: The counter that changes whenever a trigger is added, paused, resumed or deleted.
TRIGGER_COUNTER = "triggers"

#: The key of :attr:`Tables.floors` below every event's create time.
EVENT_TIME_FLOOR = "event_time"
#: The key of :attr:`Tables.floors` below every finished execution's end date.
EXECUTION_END_FLOOR = "execution_end"

_MISSING = object()


@attrs.define(kw_only=True)
class Snapshot:
    """A stored snapshot row: its meta fields and the pickled workflow."""

    id: int
    workflow_id: int
    uri: str
    signature: str
    create_time: dt.datetime
    workflow_object: bytes


@attrs.define(kw_only=True)
class Tables:
    """Everything a memory store holds; one instance per store."""

    #: Namespace name -> its properties as JSON text.
    namespaces: dict[str, str] = attrs.field(factory=dict)
    workflows: dict[int, WorkflowMeta] = attrs.field(factory=dict)
    #: (namespace, name) -> workflow id.
    workflow_names: dict[tuple[str, str], int] = attrs.field(factory=dict)
    snapshots: dict[int, Snapshot] = attrs.field(factory=dict)
    executions: dict[int, WorkflowExecutionMeta] = attrs.field(factory=dict)
    task_executions: dict[int, TaskExecutionMeta] = attrs.field(factory=dict)
    #: Workflow execution id -> {task execution id: None}, in insertion (id) order.
    tasks_of: dict[int, dict[int, None]] = attrs.field(factory=dict)
    #: State scope -> {name: value}.
    states: dict[str, dict[str, bytes]] = attrs.field(factory=dict)
    #: Offset -> (event without context, its context as JSON text).
    events: dict[int, tuple[Event, str | None]] = attrs.field(factory=dict)
    #: Idempotency key -> offset.
    event_keys: dict[str, int] = attrs.field(factory=dict)
    counters: dict[str, int] = attrs.field(factory=dict)
    #: Lease name -> (owner, expiry, epoch).
    leases: dict[str, tuple[str, dt.datetime, int]] = attrs.field(factory=dict)
    #: Task execution id -> its attempt's last heartbeat.
    heartbeats: dict[int, dt.datetime] = attrs.field(factory=dict)
    #: Timer id -> (timer without payload, its payload as JSON text).
    timers: dict[int, tuple[Timer, str]] = attrs.field(factory=dict)
    #: Dedup key -> timer id.
    timer_keys: dict[str, int] = attrs.field(factory=dict)
    schedules: dict[int, WorkflowScheduleMeta] = attrs.field(factory=dict)
    triggers: dict[int, WorkflowTriggerMeta] = attrs.field(factory=dict)
    #: Explanation id -> (row without payload, its payload as JSON text).
    explanations: dict[int, tuple[ExplanationRecord, str]] = attrs.field(factory=dict)
    #: Table name -> last id given out.
    ids: dict[str, int] = attrs.field(factory=dict)
    #: Lower bounds that spare the retention scans a pass over every row when nothing is old enough:
    #: :data:`EVENT_TIME_FLOOR` is at most every event's create time, :data:`EXECUTION_END_FLOOR` at most every
    #: finished execution's end date. Absent: no such row was ever written. Not rows: a downgrade ignores them.
    floors: dict[str, dt.datetime] = attrs.field(factory=dict)


def to_json(value: Any, what: str) -> str:
    """``value`` as JSON text, as a SQL store's JSON column keeps it; refuses what JSON cannot hold."""
    return check_json(value, what)


def missing_reference(kind: str, key: object) -> StoreConflictError:
    """The error of a write that refers to a row that does not exist (a SQL store's foreign key)."""
    return StoreConflictError(f"memory store refused a write: it refers to {kind} {key!r}, which does not exist")


def from_json(text: str | None) -> Any:
    """The value of JSON text (None stays None)."""
    return None if text is None else json.loads(text)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` as aware UTC, as a SQL store returns it (naive values are taken as UTC)."""
    return None if value is None else ensure_utc(value)


def page(rows: list[Any], limit: int | None, offset: int | None) -> list[Any]:
    """Apply ``limit`` and ``offset`` (None or 0: not applied) to ``rows``."""
    start = offset or 0
    return rows[start:] if limit is None else rows[start : start + limit]


class TxBase:
    """The tables of one transaction and the undo log of its writes."""

    def __init__(self, tables: Tables, clock: Clock) -> None:
        self.t = tables
        #: The store's clock: leases and heartbeats are judged by it.
        self.clock = clock
        self._undo: list[tuple[dict[Any, Any], Hashable, object]] = []
        #: Set when the transaction appended events (the store then tells its subscribers).
        self.appended = False
        #: The events this transaction appended, by offset, as they were returned (not decoded again).
        self._new_events: dict[int, Any] = {}

    def _put(self, table: dict[Any, Any], key: Hashable, value: object) -> None:
        """``table[key] = value``, undoable."""
        self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def _pop(self, table: dict[Any, Any], key: Hashable) -> Any:
        """Remove ``key`` from ``table`` (if there) and return its value, undoable."""
        old = table.get(key, _MISSING)
        if old is _MISSING:
            return None
        self._undo.append((table, key, old))
        del table[key]
        return old

    def _put_in(self, table: dict[Any, dict[Any, Any]], key: Hashable, inner_key: Hashable, value: object) -> None:
        """``table[key][inner_key] = value``, creating the inner dictionary if needed, undoable."""
        inner = table.get(key)
        if inner is None:
            inner = {}
            self._put(table, key, inner)
        self._put(inner, inner_key, value)

    def _pop_in(self, table: dict[Any, dict[Any, Any]], key: Hashable, inner_key: Hashable) -> None:
        """Remove ``table[key][inner_key]``, and the inner dictionary once empty, undoable."""
        inner = table.get(key)
        if inner is None:
            return
        self._pop(inner, inner_key)
        if not inner:
            self._pop(table, key)

    def _delete_where(self, table: dict[Any, Any], keep: Callable[[Any, Any], bool]) -> int:
        """Remove the rows of ``table`` for which ``keep(key, row)`` is false; returns how many."""
        doomed = [key for key, row in table.items() if not keep(key, row)]
        for key in doomed:
            self._pop(table, key)
        return len(doomed)

    def _delete_scopes(self, scope_prefix: str) -> None:
        """Delete the state of every scope that starts with ``scope_prefix``."""
        self._delete_where(self.t.states, lambda scope, _: not scope.startswith(scope_prefix))

    def _drop_event(self, offset: int) -> None:
        """Delete the event at ``offset`` and its idempotency key."""
        event, _ = self._pop(self.t.events, offset)
        self._new_events.pop(offset, None)
        if event.idempotency_key is not None:
            self._pop(self.t.event_keys, event.idempotency_key)

    def _lower_floor(self, name: str, value: dt.datetime) -> None:
        """Keep the floor ``name`` at most ``value`` (a row with that time was written), undoably."""
        floor = self.t.floors.get(name)
        if floor is None or value < floor:
            self._put(self.t.floors, name, value)

    def _nothing_before(self, name: str, before: dt.datetime) -> bool:
        """True when no row of the floor ``name`` can have a time before ``before``."""
        floor = self.t.floors.get(name)
        return floor is None or floor >= before

    def _reset_floor(self, name: str, times: list[dt.datetime], before: dt.datetime) -> None:
        """Raise the floor ``name`` to the earliest of ``times`` (every row's), or ``before`` if there are none."""
        self._put(self.t.floors, name, min(times, default=before))

    def _next_id(self, table: str) -> int:
        """A new id for a row of ``table``."""
        new = self.t.ids.get(table, 0) + 1
        self._put(self.t.ids, table, new)
        return new

    def _counter(self, name: str) -> int:
        return self.t.counters.get(name, 0)

    def _set_counter(self, name: str, value: int) -> None:
        self._put(self.t.counters, name, value)

    def _bump_counter(self, name: str) -> None:
        self._set_counter(name, self._counter(name) + 1)

    def _workflow_row(self, workflow_id: int) -> WorkflowMeta:
        """The workflow ``workflow_id``; StoreConflictError where a SQL store's foreign key would refuse the write."""
        workflow = self.t.workflows.get(workflow_id)
        if workflow is None:
            raise missing_reference("workflow", workflow_id)
        return workflow

    def rollback(self) -> None:
        """Undo every write of this transaction, newest first."""
        for table, key, old in reversed(self._undo):
            if old is _MISSING:
                table.pop(key, None)
            else:
                table[key] = old
        self._undo.clear()
