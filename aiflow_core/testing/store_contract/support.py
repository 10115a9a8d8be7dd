"""What the parts of the store contract share: a reference time and rows to build on."""

from __future__ import annotations

import datetime as dt

from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.meta import StartCause, StartKind, WorkflowMeta
from aiflow_core.model.status import WorkflowStatus
from aiflow_core.ports import StoreTx

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
MANUAL = StartCause(kind=StartKind.MANUAL)


def at(seconds: float) -> dt.datetime:
    """``seconds`` after the suite's reference time."""
    return T0 + dt.timedelta(seconds=seconds)


def make_workflow(tx: StoreTx, name: str = "wf", namespace: str = "default") -> WorkflowMeta:
    """Store a workflow called ``name``."""
    return tx.put_workflow(namespace, name, f"content of {name}", T0)


def make_execution(tx: StoreTx, workflow_id: int) -> int:
    """Store a snapshot of workflow ``workflow_id`` and a RUNNING execution of it; returns the execution id."""
    snap = tx.add_snapshot(workflow_id, f"file:///snap/{workflow_id}", "sig", b"obj", T0)
    workflow = tx.get_workflow_by_id(workflow_id)
    assert workflow is not None
    wfe = tx.add_workflow_execution(
        workflow, snap.id, ExecutionType.MANUAL, WorkflowStatus.RUNNING, T0, MANUAL
    )
    return wfe.id
