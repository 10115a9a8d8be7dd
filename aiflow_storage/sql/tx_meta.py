"""Store operations on namespaces, workflows, snapshots and executions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from aiflow_core.errors import AlreadyExistsError, InvalidStateError, NotFoundError, UnreadableRowError
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
from aiflow_core.ports import UNSET, Unset, check_json, given
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.prepared import Prepared, PreparedInsert
from aiflow_storage.sql.tx_base import TRIGGER_COUNTER, TxBase

_Meta = TypeVar("_Meta")


def page(query: sa.Select[Any], limit: int | None, offset: int | None) -> sa.Select[Any]:
    """Apply ``limit`` and ``offset`` (None or 0: not applied) to ``query``."""
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return query


def _workflow(row: Any) -> WorkflowMeta:
    return WorkflowMeta(
        id=row.id,
        name=row.name,
        namespace=row.namespace,
        content=row.content,
        is_enabled=bool(row.is_enabled),
        create_time=row.create_time,
        update_time=row.update_time,
        snapshot_id=row.snapshot_id,
    )


def _snapshot(row: Any) -> WorkflowSnapshotMeta:
    return WorkflowSnapshotMeta(
        id=row.id, workflow_id=row.workflow_id, uri=row.uri, signature=row.signature,
        create_time=row.create_time,
    )


_WFE_COLUMNS = (
    t.workflow_executions,
    t.workflows.c.name.label("workflow_name"),
    t.workflows.c.namespace,
)


def _wfe_query() -> sa.Select[Any]:
    return sa.select(*_WFE_COLUMNS).join(
        t.workflows, t.workflows.c.id == t.workflow_executions.c.workflow_id
    )


# Statements of the scheduler's hot path, built once (see tx_log).
_NAMESPACE_BY_NAME = sa.select(t.namespaces).where(t.namespaces.c.name == sa.bindparam("name"))
_WORKFLOW_BY_ID = Prepared(sa.select(t.workflows).where(t.workflows.c.id == sa.bindparam("workflow_id")))
_SNAPSHOT_BY_ID = sa.select(*[c for c in t.snapshots.c if c.name != "workflow_object"]).where(
    t.snapshots.c.id == sa.bindparam("snapshot_id")
)
_SNAPSHOT_OBJECT = sa.select(t.snapshots.c.workflow_object).where(t.snapshots.c.id == sa.bindparam("snapshot_id"))
_INSERT_WFE = PreparedInsert(t.workflow_executions)
_WFE_BY_ID = _wfe_query().where(t.workflow_executions.c.id == sa.bindparam("execution_id"))
_INSERT_TE = PreparedInsert(t.task_executions)
_TE_BY_ID = sa.select(t.task_executions).where(t.task_executions.c.id == sa.bindparam("task_execution_id"))
_latest_ids = (
    sa.select(sa.func.max(t.task_executions.c.id).label("latest_id"))
    .where(t.task_executions.c.workflow_execution_id == sa.bindparam("execution_id"))
    .group_by(t.task_executions.c.task_name)
    .subquery()
)
_LATEST_TES = sa.select(t.task_executions).join(_latest_ids, t.task_executions.c.id == _latest_ids.c.latest_id)


def _decoded(table: sa.Table, convert: Callable[[Any], _Meta]) -> Callable[[Any], _Meta]:
    """``convert`` raising UnreadableRowError, naming the row, where a stored value is not one this aiflow knows."""

    def decode(row: Any) -> _Meta:
        try:
            return convert(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise UnreadableRowError(table.name, row.id, str(exc)) from exc

    return decode


def _wfe_meta(row: Any) -> WorkflowExecutionMeta:
    return WorkflowExecutionMeta(
        id=row.id,
        workflow_id=row.workflow_id,
        workflow_name=row.workflow_name,
        namespace=row.namespace,
        snapshot_id=row.snapshot_id,
        execution_type=ExecutionType(row.execution_type),
        status=WorkflowStatus(row.status),
        begin_date=row.begin_date,
        end_date=row.end_date,
        cause=StartCause.from_dict(row.cause) if row.cause else None,
    )


def _te_meta(row: Any) -> TaskExecutionMeta:
    return TaskExecutionMeta(
        id=row.id,
        workflow_execution_id=row.workflow_execution_id,
        task_name=row.task_name,
        sequence_number=row.sequence_number,
        try_number=row.try_number,
        execution_type=ExecutionType(row.execution_type),
        status=TaskStatus(row.status),
        cause=StartCause.from_dict(row.cause),
        begin_date=row.begin_date,
        end_date=row.end_date,
        error=row.error,
        log_path=row.log_path,
    )


_wfe = _decoded(t.workflow_executions, _wfe_meta)
_te = _decoded(t.task_executions, _te_meta)


class MetaOps(TxBase):
    """Namespaces, workflows, snapshots, workflow and task executions."""

    # -- namespaces --
    def add_namespace(self, name: str, properties: dict[str, Any]) -> NamespaceMeta:
        """Insert a namespace."""
        if self.get_namespace(name) is not None:
            raise AlreadyExistsError(f"namespace {name!r} already exists")
        check_json(properties, f"properties of namespace {name!r}")
        self.conn.execute(sa.insert(t.namespaces).values(name=name, properties=properties or {}))
        return NamespaceMeta(name=name, properties=dict(properties or {}))

    def get_namespace(self, name: str) -> NamespaceMeta | None:
        """Return a namespace."""
        row = self.conn.execute(_NAMESPACE_BY_NAME, {"name": name}).first()
        return None if row is None else NamespaceMeta(name=row.name, properties=row.properties or {})

    def list_namespaces(self, limit: int | None, offset: int | None) -> list[NamespaceMeta]:
        """Return namespaces ordered by name."""
        query = page(sa.select(t.namespaces).order_by(t.namespaces.c.name), limit, offset)
        return [NamespaceMeta(name=r.name, properties=r.properties or {}) for r in self.conn.execute(query)]

    def update_namespace(self, name: str, properties: dict[str, Any]) -> NamespaceMeta | None:
        """Replace a namespace's properties."""
        check_json(properties, f"properties of namespace {name!r}")
        result = self.conn.execute(
            sa.update(t.namespaces).where(t.namespaces.c.name == name).values(properties=properties or {})
        )
        return None if result.rowcount == 0 else NamespaceMeta(name=name, properties=dict(properties or {}))

    def delete_namespace(self, name: str) -> bool:
        """Delete a namespace and its events."""
        left = self.list_workflows(name, 1, None)
        if left:
            raise InvalidStateError(
                f"namespace {name!r} still holds workflow {left[0].name!r}; "
                "delete its workflows first"
            )
        self._write_events()
        self.conn.execute(sa.delete(t.events).where(t.events.c.namespace == name))
        self._tail.clear()
        return self.conn.execute(sa.delete(t.namespaces).where(t.namespaces.c.name == name)).rowcount > 0

    # -- workflows --
    def put_workflow(self, namespace: str, name: str, content: str, now: dt.datetime) -> WorkflowMeta:
        """Insert a workflow or update its content."""
        existing = self.get_workflow(namespace, name)
        if existing is None:
            if self.get_namespace(namespace) is None:
                raise NotFoundError("namespace", namespace, "add it before storing workflows in it")
            try:
                self.conn.execute(
                    sa.insert(t.workflows).values(
                        namespace=namespace, name=name, content=content, is_enabled=True,
                        create_time=now, update_time=now,
                    )
                )
            except SqlIntegrityError as exc:
                raise AlreadyExistsError(
                    f"workflow {namespace}.{name} could not be stored: {exc.orig}"
                ) from None
        else:
            self.conn.execute(
                sa.update(t.workflows)
                .where(t.workflows.c.id == existing.id)
                .values(content=content, update_time=now)
            )
        stored = self.get_workflow(namespace, name)
        assert stored is not None
        return stored

    def get_workflow(self, namespace: str, name: str) -> WorkflowMeta | None:
        """Return a workflow by namespace and name."""
        row = self.conn.execute(
            sa.select(t.workflows).where(t.workflows.c.namespace == namespace, t.workflows.c.name == name)
        ).first()
        return None if row is None else _workflow(row)

    def get_workflow_by_id(self, workflow_id: int) -> WorkflowMeta | None:
        """Return a workflow by id."""
        row = next(iter(_WORKFLOW_BY_ID.execute(self.conn, {"workflow_id": workflow_id})), None)
        return None if row is None else _workflow(row)

    def list_workflows(self, namespace: str | None, limit: int | None, offset: int | None) -> list[WorkflowMeta]:
        """Return workflows ordered by id."""
        query = sa.select(t.workflows).order_by(t.workflows.c.id)
        if namespace is not None:
            query = query.where(t.workflows.c.namespace == namespace)
        return [_workflow(r) for r in self.conn.execute(page(query, limit, offset))]

    def set_workflow_enabled(self, workflow_id: int, enabled: bool, now: dt.datetime) -> None:
        """Enable or disable a workflow."""
        self.conn.execute(
            sa.update(t.workflows).where(t.workflows.c.id == workflow_id).values(is_enabled=enabled, update_time=now)
        )

    def delete_workflow(self, workflow_id: int) -> None:
        """Delete a workflow and everything hanging off it."""
        wfe_ids = [
            r.id
            for r in self.conn.execute(
                sa.select(t.workflow_executions.c.id).where(t.workflow_executions.c.workflow_id == workflow_id)
            )
        ]
        for wfe_id in wfe_ids:
            self.delete_workflow_execution(wfe_id)
        trigger_ids = [
            r.id for r in self.conn.execute(sa.select(t.triggers.c.id).where(t.triggers.c.workflow_id == workflow_id))
        ]
        for trigger_id in trigger_ids:
            self.conn.execute(sa.delete(t.states).where(t.states.c.scope.like(f"trigger:{trigger_id}:%")))
        if trigger_ids:
            self._bump_counter(TRIGGER_COUNTER)
        for table in (t.schedules, t.triggers):
            self.conn.execute(sa.delete(table).where(table.c.workflow_id == workflow_id))
        self.conn.execute(sa.update(t.workflows).where(t.workflows.c.id == workflow_id).values(snapshot_id=None))
        self.conn.execute(sa.delete(t.snapshots).where(t.snapshots.c.workflow_id == workflow_id))
        self.conn.execute(sa.delete(t.workflows).where(t.workflows.c.id == workflow_id))

    # -- snapshots --
    def add_snapshot(
        self, workflow_id: int, uri: str, signature: str, workflow_object: bytes, now: dt.datetime
    ) -> WorkflowSnapshotMeta:
        """Store a snapshot and make it current."""
        result = self.conn.execute(
            sa.insert(t.snapshots).values(
                workflow_id=workflow_id, uri=uri, signature=signature,
                workflow_object=workflow_object, create_time=now,
            )
        )
        snapshot_id = result.inserted_primary_key[0]  # type: ignore[index]
        self.conn.execute(
            sa.update(t.workflows).where(t.workflows.c.id == workflow_id).values(snapshot_id=snapshot_id)
        )
        snapshot = self.get_snapshot(snapshot_id)
        assert snapshot is not None
        return snapshot

    def get_snapshot(self, snapshot_id: int) -> WorkflowSnapshotMeta | None:
        """Return a snapshot's meta."""
        row = self.conn.execute(_SNAPSHOT_BY_ID, {"snapshot_id": snapshot_id}).first()
        return None if row is None else _snapshot(row)

    def get_snapshot_object(self, snapshot_id: int) -> bytes | None:
        """Return the pickled workflow of a snapshot."""
        row = self.conn.execute(_SNAPSHOT_OBJECT, {"snapshot_id": snapshot_id}).first()
        return None if row is None else bytes(row.workflow_object)

    def list_snapshots(self, workflow_id: int, limit: int | None, offset: int | None) -> list[WorkflowSnapshotMeta]:
        """Return a workflow's snapshots, oldest first."""
        query = (
            sa.select(*[c for c in t.snapshots.c if c.name != "workflow_object"])
            .where(t.snapshots.c.workflow_id == workflow_id)
            .order_by(t.snapshots.c.id)
        )
        return [_snapshot(r) for r in self.conn.execute(page(query, limit, offset))]

    def delete_snapshot(self, snapshot_id: int) -> bool:
        """Delete a snapshot no execution uses."""
        used = self.conn.execute(
            sa.select(sa.func.count()).select_from(t.workflow_executions).where(
                t.workflow_executions.c.snapshot_id == snapshot_id
            )
        ).scalar_one()
        if used:
            return False
        self.conn.execute(
            sa.update(t.workflows).where(t.workflows.c.snapshot_id == snapshot_id).values(snapshot_id=None)
        )
        return self.conn.execute(sa.delete(t.snapshots).where(t.snapshots.c.id == snapshot_id)).rowcount > 0

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
        execution_id = _INSERT_WFE.insert(
            self.conn,
            {
                "workflow_id": workflow.id, "snapshot_id": snapshot_id, "execution_type": execution_type.value,
                "status": status.value, "begin_date": begin_date, "end_date": None,
                "cause": cause.as_dict() if cause else None,
            },
        )
        return WorkflowExecutionMeta(
            id=execution_id,
            workflow_id=workflow.id, workflow_name=workflow.name, namespace=workflow.namespace,
            snapshot_id=snapshot_id, execution_type=execution_type, status=status,
            begin_date=ensure_utc(begin_date), end_date=None, cause=cause,
        )

    def get_workflow_execution(self, execution_id: int) -> WorkflowExecutionMeta | None:
        """Return a workflow execution."""
        row = self.conn.execute(_WFE_BY_ID, {"execution_id": execution_id}).first()
        return None if row is None else _wfe(row)

    def list_workflow_executions(
        self,
        workflow_id: int | None,
        limit: int | None = None,
        offset: int | None = None,
        statuses: Sequence[WorkflowStatus] | None = None,
        namespace: str | None = None,
    ) -> list[WorkflowExecutionMeta]:
        """Return workflow executions ordered by id."""
        query = _wfe_query().order_by(t.workflow_executions.c.id)
        if workflow_id is not None:
            query = query.where(t.workflow_executions.c.workflow_id == workflow_id)
        if statuses is not None:
            query = query.where(t.workflow_executions.c.status.in_([s.value for s in statuses]))
        if namespace is not None:
            query = query.where(t.workflows.c.namespace == namespace)
        return [_wfe(r) for r in self.conn.execute(page(query, limit, offset))]

    def list_finished_workflow_executions(self, before: dt.datetime, limit: int) -> list[WorkflowExecutionMeta]:
        """Finished executions that ended before ``before``, oldest first."""
        c = t.workflow_executions.c
        finished = [s.value for s in WorkflowStatus if s.is_final]
        query = (
            _wfe_query()
            .where(c.status.in_(finished), c.end_date < before)
            .order_by(c.end_date, c.id)
            .limit(limit)
        )
        return [_wfe(r) for r in self.conn.execute(query)]

    def update_workflow_execution(
        self, execution_id: int, status: WorkflowStatus, end_date: dt.datetime | None
    ) -> None:
        """Set an execution's status and end date."""
        self._update_row(t.workflow_executions, execution_id, {"status": status.value, "end_date": end_date})

    def delete_workflow_execution(self, execution_id: int) -> None:
        """Delete an execution, its task executions and state."""
        self.conn.execute(sa.delete(t.states).where(t.states.c.scope.like(f"wfe:{execution_id}:%")))
        self.conn.execute(sa.delete(t.task_executions).where(t.task_executions.c.workflow_execution_id == execution_id))
        self.conn.execute(sa.delete(t.workflow_executions).where(t.workflow_executions.c.id == execution_id))

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
        task_execution_id = _INSERT_TE.insert(
            self.conn,
            {
                "workflow_execution_id": workflow_execution_id, "task_name": task_name,
                "sequence_number": sequence_number, "try_number": try_number,
                "execution_type": execution_type.value, "status": status.value, "cause": cause.as_dict(),
                "begin_date": now, "end_date": None, "error": None, "log_path": log_path, "heartbeat": None,
            },
        )
        return TaskExecutionMeta(
            id=task_execution_id,
            workflow_execution_id=workflow_execution_id, task_name=task_name, sequence_number=sequence_number,
            try_number=try_number, execution_type=execution_type, status=status, cause=cause,
            begin_date=ensure_utc(now), log_path=log_path,
        )

    def get_task_execution(self, task_execution_id: int) -> TaskExecutionMeta | None:
        """Return a task execution."""
        row = self.conn.execute(_TE_BY_ID, {"task_execution_id": task_execution_id}).first()
        return None if row is None else _te(row)

    def list_task_executions(
        self,
        workflow_execution_id: int,
        limit: int | None = None,
        offset: int | None = None,
        task_name: str | None = None,
    ) -> list[TaskExecutionMeta]:
        """Return task executions of a workflow execution ordered by id."""
        query = (
            sa.select(t.task_executions)
            .where(t.task_executions.c.workflow_execution_id == workflow_execution_id)
            .order_by(t.task_executions.c.id)
        )
        if task_name is not None:
            query = query.where(t.task_executions.c.task_name == task_name)
        return [_te(r) for r in self.conn.execute(page(query, limit, offset))]

    def list_task_executions_by_status(self, statuses: Sequence[TaskStatus]) -> list[TaskExecutionMeta]:
        """Return every task execution whose status is one of ``statuses``."""
        query = (
            sa.select(t.task_executions)
            .where(t.task_executions.c.status.in_([TaskStatus(s).value for s in statuses]))
            .order_by(t.task_executions.c.id)
        )
        return [_te(r) for r in self.conn.execute(query)]

    def latest_task_executions(self, workflow_execution_id: int) -> list[TaskExecutionMeta]:
        """Return the latest execution of each task of a workflow execution."""
        return [_te(r) for r in self.conn.execute(_LATEST_TES, {"execution_id": workflow_execution_id})]

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
            fields["status"] = TaskStatus(fields["status"]).value
        self._update_row(t.task_executions, task_execution_id, fields)
