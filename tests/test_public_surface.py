"""The names and module paths that users and the original documentation rely on."""

from __future__ import annotations

import importlib

import pytest

import aiflow_core

TOP_LEVEL = [
    "Workflow", "Operator", "AIFlowOperator", "BashOperator", "PythonOperator", "TaskAction", "TaskStatus",
    "WorkflowStatus", "ExecutionType", "Condition", "Context", "Event", "TaskRule", "WorkflowRule", "ValueState",
    "ValueStateDescriptor", "SingleEventCondition", "MeetAllCondition", "MeetAnyCondition", "TaskStatusCondition",
    "Client", "Engine", "AIFlowNotificationClient", "ListenerProcessor", "ops",
]

SEED_PATHS = [
    ("aiflow_core.model.workflow", "Workflow"),
    ("aiflow_core.model.workflow", "WorkflowContextManager"),
    ("aiflow_core.model.action", "TaskAction"),
    ("aiflow_core.model.condition", "Condition"),
    ("aiflow_core.model.context", "Context"),
    ("aiflow_core.model.state", "ValueState"),
    ("aiflow_core.model.state", "ValueStateDescriptor"),
    ("aiflow_core.model.state", "StateDescriptor"),
    ("aiflow_core.model.status", "TaskStatus"),
    ("aiflow_core.model.status", "WorkflowStatus"),
    ("aiflow_core.model.execution_type", "ExecutionType"),
    ("aiflow_core.model.operator", "Operator"),
    ("aiflow_core.model.operator", "AIFlowOperator"),
    ("aiflow_core.model.rule", "TaskRule"),
    ("aiflow_core.model.rule", "WorkflowRule"),
    ("aiflow_core.model.task_execution", "TaskExecution"),
    ("aiflow_core.model.workflow_execution", "WorkflowExecution"),
    ("aiflow_core.model.internal.conditions", "SingleEventCondition"),
    ("aiflow_core.model.event", "Event"),
    ("aiflow_core.operators.bash", "BashOperator"),
    ("aiflow_core.operators.python", "PythonOperator"),
    ("aiflow_core.operators.flink.flink_operator", "FlinkOperator"),
    ("aiflow_core.operators.spark.spark_submit", "SparkSubmitOperator"),
    ("aiflow_core.operators.spark.spark_sql", "SparkSqlOperator"),
    ("aiflow_core.notification.notification_client", "AIFlowNotificationClient"),
    ("aiflow_core.notification.notification_client", "ListenerProcessor"),
    ("aiflow_core.notification.notification_client", "Event"),
    ("aiflow_core.metadata.namespace", "NamespaceMeta"),
    ("aiflow_core.metadata.workflow", "WorkflowMeta"),
    ("aiflow_core.metadata.workflow_execution", "WorkflowExecutionMeta"),
    ("aiflow_core.metadata.task_execution", "TaskExecutionMeta"),
    ("aiflow_core.metadata.workflow_snapshot", "WorkflowSnapshotMeta"),
    ("aiflow_core.metadata.workflow_schedule", "WorkflowScheduleMeta"),
    ("aiflow_core.metadata.workflow_event_trigger", "WorkflowEventTriggerMeta"),
    ("aiflow_core.ops.namespace_ops", "add_namespace"),
    ("aiflow_core.ops.workflow_ops", "upload_workflows"),
    ("aiflow_core.ops.workflow_snapshot_ops", "list_workflow_snapshots"),
    ("aiflow_core.ops.workflow_execution_ops", "start_workflow_execution"),
    ("aiflow_core.ops.task_execution_ops", "list_task_executions"),
    ("aiflow_core.ops.workflow_schedule_ops", "add_workflow_schedule"),
    ("aiflow_core.ops.workflow_trigger_ops", "add_workflow_trigger"),
    ("aiflow_core.testing", "FakeClock"),
    ("aiflow_storage.blob", "LocalBlobManager"),
    ("aiflow_storage.blob", "BlobManagerFactory"),
]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_names(name: str) -> None:
    assert name in aiflow_core.__all__
    assert getattr(aiflow_core, name) is not None


@pytest.mark.parametrize(("module", "name"), SEED_PATHS)
def test_seed_module_paths(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


def test_ops_functions_match_client_methods() -> None:
    from aiflow_core import Client, ops

    for name in ops.__all__:
        if name in ("get_default_client", "set_default_client"):
            continue
        assert callable(getattr(ops, name))
        assert getattr(ops, name).__doc__ == getattr(Client, name).__doc__


def test_ops_use_the_client_set_as_default(tmp_path) -> None:
    from aiflow_core import Client, ops

    client = Client(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ops.set_default_client(client)
    try:
        ops.add_namespace("from_ops")
        assert ops.get_namespace("from_ops") is not None
        assert [n.name for n in client.list_namespace()] == ["default", "from_ops"]
    finally:
        ops.set_default_client(None)
        client.close()
