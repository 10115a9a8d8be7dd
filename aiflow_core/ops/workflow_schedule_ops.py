"""The original ``ai_flow.ops.workflow_schedule_ops`` functions, on the default client."""

from aiflow_core.ops import (
    add_workflow_schedule,
    delete_workflow_schedule,
    delete_workflow_schedules,
    get_workflow_schedule,
    list_workflow_schedules,
    pause_workflow_schedule,
    resume_workflow_schedule,
)

__all__ = [
    "add_workflow_schedule",
    "delete_workflow_schedule",
    "delete_workflow_schedules",
    "get_workflow_schedule",
    "list_workflow_schedules",
    "pause_workflow_schedule",
    "resume_workflow_schedule",
]
