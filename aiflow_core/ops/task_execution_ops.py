"""The original ``ai_flow.ops.task_execution_ops`` functions, on the default client."""

from aiflow_core.ops import (
    get_task_execution,
    list_task_executions,
    start_task_execution,
    stop_task_execution,
)

__all__ = ["get_task_execution", "list_task_executions", "start_task_execution", "stop_task_execution"]
