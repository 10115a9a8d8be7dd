"""aiflow: an embeddable, event-driven workflow scheduler engine.

The model classes load eagerly (they import no I/O library); ``Client``,
``Engine`` and ``ops`` load on first use so that importing the model stays
free of SQLAlchemy, fsspec and cloudpickle.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Workflow": "aiflow_core.model.workflow",
    "Operator": "aiflow_core.model.operator",
    "AIFlowOperator": "aiflow_core.model.operator",
    "BashOperator": "aiflow_core.operators.bash",
    "PythonOperator": "aiflow_core.operators.python",
    "TaskAction": "aiflow_core.model.action",
    "TaskStatus": "aiflow_core.model.status",
    "WorkflowStatus": "aiflow_core.model.status",
    "ExecutionType": "aiflow_core.model.execution_type",
    "Condition": "aiflow_core.model.condition",
    "Context": "aiflow_core.model.context",
    "Event": "aiflow_core.model.event",
    "TaskRule": "aiflow_core.model.rule",
    "WorkflowRule": "aiflow_core.model.rule",
    "ValueState": "aiflow_core.model.state",
    "ValueStateDescriptor": "aiflow_core.model.state",
    "MapState": "aiflow_core.model.state",
    "MapStateDescriptor": "aiflow_core.model.state",
    "SingleEventCondition": "aiflow_core.model.internal.conditions",
    "MeetAllCondition": "aiflow_core.model.internal.conditions",
    "MeetAnyCondition": "aiflow_core.model.internal.conditions",
    "TaskStatusCondition": "aiflow_core.model.internal.conditions",
    "Client": "aiflow_core.client",
    "Engine": "aiflow_core.engine",
    "AIFlowNotificationClient": "aiflow_core.notification.notification_client",
    "ListenerProcessor": "aiflow_core.notification.notification_client",
}

__all__ = [*sorted(_LAZY), "ops"]


def __getattr__(name: str) -> Any:
    if name == "ops":
        return importlib.import_module("aiflow_core.ops")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aiflow_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
