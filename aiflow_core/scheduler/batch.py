"""What one scheduler transaction works on: the transaction, caches and outputs."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any

from aiflow_core import serialization
from aiflow_core.errors import IntegrityError, StoreError, UnreadableRowError
from aiflow_core.model.context import RuleContext
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.internal.events import SNAPSHOT_TABLE, STATE_TABLE, QuarantineNotice, timer_payload
from aiflow_core.model.meta import TaskExecutionMeta, WorkflowExecutionMeta, WorkflowMeta
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.ports import Command, StoreTx
from aiflow_core.scheduler.rules import RuleIndex
from aiflow_core.storable import ERROR_LIMIT, storable_text

log = logging.getLogger("aiflow.scheduler")


class WorkflowCache:
    """Workflows unpickled from snapshots, kept per snapshot id (snapshots never change)."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[Workflow, RuleIndex]] = {}

    def get(self, tx: StoreTx, snapshot_id: int) -> tuple[Workflow, RuleIndex]:
        """Return the workflow and its rule index of a snapshot."""
        item = self._items.get(snapshot_id)
        if item is None:
            frame = tx.get_snapshot_object(snapshot_id)
            if frame is None:
                raise IntegrityError(f"workflow snapshot {snapshot_id} is missing from the store")
            workflow = serialization.loads(frame)
            item = (workflow, RuleIndex(workflow))
            self._items[snapshot_id] = item
        return item

    def frame(self, tx: StoreTx, snapshot_id: int) -> bytes:
        """Return the stored pickle of a snapshot, verified (for executors in other processes)."""
        frame = tx.get_snapshot_object(snapshot_id)
        if frame is None:
            raise IntegrityError(f"workflow snapshot {snapshot_id} is missing from the store")
        serialization.verify(frame)
        return frame


class ExecutionView:
    """One workflow execution as the scheduler sees it during a batch."""

    def __init__(
        self, meta: WorkflowExecutionMeta, workflow: Workflow, index: RuleIndex,
        latest: Iterable[TaskExecutionMeta] = (),
    ) -> None:
        self.meta = meta
        self.workflow = workflow
        self.index = index
        self.status = meta.status
        self.has_periodic_tasks = any(task.config.periodic_expression for task in workflow.tasks.values())
        self._latest: dict[str, TaskExecutionMeta] = {}
        self._task_of_run: dict[int, str] = {}
        self._alive = 0
        for te in latest:
            self.record(te)

    @property
    def id(self) -> int:
        """The execution id."""
        return self.meta.id

    @property
    def running(self) -> bool:
        """True while rules of the execution are evaluated."""
        return self.status is WorkflowStatus.RUNNING

    def task_status(self, task_name: str) -> TaskStatus | None:
        """Latest status of a task, or None if it never ran."""
        te = self._latest.get(task_name)
        return None if te is None else te.status

    def latest(self, task_name: str) -> TaskExecutionMeta | None:
        """The latest execution of a task, or None if it never ran."""
        return self._latest.get(task_name)

    def latest_runs(self) -> list[TaskExecutionMeta]:
        """The latest execution of every task that ran."""
        return list(self._latest.values())

    def find_latest(self, task_execution_id: object) -> TaskExecutionMeta | None:
        """The task execution with this id if it is the latest of its task."""
        task_name = self._task_of_run.get(task_execution_id) if isinstance(task_execution_id, int) else None
        return None if task_name is None else self._latest[task_name]

    def record(self, te: TaskExecutionMeta) -> None:
        """Note the newest execution of a task (it becomes the task's latest)."""
        current = self._latest.get(te.task_name)
        if current is not None:
            del self._task_of_run[current.id]
            self._alive -= not current.status.is_final
        self._latest[te.task_name] = te
        self._task_of_run[te.id] = te.task_name
        self._alive += not te.status.is_final

    def update(self, te: TaskExecutionMeta) -> None:
        """Note a changed task execution; only the latest of its task is kept."""
        if te.id in self._task_of_run:
            self.record(te)

    @property
    def all_final(self) -> bool:
        """True if the latest execution of every task that ran has a final status."""
        return self._alive == 0


class _LazyCell(MutableMapping[str, Any]):
    """A state cell loaded from the store only when a condition touches its state."""

    def __init__(self, cells: StateCells, scope: str) -> None:
        self._cells = cells
        self._scope = scope

    def _cell(self) -> dict[str, Any]:
        return self._cells.cell(self._scope)

    def __getitem__(self, key: str) -> Any:
        return self._cell()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._cell()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._cell()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._cell()))

    def __len__(self) -> int:
        return len(self._cell())


class StateCells:
    """Condition state loaded lazily per scope and written back at the end of the batch."""

    def __init__(self) -> None:
        self._tx: StoreTx | None = None
        self._on_unreadable: Callable[[str, str, BaseException], None] | None = None
        self._cells: dict[str, dict[str, Any]] = {}
        self._original: dict[str, dict[str, bytes]] = {}

    def bind(self, tx: StoreTx, on_unreadable: Callable[[str, str, BaseException], None]) -> StateCells:
        """Read and write through ``tx`` from now on; ``on_unreadable(scope, name, error)`` hears of bad values."""
        self._tx = tx
        self._on_unreadable = on_unreadable
        return self

    def cell(self, scope: str) -> dict[str, Any]:
        """The mutable state values of ``scope``.

        A stored value that cannot be unpickled is left out (the condition
        sees no value) and reported to ``on_unreadable``; its row stays as it
        is until the condition stores a new value under its name.
        """
        cell = self._cells.get(scope)
        if cell is None:
            assert self._tx is not None and self._on_unreadable is not None
            raw = self._tx.load_state(scope)
            cell = {}
            for name, value in list(raw.items()):
                try:
                    cell[name] = serialization.loads(value)
                except Exception as exc:
                    del raw[name]
                    self._on_unreadable(scope, name, exc)
            self._original[scope] = raw
            self._cells[scope] = cell
        return cell

    def flush(self) -> None:
        """Write changed values back to the store."""
        for scope, cell in self._cells.items():
            original = self._original[scope]
            changes: dict[str, bytes | None] = {}
            for name, value in cell.items():
                frame = serialization.dumps(value)
                if original.get(name) != frame:
                    changes[name] = frame
            for name in original:
                if name not in cell:
                    changes[name] = None
            if changes:
                assert self._tx is not None
                self._tx.save_state(scope, changes)
                self._original[scope] = {n: serialization.dumps(v) for n, v in cell.items()}


class SchedulerMemory:
    """What the scheduler keeps between transactions while it holds the lease.

    The scheduler is the only writer of task executions and of the statuses of
    running workflow executions, so views of running executions and condition
    state stay true between its transactions. The loop forgets everything
    after a failed transaction and when it (re)takes the lease.
    """

    MAX_VIEWS = 10_000

    def __init__(self) -> None:
        self.views: dict[int, ExecutionView] = {}
        self.state = StateCells()
        #: Ids of the RUNNING executions of each namespace looked up so far.
        self.running: dict[str, set[int]] = {}

    def forget_finished(self) -> list[int]:
        """Drop views of executions that ended (nothing more happens in them); return their ids."""
        ended = [i for i, v in self.views.items() if v.status.is_final]
        if len(self.views) > self.MAX_VIEWS:
            self.views.clear()
            self.running.clear()
            return ended
        for execution_id in ended:
            self.not_running(self.views.pop(execution_id).meta)
        return ended

    def not_running(self, meta: WorkflowExecutionMeta) -> None:
        """Note that an execution is no longer RUNNING."""
        self.running.get(meta.namespace, set()).discard(meta.id)

    def clear(self) -> None:
        """Forget everything."""
        self.views.clear()
        self.running.clear()
        self.state = StateCells()


class Batch:
    """One scheduler transaction: the events it emits, the state it touches, the views it built."""

    def __init__(
        self, tx: StoreTx, now: dt.datetime, workflows: WorkflowCache,
        on_rule_error: Callable[[str, BaseException], None], events: Sequence[Event] = (),
        memory: SchedulerMemory | None = None, limit: int | None = None,
    ) -> None:
        self.tx = tx
        self.now = now
        self.workflows = workflows
        self.on_rule_error = on_rule_error
        self.memory = memory if memory is not None else SchedulerMemory()
        self.state = self.memory.state.bind(tx, self._unreadable_state)
        self.emitted: list[Event] = []
        self.commands: list[Command] = []
        self.timers_added = False
        self._views: dict[int, ExecutionView | None] = {}
        self.cache: dict[str, Any] = {}
        self._status_emitted: set[int] = set()
        self._last_status_read: dict[int, int] = {}
        self.read_to_end = False
        self.next_round(events, limit)

    def workflow_meta(self, workflow_id: int) -> WorkflowMeta | None:
        """A workflow by id, read once per batch."""
        key = f"workflow:{workflow_id}"
        if key not in self.cache:
            self.cache[key] = self.tx.get_workflow_by_id(workflow_id)
        meta: WorkflowMeta | None = self.cache[key]
        return meta

    def new_view(self, meta: WorkflowExecutionMeta) -> ExecutionView | None:
        """The view of an execution this batch just created (it has no task executions yet)."""
        return self._build_view(meta, new=True)

    def view(self, execution_id: int) -> ExecutionView | None:
        """The view of an execution (kept in memory between batches); None if it does not exist.

        An execution whose row cannot be read is quarantined: marked FAILED
        (it cannot be scheduled) with a NOTICE naming the row, and None.
        """
        known = self.memory.views.get(execution_id)
        if known is not None:
            return known
        if execution_id not in self._views:
            try:
                meta = self.tx.get_workflow_execution(execution_id)
            except UnreadableRowError as exc:
                self.quarantine(exc.table, exc.row, exc, consequence=f"workflow execution {execution_id} failed")
                self.tx.update_workflow_execution(execution_id, WorkflowStatus.FAILED, self.now)
                for ids in self.memory.running.values():
                    ids.discard(execution_id)
                meta = None
            self._views[execution_id] = None if meta is None else self._build_view(meta, new=False)
        return self._views[execution_id]

    def _build_view(self, meta: WorkflowExecutionMeta, new: bool) -> ExecutionView | None:
        """The view of an execution; None, and the execution FAILED, if its workflow or tasks cannot be read."""
        consequence = "" if meta.status.is_final else f"workflow execution {meta.id} failed"
        try:
            workflow, index = self.workflows.get(self.tx, meta.snapshot_id)
        except StoreError:
            raise  # the database failed: that says nothing about the snapshot
        except Exception as exc:
            self.on_rule_error(f"cannot load the workflow of execution {meta.id}", exc)
            self.quarantine(SNAPSHOT_TABLE, meta.snapshot_id, exc, meta.namespace, consequence)
            self.fail_execution(meta, f"snapshot could not be loaded: {exc}")
            return None
        try:
            latest = () if new else self.tx.latest_task_executions(meta.id)
        except UnreadableRowError as exc:
            self.quarantine(exc.table, exc.row, exc, meta.namespace, consequence)
            self.fail_execution(meta, str(exc))
            return None
        view = ExecutionView(meta, workflow, index, latest)
        self.memory.views[meta.id] = view
        return view

    def fail_execution(self, meta: WorkflowExecutionMeta, reason: str) -> None:
        """Mark an execution FAILED because it cannot be scheduled (one that ended already keeps its status)."""
        if meta.status.is_final:
            return
        log.error("workflow execution %s failed: %s", meta.id, reason)
        self.tx.update_workflow_execution(meta.id, WorkflowStatus.FAILED, self.now)
        self.memory.not_running(meta)

    def quarantine(
        self, table: str, row: object, error: BaseException, namespace: str = "default", consequence: str = "",
    ) -> None:
        """Set aside a stored row that cannot be read: log it and leave a NOTICE naming it, the error and
        what it led to (``consequence``)."""
        reason = f"row {row} of table {table} quarantined: {type(error).__name__}: {error}"
        if consequence:
            reason += f"; {consequence}"
        reason = storable_text(reason, ERROR_LIMIT)
        log.error("%s", reason)
        self.emit(QuarantineNotice(namespace=namespace, table=table, row=str(row), reason=reason).to_event())

    def _unreadable_state(self, scope: str, name: str, error: BaseException) -> None:
        self.quarantine(STATE_TABLE, f"{scope}/{name}", error, consequence="the condition sees no value for it")

    def running_in(self, namespace: str) -> list[int]:
        """Ids of the RUNNING executions of a namespace, in order (looked up once, then kept in memory).

        Only the scheduler sets executions RUNNING (:meth:`mark_running`) and
        ends them (:meth:`SchedulerMemory.forget_finished`), so the set stays
        true between its transactions.
        """
        ids = self.memory.running.get(namespace)
        if ids is None:
            executions = self.tx.list_workflow_executions(
                None, statuses=[WorkflowStatus.RUNNING], namespace=namespace
            )
            ids = {e.id for e in executions}
            self.memory.running[namespace] = ids
        return sorted(ids)

    def mark_running(self, view: ExecutionView) -> None:
        """Record that an execution started running."""
        ids = self.memory.running.get(view.meta.namespace)
        if ids is not None:
            ids.add(view.id)

    def rule_context(self, view: ExecutionView, task_name: str, rule_index: int) -> RuleContext:
        """The context of one task rule of one execution."""
        cell = _LazyCell(self.state, f"wfe:{view.id}:{task_name}:{rule_index}")
        return RuleContext(cell, view.task_status, view.id, view.workflow)

    def add_timer(self, fire_time: dt.datetime, event: Event) -> None:
        """Store a timer appending ``event`` at ``fire_time``, keyed by the event's idempotency key.

        See ``StoreTx.add_timer``; notes that the next due time may have moved.
        """
        assert event.idempotency_key is not None
        self.tx.add_timer(fire_time, event.kind, event.idempotency_key, timer_payload(event))
        self.timers_added = True

    def emit(self, event: Event) -> None:
        """Append ``event`` to the log at the end of the batch."""
        self.emitted.append(event)
        if event.kind is EventKind.TASK_STATUS and event.workflow_execution_id is not None:
            self._status_emitted.add(event.workflow_execution_id)

    def next_round(self, events: Sequence[Event], limit: int | None = None) -> None:
        """Start applying ``events``, read with ``limit`` (the emitted events of the last round are in the log now).

        Fewer events than ``limit`` means the read reached the end of the log.
        """
        self.read_to_end = limit is not None and len(events) < limit
        self.emitted = []
        self._status_emitted.clear()
        self._last_status_read.clear()
        for event in events:
            if event.kind is EventKind.TASK_STATUS and event.workflow_execution_id is not None:
                self._last_status_read[event.workflow_execution_id] = event.offset or 0

    def status_event_follows(self, execution_id: int, after_offset: int | None) -> bool:
        """True if a status event of the execution is emitted by this batch or read in it after ``after_offset``.

        An in-memory check. Only the scheduler appends status events, so when
        the batch read to the end of the log this is the whole answer; status
        events beyond a read cut short by its limit are only found in the store.
        """
        if execution_id in self._status_emitted:
            return True
        last = self._last_status_read.get(execution_id)
        return after_offset is not None and last is not None and last > after_offset
