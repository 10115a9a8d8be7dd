"""The original ``ai_flow.ops.workflow_ops`` functions, on the default client."""

from aiflow_core.ops import (
    delete_workflow,
    disable_workflow,
    enable_workflow,
    get_workflow,
    list_workflows,
    upload_workflows,
)

__all__ = [
    "delete_workflow",
    "disable_workflow",
    "enable_workflow",
    "get_workflow",
    "list_workflows",
    "upload_workflows",
]
