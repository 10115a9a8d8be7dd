"""The original ``ops`` API as module functions on a default client.

The default client is the one of the running task inside a task, otherwise a
:class:`~aiflow_core.client.Client` built from ``$AIFLOW_HOME/aiflow.yaml`` and
the ``AIFLOW_*`` environment variables on first use. :func:`set_default_client`
replaces it (an embedding application passes its engine).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiflow_core.client import Client

_lock = threading.Lock()
_default: Client | None = None

_FUNCTIONS = (
    "add_namespace", "get_namespace", "list_namespace", "update_namespace", "delete_namespace",
    "upload_workflows", "get_workflow", "list_workflows", "delete_workflow", "disable_workflow",
    "enable_workflow",
    "get_workflow_snapshot", "list_workflow_snapshots", "delete_workflow_snapshot", "delete_workflow_snapshots",
    "start_workflow_execution", "stop_workflow_execution", "stop_workflow_executions",
    "delete_workflow_execution", "get_workflow_execution", "list_workflow_executions",
    "start_task_execution", "stop_task_execution", "get_task_execution", "list_task_executions",
    "add_workflow_schedule", "delete_workflow_schedule", "delete_workflow_schedules", "get_workflow_schedule",
    "list_workflow_schedules", "pause_workflow_schedule", "resume_workflow_schedule",
    "add_workflow_trigger", "delete_workflow_trigger", "delete_workflow_triggers", "get_workflow_trigger",
    "list_workflow_triggers", "pause_workflow_trigger", "resume_workflow_trigger",
    "send_event", "list_events", "count_events", "time_to_offset",
    "explain_task_execution", "explain_task", "explain_event",
)

__all__ = [*_FUNCTIONS, "get_default_client", "set_default_client"]


def set_default_client(client: Client | None) -> None:
    """Use ``client`` for the module functions (None: build one from the config again)."""
    global _default
    with _lock:
        _default = client


def get_default_client() -> Client:
    """The client the module functions use."""
    global _default
    from aiflow_core.runtime.context import runtime_or_none

    runtime = runtime_or_none()
    if runtime is not None:
        return runtime.client
    with _lock:
        if _default is None:
            from aiflow_core.client import Client

            _default = Client()
        return _default


def _delegate(name: str) -> Any:
    from aiflow_core.client import Client

    method = getattr(Client, name)

    def function(*args: Any, **kwargs: Any) -> Any:
        return getattr(get_default_client(), name)(*args, **kwargs)

    function.__name__ = name
    function.__qualname__ = name
    function.__doc__ = method.__doc__
    return function


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        function = _delegate(name)
        globals()[name] = function
        return function
    raise AttributeError(f"module 'aiflow_core.ops' has no attribute {name!r}")
