"""Creating workflow executions from inside the scheduler (schedule fires and triggers)."""

from __future__ import annotations

import logging

from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.internal.events import ENGINE_SENDER
from aiflow_core.model.meta import StartCause
from aiflow_core.model.status import WorkflowStatus
from aiflow_core.scheduler.batch import Batch, ExecutionView

log = logging.getLogger("aiflow.scheduler")

#: Key prefix of the NOTICE events that record a start skipped for a disabled workflow.
START_SKIPPED_KEY_PREFIX = "aiflow.start_skipped/"


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
            Event(
                f"{START_SKIPPED_KEY_PREFIX}{workflow.name}", reason, namespace=workflow.namespace,
                sender=ENGINE_SENDER, kind=EventKind.NOTICE,
                context={"workflow_id": workflow.id, "cause": cause.as_dict()},
            )
        )
        return None
    meta = batch.tx.add_workflow_execution(
        workflow, workflow.snapshot_id, execution_type, WorkflowStatus.RUNNING, batch.now, cause
    )
    return batch.new_view(meta)
