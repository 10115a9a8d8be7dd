"""The storage port: the contract between the engine and a metadata store.

``aiflow_storage.sql.SqlStore`` implements it over SQLAlchemy. Everything the
engine stores goes through :meth:`Store.transaction`; one transaction is one
atomic unit, which is what makes the scheduler exactly-once: the decisions for
a batch of events and the checkpoint that marks them done commit together.

The store never reads a clock: callers pass ``now``.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from enum import Enum
from typing import Any, TypeAlias

import attrs

from aiflow_core.leases import Lease
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.explanation import ExplanationRecord
from aiflow_core.model.meta import (
    NamespaceMeta,
    StartCause,
    TaskExecutionMeta,
    WorkflowExecutionMeta,
    WorkflowMeta,
    WorkflowScheduleMeta,
    WorkflowSnapshotMeta,
    WorkflowTriggerMeta,
)
from aiflow_core.model.status import TaskStatus, WorkflowStatus


class Unset(Enum):
    """The type of :data:`UNSET`."""

    UNSET = "UNSET"


#: The default of an update's keyword arguments: the field keeps its value (``None`` is a value).
UNSET = Unset.UNSET


def given(**fields: object) -> dict[str, Any]:
    """The keyword arguments of an update that are not :data:`UNSET`."""
    return {name: value for name, value in fields.items() if value is not UNSET}


@attrs.frozen(kw_only=True)
class StartTask:
    """A command to the executor: run one task execution.

    Its durable record is the QUEUED task execution written in the
    transaction that decided it; the fields are what the hand-over needs to
    build the executor's job without reading the execution back.
    """

    task_execution_id: int
    workflow_execution_id: int
    namespace: str
    workflow_name: str
    task_name: str
    sequence_number: int
    try_number: int
    snapshot_id: int
    log_path: str
    execution_timeout: float | None = None


@attrs.frozen(kw_only=True)
class StopTask:
    """A command to the executor: stop one task execution (its record is the STOPPING status)."""

    task_execution_id: int


#: A command to the executor, carried out after the deciding transaction commits.
Command: TypeAlias = StartTask | StopTask


@attrs.frozen(kw_only=True)
class Timer:
    """A due-time entry: at ``fire_time`` the scheduler appends an event of ``kind``.

    ``dedup_key`` is unique, so a timer (and the fire it stands for) is never
    stored twice.
    """

    id: int
    fire_time: dt.datetime
    kind: EventKind
    dedup_key: str
    payload: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class LogHead:
    """Where the event log ends, and when the next timer and the next unpaused schedule are due."""

    end: int
    next_timer: dt.datetime | None
    next_schedule: dt.datetime | None


@attrs.frozen(kw_only=True)
class EventFilter:
    """Filters of ``list_events``/``count_events`` (``None``: any); offset bounds exclusive, ``begin_time``
    inclusive, ``end_time`` exclusive; ``newest_first`` with ``end_offset`` pages back by keyset."""

    keys: Sequence[str] | None = None
    namespace: str | None = None
    begin_offset: int | None = None
    begin_time: dt.datetime | None = None
    sender: str | None = None
    workflow_execution_id: int | None = None
    kinds: Sequence[EventKind] | None = (EventKind.USER,)
    end_offset: int | None = None
    end_time: dt.datetime | None = None
    newest_first: bool = False


class CatalogTx(abc.ABC):
    """Namespaces, workflows and their snapshots. Lookups return ``None`` when nothing matches."""

    @abc.abstractmethod
    def add_namespace(self, name: str, properties: dict[str, Any]) -> NamespaceMeta:
        """Insert a namespace; raises AlreadyExistsError if it exists."""

    @abc.abstractmethod
    def get_namespace(self, name: str) -> NamespaceMeta | None:
        """Return the namespace called ``name``."""

    @abc.abstractmethod
    def list_namespaces(self, limit: int | None, offset: int | None) -> list[NamespaceMeta]:
        """Return namespaces ordered by name."""

    @abc.abstractmethod
    def update_namespace(self, name: str, properties: dict[str, Any]) -> NamespaceMeta | None:
        """Replace the properties of a namespace."""

    @abc.abstractmethod
    def delete_namespace(self, name: str) -> bool:
        """Delete a namespace and its events; True if it existed.

        Raises InvalidStateError while the namespace still holds workflows.
        """

    # -- workflows and snapshots --

    @abc.abstractmethod
    def put_workflow(self, namespace: str, name: str, content: str, now: dt.datetime) -> WorkflowMeta:
        """Insert the workflow or update its content; returns the stored row.

        Raises NotFoundError if ``namespace`` does not exist.
        """

    @abc.abstractmethod
    def get_workflow(self, namespace: str, name: str) -> WorkflowMeta | None:
        """Return a workflow by namespace and name."""

    @abc.abstractmethod
    def get_workflow_by_id(self, workflow_id: int) -> WorkflowMeta | None:
        """Return a workflow by id."""

    @abc.abstractmethod
    def list_workflows(
        self, namespace: str | None, limit: int | None, offset: int | None
    ) -> list[WorkflowMeta]:
        """Return workflows of a namespace (all when ``None``) ordered by id."""

    @abc.abstractmethod
    def set_workflow_enabled(self, workflow_id: int, enabled: bool, now: dt.datetime) -> None:
        """Enable or disable a workflow."""

    @abc.abstractmethod
    def delete_workflow(self, workflow_id: int) -> None:
        """Delete a workflow with its executions, schedules, triggers, snapshots and state."""

    @abc.abstractmethod
    def add_snapshot(
        self, workflow_id: int, uri: str, signature: str, workflow_object: bytes, now: dt.datetime
    ) -> WorkflowSnapshotMeta:
        """Store a snapshot and make it the workflow's current one."""

    @abc.abstractmethod
    def get_snapshot(self, snapshot_id: int) -> WorkflowSnapshotMeta | None:
        """Return a snapshot's meta."""

    @abc.abstractmethod
    def get_snapshot_object(self, snapshot_id: int) -> bytes | None:
        """Return the pickled workflow object of a snapshot."""

    @abc.abstractmethod
    def list_snapshots(
        self, workflow_id: int, limit: int | None, offset: int | None
    ) -> list[WorkflowSnapshotMeta]:
        """Return the snapshots of a workflow, oldest first."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot_id: int) -> bool:
        """Delete a snapshot that no execution uses; True if deleted."""

    # -- workflow executions --


class ExecutionTx(abc.ABC):
    """Workflow executions and task executions. Lookups return ``None`` when nothing matches."""

    @abc.abstractmethod
    def add_workflow_execution(
        self,
        workflow: WorkflowMeta,
        snapshot_id: int,
        execution_type: ExecutionType,
        status: WorkflowStatus,
        begin_date: dt.datetime,
        cause: StartCause | None,
    ) -> WorkflowExecutionMeta:
        """Insert a workflow execution of ``workflow`` and return it."""

    @abc.abstractmethod
    def get_workflow_execution(self, execution_id: int) -> WorkflowExecutionMeta | None:
        """Return a workflow execution."""

    @abc.abstractmethod
    def list_workflow_executions(
        self,
        workflow_id: int | None,
        limit: int | None = None,
        offset: int | None = None,
        statuses: Sequence[WorkflowStatus] | None = None,
        namespace: str | None = None,
        before_id: int | None = None,
        newest_first: bool = False,
    ) -> list[WorkflowExecutionMeta]:
        """Return executions (of a workflow, or all) by status, ordered by id (descending: ``newest_first``),
        below ``before_id`` (with ``newest_first``: keyset pages)."""

    @abc.abstractmethod
    def list_finished_workflow_executions(self, before: dt.datetime, limit: int) -> list[WorkflowExecutionMeta]:
        """Finished executions (SUCCESS, FAILED, STOPPED) that ended before ``before``, oldest first."""

    @abc.abstractmethod
    def update_workflow_execution(
        self, execution_id: int, status: WorkflowStatus, end_date: dt.datetime | None
    ) -> None:
        """Set the status (and end date) of an execution."""

    @abc.abstractmethod
    def delete_workflow_execution(self, execution_id: int) -> None:
        """Delete an execution with its task executions, state and explanations."""

    # -- task executions --

    @abc.abstractmethod
    def add_task_execution(
        self,
        workflow_execution_id: int,
        task_name: str,
        sequence_number: int,
        try_number: int,
        execution_type: ExecutionType,
        status: TaskStatus,
        cause: StartCause,
        now: dt.datetime,
        log_path: str | None = None,
    ) -> TaskExecutionMeta:
        """Insert a task execution whose ``begin_date`` is ``now``."""

    @abc.abstractmethod
    def get_task_execution(self, task_execution_id: int) -> TaskExecutionMeta | None:
        """Return a task execution."""

    @abc.abstractmethod
    def list_task_executions(
        self,
        workflow_execution_id: int,
        limit: int | None = None,
        offset: int | None = None,
        task_name: str | None = None,
        newest_first: bool = False,
    ) -> list[TaskExecutionMeta]:
        """Return task executions of a workflow execution ordered by id (descending with ``newest_first``)."""

    @abc.abstractmethod
    def list_task_executions_by_status(self, statuses: Sequence[TaskStatus]) -> list[TaskExecutionMeta]:
        """Return every task execution whose status is one of ``statuses``."""

    @abc.abstractmethod
    def count_task_executions_by_status(self) -> dict[TaskStatus, int]:
        """How many task executions have each status (statuses that none has are left out)."""

    @abc.abstractmethod
    def latest_task_executions(self, workflow_execution_id: int) -> list[TaskExecutionMeta]:
        """Return the latest execution (highest id) of each task of a workflow execution."""

    @abc.abstractmethod
    def update_task_execution(
        self,
        task_execution_id: int,
        *,
        status: TaskStatus | Unset = UNSET,
        try_number: int | Unset = UNSET,
        begin_date: dt.datetime | Unset | None = UNSET,
        end_date: dt.datetime | Unset | None = UNSET,
        error: str | Unset | None = UNSET,
        log_path: str | Unset | None = UNSET,
    ) -> None:
        """Update the fields given (those left :data:`UNSET` keep their value)."""

    # -- condition state --


class LogTx(abc.ABC):
    """The event log, the schedulers' checkpoints and the condition state."""

    @abc.abstractmethod
    def load_state(self, scope: str) -> dict[str, bytes]:
        """Return the stored state values of a scope by name."""

    @abc.abstractmethod
    def save_state(self, scope: str, values: dict[str, bytes | None]) -> None:
        """Write state values of a scope; ``None`` deletes a name."""

    # -- event log --

    @abc.abstractmethod
    def append_events(self, events: Sequence[Event], now: dt.datetime) -> list[Event]:
        """Append events, assigning consecutive offsets in commit order.

        An event whose ``idempotency_key`` is already stored is not appended
        again; the stored event is returned in its place.
        """

    @abc.abstractmethod
    def read_events(self, after_offset: int, limit: int) -> list[Event]:
        """Return events with offset > ``after_offset`` in offset order."""

    @abc.abstractmethod
    def list_events(self, flt: EventFilter, limit: int | None = None) -> list[Event]:
        """Return events matching ``flt`` in offset order."""

    @abc.abstractmethod
    def count_events(self, flt: EventFilter) -> int:
        """Count events matching ``flt``."""

    @abc.abstractmethod
    def max_offset(self) -> int:
        """The highest offset in the log (0 when empty)."""

    @abc.abstractmethod
    def delete_events_before(self, offset: int, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` events with offset <= ``offset`` created before ``before``."""

    # -- scheduler checkpoint, lease, timers --

    @abc.abstractmethod
    def get_checkpoint(self, name: str) -> int:
        """The last offset processed by scheduler ``name`` (0 when none).

        Locks the checkpoint and the log's end: until the transaction ends
        nobody else appends events.
        """

    @abc.abstractmethod
    def set_checkpoint(self, name: str, offset: int) -> None:
        """Record that scheduler ``name`` processed every event up to ``offset``."""

    @abc.abstractmethod
    def log_head(self) -> LogHead:
        """The highest offset in the log, the earliest timer and the earliest unpaused schedule fire."""


class PlanTx(abc.ABC):
    """What is due later or held: timers, schedules, triggers and leases."""

    @abc.abstractmethod
    def add_timer(
        self, fire_time: dt.datetime, kind: EventKind, dedup_key: str, payload: dict[str, Any]
    ) -> bool:
        """Store a timer unless one with ``dedup_key`` exists; True if stored."""

    @abc.abstractmethod
    def due_timers(self, now: dt.datetime, limit: int) -> list[Timer]:
        """Timers with ``fire_time <= now``, earliest first."""

    @abc.abstractmethod
    def delete_timers(self, timer_ids: Sequence[int] = (), dedup_prefix: str | None = None) -> None:
        """Delete timers by id, or every timer whose dedup key starts with ``dedup_prefix``."""

    # -- schedules and triggers --

    @abc.abstractmethod
    def add_schedule(
        self,
        workflow_id: int,
        expression: str,
        next_fire_time: dt.datetime | None,
        misfire_policy: str,
        now: dt.datetime,
    ) -> WorkflowScheduleMeta:
        """Insert a schedule."""

    @abc.abstractmethod
    def get_schedule(self, schedule_id: int) -> WorkflowScheduleMeta | None:
        """Return a schedule."""

    @abc.abstractmethod
    def list_schedules(
        self, workflow_id: int, limit: int | None, offset: int | None
    ) -> list[WorkflowScheduleMeta]:
        """Return the schedules of a workflow."""

    @abc.abstractmethod
    def update_schedule(
        self,
        schedule_id: int,
        *,
        is_paused: bool | Unset = UNSET,
        next_fire_time: dt.datetime | Unset | None = UNSET,
        last_fire_time: dt.datetime | Unset | None = UNSET,
    ) -> None:
        """Update the fields given (those left :data:`UNSET` keep their value)."""

    @abc.abstractmethod
    def delete_schedules(self, schedule_ids: Sequence[int] = (), workflow_id: int | None = None) -> int:
        """Delete schedules by id or all of a workflow; returns how many."""

    @abc.abstractmethod
    def due_schedules(self, now: dt.datetime, limit: int) -> list[WorkflowScheduleMeta]:
        """Unpaused schedules with ``next_fire_time <= now`` (an indexed range query)."""

    @abc.abstractmethod
    def triggers_version(self) -> int:
        """A number that changes whenever a trigger is added, paused, resumed or deleted."""

    @abc.abstractmethod
    def add_trigger(self, workflow_id: int, rule: bytes, now: dt.datetime) -> WorkflowTriggerMeta:
        """Insert a trigger whose rule is a pickled WorkflowRule."""

    @abc.abstractmethod
    def get_trigger(self, trigger_id: int) -> WorkflowTriggerMeta | None:
        """Return a trigger (``rule`` holds the pickled bytes)."""

    @abc.abstractmethod
    def list_triggers(
        self, workflow_id: int | None, limit: int | None, offset: int | None, namespace: str | None = None
    ) -> list[WorkflowTriggerMeta]:
        """Return triggers of a workflow, or of a namespace when ``workflow_id`` is None."""

    @abc.abstractmethod
    def update_trigger(self, trigger_id: int, is_paused: bool) -> None:
        """Pause or resume a trigger."""

    @abc.abstractmethod
    def delete_triggers(self, trigger_ids: Sequence[int] = (), workflow_id: int | None = None) -> int:
        """Delete triggers by id or all of a workflow; returns how many."""

    # -- the scheduler lease (fenced leadership) --

    @abc.abstractmethod
    def store_now(self) -> dt.datetime:
        """The current time on the store's own clock (the database server's), aware UTC.

        Leases and attempt heartbeats are judged by this clock only, so an
        engine whose clock runs ahead or behind cannot misjudge them.
        """

    @abc.abstractmethod
    def acquire_lease(self, name: str, owner: str, ttl: float) -> Lease | None:
        """Take or renew lease ``name`` for ``owner`` for ``ttl`` seconds of the store's clock.

        Returns the lease now held, or None while another owner holds it
        unexpired. Renewing an unexpired lease keeps its epoch; every other
        taking (a new holder, or a holder whose lease expired) raises the
        epoch by one. Locks the lease until the transaction ends.
        """

    @abc.abstractmethod
    def check_lease(self, name: str, owner: str, epoch: int) -> None:
        """Prove that ``owner`` holds lease ``name`` at ``epoch``, unexpired on the store's clock.

        Raises :class:`~aiflow_core.errors.LeaseLostError` otherwise (the
        caller's transaction then rolls back). Locks the lease until the
        transaction ends, so nobody takes it before this transaction commits.
        """

    @abc.abstractmethod
    def get_lease(self, name: str) -> Lease | None:
        """Lease ``name`` (expired or not), or None if it was never taken."""

    @abc.abstractmethod
    def release_lease(self, name: str, owner: str) -> None:
        """Give up lease ``name`` if ``owner`` holds it: it expires now and keeps its epoch."""

    @abc.abstractmethod
    def beat_task_executions(self, task_execution_ids: Sequence[int]) -> None:
        """Record, at the store's current time, that the attempts of these task executions are alive."""

    @abc.abstractmethod
    def task_execution_heartbeats(self, task_execution_ids: Sequence[int]) -> dict[int, dt.datetime]:
        """The last recorded heartbeat (store's clock) of each of these task executions that has one."""


class ExplainTx(abc.ABC):
    """Explanations: what the scheduler evaluated for each event (:mod:`aiflow_core.model.explanation`)."""

    @abc.abstractmethod
    def add_explanations(self, records: Sequence[ExplanationRecord]) -> None:
        """Store explanation rows; the store gives each an id (the records' ``id`` is ignored)."""

    @abc.abstractmethod
    def list_explanations(
        self, *, event_offset: int | None = None, workflow_execution_id: int | None = None,
        task_name: str | None = None, before_id: int | None = None, limit: int | None = None,
        newest_first: bool = False,
    ) -> list[ExplanationRecord]:
        """Rows matching every filter given, ordered by id (newest first if asked).

        ``before_id`` keeps the rows whose id is below it (keyset paging).
        """

    @abc.abstractmethod
    def delete_explanations_before(self, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` rows created before ``before``, oldest first; returns how many."""


class StoreTx(CatalogTx, ExecutionTx, LogTx, PlanTx, ExplainTx):
    """Operations inside one transaction: every part of the port together."""


class Store(abc.ABC):
    """A metadata store: a database holding everything durable."""

    url: str
    #: True if other processes reach the same data by opening :attr:`url` (tasks run by the process executor do).
    shared: bool = True

    @abc.abstractmethod
    def transaction(self, readonly: bool = False) -> AbstractContextManager[StoreTx]:
        """Open a transaction; it commits when the block ends and rolls back on error.

        ``readonly`` promises that the transaction only reads, which lets a
        store start it without taking its write lock (SQLite: ``BEGIN
        DEFERRED``); it is a hint, not a guard.
        """

    @abc.abstractmethod
    def upgrade(self) -> int:
        """Create or upgrade the schema to the newest version; returns that version."""

    @abc.abstractmethod
    def downgrade(self, version: int, force: bool = False) -> int:
        """Downgrade the schema to ``version`` (0 drops everything); returns it.

        A downgrade that would delete stored rows raises ``DataLossError``
        (naming what it would delete) and changes nothing, unless ``force``.
        """

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version of the database (0 when it holds no aiflow schema)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def pinned(self) -> AbstractContextManager[None]:
        """Within the block, this thread's transactions share one connection (re-entrant).

        For a thread that runs many short transactions back to back, such as
        the scheduler loop; stores without connections to reuse do nothing.
        """
        return contextlib.nullcontext()

    def name_sessions(self, owner: str) -> None:
        """Name this store's database sessions after lease holder ``owner`` (stores without sessions: no-op)."""
        return None

    def end_sessions(self, owner: str) -> int:
        """Best-effort, end the sessions named after ``owner`` (lease expired: its locks go); returns how many."""
        return 0

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` when another process appends events; returns the unsubscribe function.

        Stores without a notification channel return a no-op: their readers poll.
        """
        return lambda: None

    def events_after(self, offset: int, limit: int) -> Iterator[Event]:
        """Read events after ``offset`` in their own short transaction."""
        with self.transaction() as tx:
            yield from tx.read_events(offset, limit)
