"""Rules that wait for a task the workflow does not have are refused where they are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core import Client
from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.internal.conditions import (
    MeetAllCondition,
    MeetAnyCondition,
    SingleEventCondition,
    TaskStatusCondition,
)
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

MISSING = r"task 'missing'.*workflow 'wf' has no such task; its tasks: \['a', 'b'\]"


def test_a_status_condition_on_a_missing_task_is_refused_when_the_block_closes() -> None:
    with pytest.raises(InvalidWorkflowError, match=MISSING), Workflow(name="wf"):
        a = BashOperator(name="a", bash_command="true")
        BashOperator(name="b", bash_command="true")
        a.action_on_condition(
            TaskAction.START, TaskStatusCondition("wf", "missing", "default", TaskStatus.SUCCESS)
        )


def test_a_missing_task_inside_a_composite_is_refused() -> None:
    with pytest.raises(InvalidWorkflowError, match=MISSING), Workflow(name="wf"):
        a = BashOperator(name="a", bash_command="true")
        BashOperator(name="b", bash_command="true")
        inner = MeetAllCondition("all", [
            SingleEventCondition("go"),
            TaskStatusCondition(workflow_name="wf", task_name="missing", expect_status="SUCCESS"),
        ])
        a.action_on_condition(TaskAction.STOP, MeetAnyCondition([SingleEventCondition("x"), inner]))


def test_a_task_declared_after_the_rule_that_names_it_is_accepted() -> None:
    with Workflow(name="wf") as workflow:
        a = BashOperator(name="a", bash_command="true")
        a.action_on_condition(TaskAction.START, TaskStatusCondition("wf", "later", "default", TaskStatus.SUCCESS))
        BashOperator(name="later", bash_command="true")
    assert list(workflow.tasks) == ["a", "later"]


def test_conditions_on_other_workflows_or_namespaces_are_allowed() -> None:
    with Workflow(name="wf", namespace="team_a") as workflow:
        a = BashOperator(name="a", bash_command="true")
        a.action_on_condition(TaskAction.START, TaskStatusCondition("other", "x", "team_a", TaskStatus.SUCCESS))
        a.action_on_condition(TaskAction.STOP, TaskStatusCondition("wf", "x", "team_b", TaskStatus.SUCCESS))
    assert len(workflow.rules["a"]) == 2


def test_the_error_of_the_block_wins_over_validation() -> None:
    with pytest.raises(ZeroDivisionError), Workflow(name="wf"):
        a = BashOperator(name="a", bash_command="true")
        a.action_on_condition(TaskAction.START, TaskStatusCondition("wf", "missing", None, "SUCCESS"))
        1 / 0  # noqa: B018


RULE_AFTER_BLOCK = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.internal.conditions import TaskStatusCondition
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name="wf") as workflow:
    a = BashOperator(name="a", bash_command="true")
    b = BashOperator(name="b", bash_command="true")

a.action_on_condition(TaskAction.START, TaskStatusCondition("wf", "missing", "default", TaskStatus.SUCCESS))
"""


def test_upload_refuses_a_file_whose_workflow_names_a_missing_task(sqlite_url: str, tmp_path: Path) -> None:
    # The rule is added after the block closed: only the check at load time can see it.
    source = tmp_path / "wf.py"
    source.write_text(RULE_AFTER_BLOCK, encoding="utf-8")
    client = Client(db_url=sqlite_url, blob=str(tmp_path / "blob"))
    try:
        with pytest.raises(InvalidWorkflowError, match=MISSING):
            client.upload_workflows(str(source))
        assert client.list_workflows() == []
        source.write_text(RULE_AFTER_BLOCK.replace('"missing"', '"b"'), encoding="utf-8")
        assert [w.name for w in client.upload_workflows(str(source))] == ["wf"]
    finally:
        client.close()
