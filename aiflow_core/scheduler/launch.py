"""Creating workflow executions from inside the scheduler (schedule fires and triggers)."""

from __future__ import annotations

import logging

from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.internal.events import StartSkippedNotice
from aiflow_core.model.meta import StartCause
from aiflow_core.model.status import WorkflowStatus
from aiflow_core.scheduler.batch import Batch, ExecutionView

log = logging.getLogger("aiflow.scheduler")

def create_execution(
    batch: Batch, workflow_id: int, execution_type: ExecutionType, cause: StartCause
) -> ExecutionView | None:
    """Create a RUNNING execution of a workflow's current snapshot and return its view (its tasks not started).

    A disabled or deleted workflow gets none; the skip is logged with its
    reason (a NOTICE event for a disabled one). Returns None when skipped.
    """
    workflow = batch.workflow_meta(workflow_id)
    if workflow is None or workflow.snapshot_id is None:
        log.warning("skipped %s start of workflow %s: it no longer exists", cause.kind.value, workflow_id)
        return None
    if not workflow.is_enabled:
        reason = (
            f"{cause.kind.value.lower()} start of workflow {workflow.namespace}.{workflow.name} "
            "skipped: the workflow is disabled"
        )
        log.warning("%s", reason)
        batch.emit(
            StartSkippedNotice(
                namespace=workflow.namespace, workflow_name=workflow.name, workflow_id=workflow.id, cause=cause,
                reason=reason,
            ).to_event()
        )
        return None
    meta = batch.tx.add_workflow_execution(
        workflow, workflow.snapshot_id, execution_type, WorkflowStatus.RUNNING, batch.now, cause
    )
    return batch.new_view(meta)
