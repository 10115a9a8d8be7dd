"""Status conditions written with AIFlow's arguments, run by the engine."""

from __future__ import annotations

from aiflow_core.model.status import TaskStatus
from aiflow_core.testing import WorkflowTester

NAMESPACED = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.internal.conditions import MeetAllCondition, TaskStatusCondition
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name="wf", namespace="team_a") as workflow:
    a = BashOperator(name="a", bash_command="echo a")
    b = BashOperator(name="b", bash_command="echo b")
    same_namespace = BashOperator(name="same_namespace", bash_command="echo same")
    other_namespace = BashOperator(name="other_namespace", bash_command="echo other")
    same_namespace.action_on_condition(
        action=TaskAction.START,
        condition=MeetAllCondition(name="a_and_b", conditions=[
            TaskStatusCondition("wf", "a", "team_a", TaskStatus.SUCCESS),
            TaskStatusCondition(workflow_name="wf", task_name="b", namespace="team_a",
                                expect_status=TaskStatus.SUCCESS),
        ]))
    other_namespace.action_on_condition(
        action=TaskAction.START,
        condition=TaskStatusCondition("wf", "a", "default", TaskStatus.SUCCESS))
"""


def test_a_status_condition_fires_only_for_its_namespace(aiflow: WorkflowTester) -> None:
    aiflow.engine.add_namespace("team_a")
    aiflow.upload_source(NAMESPACED)
    execution = aiflow.start("wf", namespace="team_a")
    aiflow.run_until_idle()
    runs = aiflow.history(execution)
    assert sorted((r.task, r.sequence, r.status) for r in runs) == [
        ("a", 1, TaskStatus.SUCCESS), ("b", 1, TaskStatus.SUCCESS),
        ("same_namespace", 1, TaskStatus.SUCCESS),
    ]
    [started] = [r for r in runs if r.task == "same_namespace"]
    assert started.cause == "RULE"
