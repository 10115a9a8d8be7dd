"""Concepts > Workflows and Task Rules examples of the original documentation.

Each runs on the thread and the process executor; the assertions are the
histories the documentation describes.
"""

from __future__ import annotations

import pytest

from aiflow_core.model.meta import StartKind
from aiflow_core.model.status import TaskStatus, WorkflowStatus

from .support import ExampleRunner, assert_rule_cause, status_key


@pytest.mark.parametrize("executor", ["thread", "process", "inline"])
def test_declaring_workflows(runner: ExampleRunner) -> None:
    runner.upload("declaring_workflows.py")
    wid = runner.engine.start_workflow_execution("workflow_name")
    execution = runner.engine.wait_for_workflow_execution(wid, timeout=60)
    assert execution.status is WorkflowStatus.SUCCESS
    expected = [("task_1", 1, TaskStatus.SUCCESS), ("task_2", 1, TaskStatus.SUCCESS)]
    assert runner.history(wid) == expected, runner.errors(wid)
    task1, task2 = runner.runs(wid)
    assert task1.cause.kind is StartKind.WORKFLOW_START
    assert_rule_cause(task2, status_key("workflow_name", "task_1"))
    assert "I am the 2nd task" in runner.log(task2)


@pytest.mark.parametrize("executor", ["thread", "process", "inline"])
def test_status_rules_start_after(runner: ExampleRunner) -> None:
    runner.upload("status_rules_start_after.py")
    wid = runner.engine.start_workflow_execution("my_workflow")
    execution = runner.engine.wait_for_workflow_execution(wid, timeout=60)
    assert execution.status is WorkflowStatus.SUCCESS
    expected = [("task_1", 1, TaskStatus.SUCCESS), ("task_2", 1, TaskStatus.SUCCESS)]
    assert runner.history(wid) == expected, runner.errors(wid)
    task1, task2 = runner.runs(wid)
    assert task1.end_date is not None and task2.begin_date is not None
    assert task2.begin_date >= task1.end_date


def test_status_rules_stop_task3_when_task1_and_task2_succeed(runner: ExampleRunner) -> None:
    runner.upload("status_rules_stop.py")
    wid = runner.engine.start_workflow_execution("my_workflow")
    execution = runner.engine.wait_for_workflow_execution(wid, timeout=60)
    runs = {te.task_name: te for te in runner.runs(wid)}
    assert {name: te.status for name, te in runs.items()} == {
        "task_1": TaskStatus.SUCCESS, "task_2": TaskStatus.SUCCESS, "task_3": TaskStatus.STOPPED,
    }
    # All three start with the execution; task_3 ends long before its 100 s sleep.
    assert all(te.cause.kind is StartKind.WORKFLOW_START for te in runs.values())
    ends = {name: te.end_date for name, te in runs.items()}
    begin3 = runs["task_3"].begin_date
    assert ends["task_1"] and ends["task_2"] and ends["task_3"] and begin3
    assert ends["task_3"] >= max(ends["task_1"], ends["task_2"])
    assert (ends["task_3"] - begin3).total_seconds() < 100
    # Nothing is alive and nothing can start again: the execution ends. A task
    # stopped by the workflow's own rule is part of the plan, not a failure.
    assert execution.status is WorkflowStatus.SUCCESS


@pytest.mark.parametrize("executor", ["thread", "process", "inline"])
def test_single_event_rules(runner: ExampleRunner) -> None:
    runner.upload("single_event_rules.py")
    wid = runner.engine.start_workflow_execution("quickstart_workflow")
    runner.wait_for_runs(wid, "task2", 1)
    expected = [("task1", 1, TaskStatus.SUCCESS), ("task2", 1, TaskStatus.SUCCESS)]
    assert runner.history(wid) == expected, runner.errors(wid)
    task1, task2 = runner.runs(wid)
    assert "I am the 1st task" in runner.log(task1)
    assert_rule_cause(task2, "key")
    [event] = runner.engine.list_events(key="key")
    assert (event.offset, event.value, event.workflow_execution_id) == (task2.cause.event_offset, "", wid)
    # Every task ran and none is alive: the execution ends SUCCESS by itself.
    assert runner.wait_for_end(wid).status is WorkflowStatus.SUCCESS


def test_custom_rules_num_condition_starts_consumer_once_numbers_reach_100(runner: ExampleRunner) -> None:
    engine = runner.engine
    runner.upload("custom_rules.py")
    wid = engine.start_workflow_execution("condition_workflow")
    [consumer, *_] = runner.wait_for_runs(wid, "consumer", 1, TaskStatus.SUCCESS)
    assert_rule_cause(consumer, "num_event")
    assert consumer.cause.rule_index == 0 and "NumCondition" in (consumer.cause.rule or "")
    assert "Got 100 records." in runner.log(consumer)

    # The offset that fired the rule is the one where the running sum first reaches 100.
    numbers = [
        e for e in engine.list_events(key="num_event")
        if e.workflow_execution_id == wid and e.offset is not None
        and e.offset <= (consumer.cause.event_offset or 0)
    ]
    assert numbers[-1].offset == consumer.cause.event_offset
    values = [int(e.value or "") for e in numbers]
    assert all(0 <= v <= 9 for v in values)
    assert sum(values) >= 100 > sum(values[:-1])

    runner.stop_and_settle(wid)
    producer_runs = runner.runs(wid, "producer")
    assert [(te.sequence_number, te.status) for te in producer_runs] == [(1, TaskStatus.STOPPED)]
    # The consumer is a short echo: each of its runs either finished or was stopped.
    consumers = runner.runs(wid, "consumer")
    assert consumers[0].id == consumer.id
    assert [te.sequence_number for te in consumers] == list(range(1, len(consumers) + 1))
    assert {te.status for te in consumers} <= {TaskStatus.SUCCESS, TaskStatus.STOPPED}
    assert runner.status(wid) is WorkflowStatus.STOPPED
