"""The Quickstart workflow of the original documentation, on the thread and process executors.

task1 and task2 start with the execution; task3 starts once both succeeded and
sends the event 'key', which starts task4. Once all four ran, the execution
ends SUCCESS by itself, as in AIFlow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core import Engine
from aiflow_core.model.meta import StartKind
from aiflow_core.model.status import TaskStatus, WorkflowStatus

from .support import ExampleRunner, assert_rule_cause, status_key


def _run_quickstart(runner: ExampleRunner) -> None:
    engine = runner.engine
    runner.upload("quickstart.py")
    wid = engine.start_workflow_execution("quickstart_workflow")
    assert runner.wait_for_end(wid).status is WorkflowStatus.SUCCESS

    history = runner.history(wid)
    assert sorted(history) == [
        ("task1", 1, TaskStatus.SUCCESS), ("task2", 1, TaskStatus.SUCCESS),
        ("task3", 1, TaskStatus.SUCCESS), ("task4", 1, TaskStatus.SUCCESS),
    ]
    # task3 and task4 start strictly after what starts them.
    assert [name for name, _, _ in history][2:] == ["task3", "task4"]
    runs = {te.task_name: te for te in runner.runs(wid)}
    assert runs["task1"].cause.kind is StartKind.WORKFLOW_START
    assert runs["task2"].cause.kind is StartKind.WORKFLOW_START

    task3 = runs["task3"]
    upstream = {status_key("quickstart_workflow", t) for t in ("task1", "task2")}
    assert task3.cause.event_key in upstream
    assert_rule_cause(task3, task3.cause.event_key or "")
    rule = task3.cause.rule or ""
    assert "task1 SUCCESS" in rule and "task2 SUCCESS" in rule

    task4 = runs["task4"]
    assert_rule_cause(task4, "key")
    [event] = [e for e in engine.list_events(key="key") if e.offset == task4.cause.event_offset]
    assert event.value == "This is a custom message."
    assert event.workflow_execution_id == wid
    assert event.sender == "quickstart_workflow.task3"

    assert "I am the 1st task." in runner.log(runs["task1"])
    assert "Sending event with key: key" in runner.log(task3)
    assert "I am the 4th task." in runner.log(task4)

    # Ended: later events no longer reach it.
    engine.send_event("key", "again")
    runner.wait_until_processed()
    assert runner.history(wid) == history


@pytest.mark.parametrize("executor", ["thread", "process", "inline"])
def test_quickstart_workflow(runner: ExampleRunner) -> None:
    _run_quickstart(runner)


def test_quickstart_workflow_on_every_database(db_url: str, tmp_path: Path) -> None:
    with Engine(db_url=db_url, executor="thread") as engine:
        _run_quickstart(ExampleRunner(engine))
