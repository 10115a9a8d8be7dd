"""The original ``ai_flow.ops.workflow_trigger_ops`` functions, on the default client."""

from aiflow_core.ops import (
    add_workflow_trigger,
    delete_workflow_trigger,
    delete_workflow_triggers,
    get_workflow_trigger,
    list_workflow_triggers,
    pause_workflow_trigger,
    resume_workflow_trigger,
)

__all__ = [
    "add_workflow_trigger",
    "delete_workflow_trigger",
    "delete_workflow_triggers",
    "get_workflow_trigger",
    "list_workflow_triggers",
    "pause_workflow_trigger",
    "resume_workflow_trigger",
]
