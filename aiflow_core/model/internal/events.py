"""Keys of the events the engine emits itself."""

from __future__ import annotations

from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.status import TaskStatus

#: Prefix of task status event keys; user keys should not start with it.
TASK_STATUS_KEY_PREFIX = "aiflow.task_status/"
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


def status_report(
    *,
    namespace: str,
    workflow_name: str,
    execution_id: int,
    task_execution_id: int,
    task_name: str,
    sequence_number: int,
    status: TaskStatus,
    error: str | None = None,
) -> Event:
    """The event by which an executor reports a status of a task execution.

    Reports are applied when the scheduler reaches them in the log: a report
    that changes the task's status becomes a TASK_STATUS event with the
    resulting status (a failure with retries left becomes RETRYING); a stale
    report (say RUNNING after a stop was decided) changes nothing.
    """
    return Event(
        task_status_event_key(workflow_name, task_name),
        status.value,
        namespace=namespace,
        sender=ENGINE_SENDER,
        kind=EventKind.TASK_REPORT,
        workflow_execution_id=execution_id,
        context={
            "task_execution_id": task_execution_id,
            "task_name": task_name,
            "sequence_number": sequence_number,
            "error": error,
        },
    )
