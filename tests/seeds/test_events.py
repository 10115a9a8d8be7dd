"""Concepts > Events examples of the original documentation: sending and listening."""

from __future__ import annotations

import pytest

from aiflow_core.model.status import TaskStatus, WorkflowStatus

from .support import ExampleRunner, assert_rule_cause


@pytest.mark.parametrize("executor", ["thread", "process", "inline"])
def test_sending_events_starts_task2(runner: ExampleRunner) -> None:
    engine = runner.engine
    runner.upload("sending_events.py")
    wid = engine.start_workflow_execution("workflow")
    runner.wait_for_runs(wid, "task2", 1)
    expected = [("task1", 1, TaskStatus.SUCCESS), ("task2", 1, TaskStatus.SUCCESS)]
    assert runner.history(wid) == expected, runner.errors(wid)
    task2 = runner.runs(wid, "task2")[0]
    assert_rule_cause(task2, "key")
    [event] = engine.list_events(key="key")
    assert event.offset == task2.cause.event_offset
    assert event.value == "This is a custom message."
    # Sent from a task: scoped to that task's execution and namespace.
    assert (event.namespace, event.workflow_execution_id) == ("default", wid)
    assert runner.wait_for_end(wid).status is WorkflowStatus.SUCCESS


@pytest.mark.parametrize("executor", ["thread", "process", "inline"])
def test_events_from_one_execution_do_not_start_tasks_of_another(runner: ExampleRunner) -> None:
    engine = runner.engine
    runner.upload("sending_events.py")
    first = engine.start_workflow_execution("workflow")
    runner.wait_for_runs(first, "task2", 1)
    second = engine.start_workflow_execution("workflow")
    runner.wait_for_runs(second, "task2", 1)
    runner.wait_until_processed()
    for wid in (first, second):
        expected = [("task1", 1, TaskStatus.SUCCESS), ("task2", 1, TaskStatus.SUCCESS)]
        assert runner.history(wid) == expected, runner.errors(wid)
    offsets = {runner.runs(wid, "task2")[0].cause.event_offset for wid in (first, second)}
    assert offsets == {e.offset for e in engine.list_events(key="key")}
    assert len(offsets) == 2


def test_listening_events_counter(runner: ExampleRunner) -> None:
    engine = runner.engine
    runner.upload("listening_events.py")
    wid = engine.start_workflow_execution("listening_workflow")
    runner.wait_for_runs(wid, "listen", 1)
    runner.wait_for_runs(wid, "produce", 1)
    expected = [("listen", 1, TaskStatus.SUCCESS), ("produce", 1, TaskStatus.SUCCESS)]
    assert sorted(runner.history(wid)) == expected, runner.errors(wid)
    assert_rule_cause(runner.runs(wid, "produce")[0], "listener_ready")
    [counted] = engine.list_events(key="counted")
    assert counted.value == "3"
    assert [e.value for e in engine.list_events(key="expect_key")] == ["0", "1", "2"]
    assert runner.wait_for_end(wid).status is WorkflowStatus.SUCCESS
