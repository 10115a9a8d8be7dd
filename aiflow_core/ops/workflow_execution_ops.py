"""The original ``ai_flow.ops.workflow_execution_ops`` functions, on the default client."""

from aiflow_core.ops import (
    delete_workflow_execution,
    get_workflow_execution,
    list_workflow_executions,
    start_workflow_execution,
    stop_workflow_execution,
    stop_workflow_executions,
)

__all__ = [
    "delete_workflow_execution",
    "get_workflow_execution",
    "list_workflow_executions",
    "start_workflow_execution",
    "stop_workflow_execution",
    "stop_workflow_executions",
]
