"""Memory store operations on namespaces, workflows, snapshots and executions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from aiflow_core.errors import AlreadyExistsError, InvalidStateError, NotFoundError
from aiflow_core.model.clock import ensure_utc
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.meta import (
    NamespaceMeta,
    StartCause,
    TaskExecutionMeta,
    WorkflowExecutionMeta,
    WorkflowMeta,
    WorkflowSnapshotMeta,
)
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.ports import UNSET, Unset, given
from aiflow_core.testing.memory.tx_base import (
    EXECUTION_END_FLOOR,
    TRIGGER_COUNTER,
    Snapshot,
    TxBase,
    from_json,
    missing_reference,
    page,
    to_json,
    utc,
)

_TE_DATES = ("begin_date", "end_date")


def _snapshot_meta(row: Snapshot) -> WorkflowSnapshotMeta:
    return WorkflowSnapshotMeta(
        id=row.id, workflow_id=row.workflow_id, uri=row.uri, signature=row.signature, create_time=row.create_time
    )


class MetaOps(TxBase):
    """Namespaces, workflows, snapshots, workflow and task executions."""

    # -- namespaces --
    def add_namespace(self, name: str, properties: dict[str, Any]) -> NamespaceMeta:
        """Insert a namespace."""
        if name in self.t.namespaces:
            raise AlreadyExistsError(f"namespace {name!r} already exists")
        text = to_json(properties or {}, f"properties of namespace {name!r}")
        self._put(self.t.namespaces, name, text)
        return NamespaceMeta(name=name, properties=from_json(text))

    def get_namespace(self, name: str) -> NamespaceMeta | None:
        """Return a namespace."""
        text = self.t.namespaces.get(name)
        return None if text is None else NamespaceMeta(name=name, properties=from_json(text))

    def list_namespaces(self, limit: int | None, offset: int | None) -> list[NamespaceMeta]:
        """Return namespaces ordered by name."""
        names = page(sorted(self.t.namespaces), limit, offset)
        return [NamespaceMeta(name=n, properties=from_json(self.t.namespaces[n])) for n in names]

    def update_namespace(self, name: str, properties: dict[str, Any]) -> NamespaceMeta | None:
        """Replace a namespace's properties."""
        if name not in self.t.namespaces:
            return None
        text = to_json(properties or {}, f"properties of namespace {name!r}")
        self._put(self.t.namespaces, name, text)
        return NamespaceMeta(name=name, properties=from_json(text))

    def delete_namespace(self, name: str) -> bool:
        """Delete a namespace and its events."""
        left = self.list_workflows(name, 1, None)
        if left:
            raise InvalidStateError(
                f"namespace {name!r} still holds workflow {left[0].name!r}; delete its workflows first"
            )
        doomed = [offset for offset, (event, _) in self.t.events.items() if event.namespace == name]
        for offset in doomed:
            self._drop_event(offset)
        return self._pop(self.t.namespaces, name) is not None

    # -- workflows --
    def put_workflow(self, namespace: str, name: str, content: str, now: dt.datetime) -> WorkflowMeta:
        """Insert a workflow or update its content."""
        now = ensure_utc(now)
        existing = self.get_workflow(namespace, name)
        if existing is None:
            if namespace not in self.t.namespaces:
                raise NotFoundError("namespace", namespace, "add it before storing workflows in it")
            stored = WorkflowMeta(
                id=self._next_id("workflow"), namespace=namespace, name=name, content=content, is_enabled=True,
                create_time=now, update_time=now,
            )
            self._put(self.t.workflow_names, (namespace, name), stored.id)
        else:
            stored = attrs.evolve(existing, content=content, update_time=now)
        self._put(self.t.workflows, stored.id, stored)
        return stored

    def get_workflow(self, namespace: str, name: str) -> WorkflowMeta | None:
        """Return a workflow by namespace and name."""
        workflow_id = self.t.workflow_names.get((namespace, name))
        return None if workflow_id is None else self.t.workflows[workflow_id]

    def get_workflow_by_id(self, workflow_id: int) -> WorkflowMeta | None:
        """Return a workflow by id."""
        return self.t.workflows.get(workflow_id)

    def list_workflows(self, namespace: str | None, limit: int | None, offset: int | None) -> list[WorkflowMeta]:
        """Return workflows ordered by id."""
        rows = [self.t.workflows[i] for i in sorted(self.t.workflows)]
        return page([w for w in rows if namespace is None or w.namespace == namespace], limit, offset)

    def set_workflow_enabled(self, workflow_id: int, enabled: bool, now: dt.datetime) -> None:
        """Enable or disable a workflow."""
        workflow = self.t.workflows.get(workflow_id)
        if workflow is not None:
            updated = attrs.evolve(workflow, is_enabled=bool(enabled), update_time=ensure_utc(now))
            self._put(self.t.workflows, workflow_id, updated)

    def delete_workflow(self, workflow_id: int) -> None:
        """Delete a workflow and everything hanging off it."""
        for execution in [e for e in self.t.executions.values() if e.workflow_id == workflow_id]:
            self.delete_workflow_execution(execution.id)
        trigger_ids = [t.id for t in self.t.triggers.values() if t.workflow_id == workflow_id]
        for trigger_id in trigger_ids:
            self._delete_scopes(f"trigger:{trigger_id}:")
            self._pop(self.t.triggers, trigger_id)
        if trigger_ids:
            self._bump_counter(TRIGGER_COUNTER)
        self._delete_where(self.t.schedules, lambda _, s: s.workflow_id != workflow_id)
        self._delete_where(self.t.explanations, lambda _, row: row[0].workflow_id != workflow_id)
        self._delete_where(self.t.snapshots, lambda _, s: s.workflow_id != workflow_id)
        workflow = self._pop(self.t.workflows, workflow_id)
        if workflow is not None:
            self._pop(self.t.workflow_names, (workflow.namespace, workflow.name))

    # -- snapshots --
    def add_snapshot(
        self, workflow_id: int, uri: str, signature: str, workflow_object: bytes, now: dt.datetime
    ) -> WorkflowSnapshotMeta:
        """Store a snapshot and make it current."""
        workflow = self._workflow_row(workflow_id)
        row = Snapshot(
            id=self._next_id("snapshot"), workflow_id=workflow_id, uri=uri, signature=signature,
            create_time=ensure_utc(now), workflow_object=bytes(workflow_object),
        )
        self._put(self.t.snapshots, row.id, row)
        self._put(self.t.workflows, workflow_id, attrs.evolve(workflow, snapshot_id=row.id))
        return _snapshot_meta(row)

    def get_snapshot(self, snapshot_id: int) -> WorkflowSnapshotMeta | None:
        """Return a snapshot's meta."""
        row = self.t.snapshots.get(snapshot_id)
        return None if row is None else _snapshot_meta(row)

    def get_snapshot_object(self, snapshot_id: int) -> bytes | None:
        """Return the pickled workflow of a snapshot."""
        row = self.t.snapshots.get(snapshot_id)
        return None if row is None else row.workflow_object

    def list_snapshots(self, workflow_id: int, limit: int | None, offset: int | None) -> list[WorkflowSnapshotMeta]:
        """Return a workflow's snapshots, oldest first."""
        ids = sorted(s.id for s in self.t.snapshots.values() if s.workflow_id == workflow_id)
        return [_snapshot_meta(self.t.snapshots[i]) for i in page(ids, limit, offset)]

    def delete_snapshot(self, snapshot_id: int) -> bool:
        """Delete a snapshot no execution uses."""
        if any(e.snapshot_id == snapshot_id for e in self.t.executions.values()):
            return False
        row = self._pop(self.t.snapshots, snapshot_id)
        if row is None:
            return False
        workflow = self.t.workflows.get(row.workflow_id)
        if workflow is not None and workflow.snapshot_id == snapshot_id:
            self._put(self.t.workflows, workflow.id, attrs.evolve(workflow, snapshot_id=None))
        return True

    # -- workflow executions --
    def add_workflow_execution(
        self,
        workflow: WorkflowMeta,
        snapshot_id: int,
        execution_type: ExecutionType,
        status: WorkflowStatus,
        begin_date: dt.datetime,
        cause: StartCause | None,
    ) -> WorkflowExecutionMeta:
        """Insert a workflow execution of ``workflow``."""
        stored = self._workflow_row(workflow.id)
        if snapshot_id not in self.t.snapshots:
            raise missing_reference("workflow snapshot", snapshot_id)
        execution = WorkflowExecutionMeta(
            id=self._next_id("workflow_execution"), workflow_id=stored.id, workflow_name=stored.name,
            namespace=stored.namespace, snapshot_id=snapshot_id, execution_type=ExecutionType(execution_type),
            status=WorkflowStatus(status), begin_date=utc(begin_date), end_date=None, cause=cause,
        )
        self._put(self.t.executions, execution.id, execution)
        return execution

    def get_workflow_execution(self, execution_id: int) -> WorkflowExecutionMeta | None:
        """Return a workflow execution."""
        return self.t.executions.get(execution_id)

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
        """Return workflow executions ordered by id (descending with ``newest_first``), below ``before_id``."""
        wanted = None if statuses is None else {WorkflowStatus(s) for s in statuses}
        rows = [
            e
            for e in (self.t.executions[i] for i in sorted(self.t.executions, reverse=newest_first))
            if (workflow_id is None or e.workflow_id == workflow_id)
            and (before_id is None or e.id < before_id)
            and (wanted is None or e.status in wanted)
            and (namespace is None or e.namespace == namespace)
        ]
        return page(rows, limit, offset)

    def list_finished_workflow_executions(self, before: dt.datetime, limit: int) -> list[WorkflowExecutionMeta]:
        """Finished executions that ended before ``before``, oldest first."""
        before = ensure_utc(before)
        if self._nothing_before(EXECUTION_END_FLOOR, before):
            return []
        ended = [(e.end_date, e.id, e) for e in self.t.executions.values() if e.status.is_final and e.end_date]
        self._reset_floor(EXECUTION_END_FLOOR, [end for end, _, _ in ended], before)
        return [e for end, _, e in sorted(ended, key=lambda row: row[:2]) if end < before][:limit]

    def update_workflow_execution(
        self, execution_id: int, status: WorkflowStatus, end_date: dt.datetime | None
    ) -> None:
        """Set an execution's status and end date."""
        execution = self.t.executions.get(execution_id)
        if execution is not None:
            updated = attrs.evolve(execution, status=WorkflowStatus(status), end_date=utc(end_date))
            self._put(self.t.executions, execution_id, updated)
            if updated.status.is_final and updated.end_date is not None:
                self._lower_floor(EXECUTION_END_FLOOR, updated.end_date)

    def delete_workflow_execution(self, execution_id: int) -> None:
        """Delete an execution, its task executions, state and explanations."""
        self._delete_scopes(f"wfe:{execution_id}:")
        self._delete_where(self.t.explanations, lambda _, row: row[0].workflow_execution_id != execution_id)
        for task_execution_id in list(self.t.tasks_of.get(execution_id, ())):
            self._pop(self.t.task_executions, task_execution_id)
            self._pop(self.t.heartbeats, task_execution_id)
        self._pop(self.t.tasks_of, execution_id)
        self._pop(self.t.executions, execution_id)

    # -- task executions --
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
        """Insert a task execution."""
        if workflow_execution_id not in self.t.executions:
            raise missing_reference("workflow execution", workflow_execution_id)
        task_execution = TaskExecutionMeta(
            id=self._next_id("task_execution"), workflow_execution_id=workflow_execution_id, task_name=task_name,
            sequence_number=sequence_number, try_number=try_number, execution_type=ExecutionType(execution_type),
            status=TaskStatus(status), cause=cause, begin_date=ensure_utc(now), log_path=log_path,
        )
        self._put(self.t.task_executions, task_execution.id, task_execution)
        self._put_in(self.t.tasks_of, workflow_execution_id, task_execution.id, None)
        return task_execution

    def get_task_execution(self, task_execution_id: int) -> TaskExecutionMeta | None:
        """Return a task execution."""
        return self.t.task_executions.get(task_execution_id)

    def _tasks_of(self, workflow_execution_id: int) -> list[TaskExecutionMeta]:
        ids = sorted(self.t.tasks_of.get(workflow_execution_id, ()))
        return [self.t.task_executions[i] for i in ids]

    def list_task_executions(
        self,
        workflow_execution_id: int,
        limit: int | None = None,
        offset: int | None = None,
        task_name: str | None = None,
        newest_first: bool = False,
    ) -> list[TaskExecutionMeta]:
        """Return task executions of a workflow execution ordered by id (descending with ``newest_first``)."""
        rows = self._tasks_of(workflow_execution_id)
        if newest_first:
            rows.reverse()
        return page([te for te in rows if task_name is None or te.task_name == task_name], limit, offset)

    def list_task_executions_by_status(self, statuses: Sequence[TaskStatus]) -> list[TaskExecutionMeta]:
        """Return every task execution whose status is one of ``statuses``."""
        wanted = {TaskStatus(s) for s in statuses}
        return [te for te in (self.t.task_executions[i] for i in sorted(self.t.task_executions)) if te.status in wanted]

    def count_task_executions_by_status(self) -> dict[TaskStatus, int]:
        """How many task executions have each status."""
        counts: dict[TaskStatus, int] = {}
        for te in self.t.task_executions.values():
            counts[te.status] = counts.get(te.status, 0) + 1
        return counts

    def latest_task_executions(self, workflow_execution_id: int) -> list[TaskExecutionMeta]:
        """Return the latest execution of each task of a workflow execution."""
        latest = {te.task_name: te for te in self._tasks_of(workflow_execution_id)}
        return sorted(latest.values(), key=lambda te: te.id)

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
        """Update the fields given."""
        fields = given(
            status=status, try_number=try_number, begin_date=begin_date, end_date=end_date, error=error,
            log_path=log_path,
        )
        if "status" in fields:
            fields["status"] = TaskStatus(fields["status"])
        for name in _TE_DATES:
            if name in fields:
                fields[name] = utc(fields[name])
        task_execution = self.t.task_executions.get(task_execution_id)
        if task_execution is not None:
            self._put(self.t.task_executions, task_execution_id, attrs.evolve(task_execution, **fields))
