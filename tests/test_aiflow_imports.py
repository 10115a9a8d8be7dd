"""Every import a user writes in AIFlow's samples and documentation works with ``ai_flow`` renamed ``aiflow_core``.

The table lists each distinct import line of AIFlow's ``samples/`` and
``docs/content/`` (flink-extended/ai-flow) and of the seed documentation, with
``ai_flow`` renamed ``aiflow_core``, and where it is written. AIFlow's internals
(its server, scheduler and RPC modules) are not imported by users and are not
listed.
"""

from __future__ import annotations

import pytest

IMPORTS: list[tuple[str, str]] = [
    ("from aiflow_core import ops",
     "samples/event_trigger_workflow/event_trigger_workflow.py, samples/periodic/periodic_task.py, "
     "samples/periodic/periodic_workflow.py, samples/online_machine_learning/online_ml_workflow.py, "
     "docs/content/concepts/workflow_triggers.md, docs/content/tutorial_and_examples/tutorial.md"),
    ("from aiflow_core.common.env import expand_env_var",
     "samples/flink_operator/flink_run_example.py, samples/spark_operator/spark_submit_example.py"),
    ("from aiflow_core.context.project_context import current_project_config",
     "docs/content/plugins/blob_manager_plugin.md"),
    ("from aiflow_core.model.action import TaskAction",
     "samples/quickstart/quickstart_workflow.py, docs/content/concepts/task_rules.md, "
     "docs/content/get_started/quickstart/locally.md"),
    ("from aiflow_core.model.condition import Condition",
     "samples/custom_condition/custom_condition_example.py, docs/content/concepts/conditions.md"),
    ("from aiflow_core.model.context import Context",
     "samples/custom_condition/custom_condition_example.py, docs/content/concepts/conditions.md"),
    ("from aiflow_core.model.internal.conditions import SingleEventCondition",
     "samples/event_trigger_workflow/event_trigger_workflow.py, docs/content/concepts/workflow_triggers.md"),
    ("from aiflow_core.model.rule import WorkflowRule",
     "samples/event_trigger_workflow/event_trigger_workflow.py, docs/content/concepts/workflow_triggers.md"),
    ("from aiflow_core.model.state import ValueState, ValueStateDescriptor",
     "samples/custom_condition/custom_condition_example.py, docs/content/concepts/task_rules.md"),
    ("from aiflow_core.model.status import TaskStatus",
     "samples/custom_condition/custom_condition_example.py, docs/content/concepts/task_rules.md"),
    ("from aiflow_core.model.workflow import Workflow",
     "every sample; docs/content/concepts/workflows.md"),
    ("from aiflow_core.notification.notification_client import AIFlowNotificationClient",
     "samples/quickstart/quickstart_workflow.py, docs/content/concepts/events.md"),
    ("from aiflow_core.notification.notification_client import AIFlowNotificationClient, Event",
     "samples/custom_condition/custom_condition_example.py"),
    ("from aiflow_core.notification.notification_client import AIFlowNotificationClient, ListenerProcessor, Event",
     "samples/online_machine_learning/online_ml_workflow.py, docs/content/tutorial_and_examples/tutorial.md"),
    ("from aiflow_core.notification.notification_client import ListenerProcessor, Event",
     "docs/content/concepts/events.md"),
    ("from aiflow_core.operators.bash import BashOperator",
     "samples/quickstart/quickstart_workflow.py, docs/content/concepts/operators.md"),
    ("from aiflow_core.operators.python import PythonOperator",
     "samples/quickstart/quickstart_workflow.py, docs/content/concepts/events.md"),
    ("from aiflow_core.operators.flink.flink_operator import FlinkOperator",
     "samples/flink_operator/flink_run_example.py"),
    ("from aiflow_core.operators.spark.spark_submit import SparkSubmitOperator",
     "samples/spark_operator/spark_submit_example.py"),
    ("from aiflow_core.operators.spark.spark_sql import SparkSqlOperator",
     "docs/content/concepts/operators.md (SparkOperator: spark-submit or spark-sql)"),
    ("from aiflow_core.plugin_interface.blob_manager_interface import BlobConfig, BlobManagerFactory",
     "docs/content/plugins/blob_manager_plugin.md"),
    ("from aiflow_core.plugin_interface.blob_manager_interface import BlobManager",
     "docs/content/plugins/blob_manager_plugin.md (a plugin subclasses BlobManager)"),
    ("from aiflow_core.workflow.workflow import WorkflowPropertyKeys",
     "docs/content/plugins/blob_manager_plugin.md"),
    # AIFlow's docs import Event from its separate notification_service package;
    # here Event lives in the model (and in aiflow_core.notification.notification_client).
    ("from aiflow_core.model.event import Event",
     "docs/content/concepts/conditions.md, docs/content/concepts/task_rules.md "
     "(as notification_service.model.event)"),
    # The built-in conditions AIFlow's users construct themselves.
    ("from aiflow_core.model.internal.conditions import MeetAllCondition, MeetAnyCondition",
     "tests/model/internal/test_conditions.py of AIFlow"),
    ("from aiflow_core.model.internal.conditions import TaskStatusCondition, TaskStatusAllMetCondition",
     "ai_flow/model/workflow.py of AIFlow (what action_on_task_status builds)"),
]


@pytest.mark.parametrize(("line", "source"), IMPORTS, ids=[line for line, _ in IMPORTS])
def test_an_aiflow_import_works_renamed(line: str, source: str) -> None:
    namespace: dict[str, object] = {}
    exec(line, namespace)
    imported = line.split(" import ", 1)[1].split(", ")
    missing = [name for name in imported if namespace.get(name) is None]
    assert missing == [], f"{line!r} (from {source}) leaves {missing} unbound"
