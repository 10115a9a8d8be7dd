"""Starting workflow executions from inside the scheduler (schedules and triggers)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.internal.events import ENGINE_SENDER
from aiflow_core.model.meta import StartCause
from aiflow_core.model.status import WorkflowStatus
from aiflow_core.scheduler.batch import Batch

if TYPE_CHECKING:
    from aiflow_core.scheduler.apply import Applier

log = logging.getLogger("aiflow.scheduler")

#: Key prefix of the NOTICE events that record a start skipped for a disabled workflow.
START_SKIPPED_KEY_PREFIX = "aiflow.start_skipped/"


def launch_execution(
    batch: Batch, applier: Applier, workflow_id: int, execution_type: ExecutionType, cause: StartCause
) -> int | None:
    """Create (RUNNING) and start an execution of a workflow's current snapshot.

    A disabled or deleted workflow starts nothing; the skip is logged with its
    reason. Returns the new execution's id, or None when skipped.
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
    view = batch.new_view(meta)
    if view is None:
        return None
    applier.start_execution(batch, view)
    return meta.id
