"""When an execution ends, decided over plain inputs: a workflow and the statuses of its latest runs."""

from __future__ import annotations

import pytest

from aiflow_core.model.action import TaskAction
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator
from aiflow_core.scheduler.rules import RuleIndex, execution_outcome

S, F, X, R = TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.STOPPED, TaskStatus.RUNNING


def _chain(keep_open: bool = False) -> RuleIndex:
    """a -> b -> c by status; d starts on a user event; e is RESTARTed by one; f is STOPped by one."""
    with Workflow(name="w", keep_open=keep_open) as w:
        a, b, c, d, e, f = (BashOperator(name=n, bash_command="true") for n in "abcdef")
        b.start_after(a)
        c.start_after(b)
        d.action_on_event_received(TaskAction.START, "go")
        e.action_on_event_received(TaskAction.RESTART, "again")
        f.action_on_condition(TaskAction.STOP, SingleEventCondition("halt"))
    return RuleIndex(w)


def test_tasks_without_a_start_rule_start_with_the_execution() -> None:
    assert _chain().workflow.starting_tasks() == ["a", "e", "f"]


@pytest.mark.parametrize(
    ("latest", "stopped_by_user", "outcome"),
    [
        ({"a": S, "b": S, "c": S, "d": S, "e": S, "f": S}, (), WorkflowStatus.SUCCESS),
        ({"a": S, "b": S, "c": R, "d": S, "e": S, "f": S}, (), None),  # c is alive
        ({"a": S, "b": S, "c": S, "e": S, "f": S}, (), None),  # d can still start on a user event
        ({"a": F, "d": S, "e": S, "f": S}, (), WorkflowStatus.FAILED),  # b, c can never start (AIFlow #367)
        ({"a": S, "b": F, "d": S, "e": S, "f": S}, (), WorkflowStatus.FAILED),
        ({"a": S, "b": S, "c": S, "d": S, "e": S, "f": X}, (), WorkflowStatus.SUCCESS),  # f stopped by its rule
        ({"a": S, "b": S, "c": S, "d": S, "e": S, "f": X}, ("f",), WorkflowStatus.STOPPED),
        ({"a": S, "b": F, "d": S, "e": S, "f": X}, ("f",), WorkflowStatus.FAILED),  # FAILED comes first
        ({"a": S, "b": S, "c": S, "d": S, "e": S, "f": S}, ("f",), WorkflowStatus.SUCCESS),  # f's run did not stop
    ],
)
def test_outcome(
    latest: dict[str, TaskStatus], stopped_by_user: tuple[str, ...], outcome: WorkflowStatus | None
) -> None:
    assert execution_outcome(_chain(), latest, stopped_by_user) is outcome


def test_keep_open_and_periodic_executions_never_end_by_themselves() -> None:
    done = {name: S for name in "abcdef"}
    assert execution_outcome(_chain(keep_open=True), done) is None
    with Workflow(name="p") as w:
        BashOperator(name="tick", bash_command="true", periodic_expression="interval@0 1 0 0")
    assert execution_outcome(RuleIndex(w), {"tick": S}) is None


def test_a_task_waiting_for_a_task_that_can_still_start_holds_the_execution() -> None:
    with Workflow(name="w") as w:
        first = BashOperator(name="first", bash_command="true")
        second = BashOperator(name="second", bash_command="true")
        third = BashOperator(name="third", bash_command="true")
        first.action_on_event_received(TaskAction.START, "go")
        second.start_after(first)
        third.start_after(second)
    index = RuleIndex(w)
    assert not index.can_still_start([])
    assert index.can_still_start(["third"]) is False  # nothing it waits for can run again
    assert index.can_still_start(["second", "third"]) is False
    assert index.can_still_start(["first", "second", "third"]) is True
    assert execution_outcome(index, {}) is None
    # Another workflow's status is an event from outside: it can always still come.
    with Workflow(name="w2") as w2:
        waiting = BashOperator(name="waiting", bash_command="true")
        waiting.action_on_condition(TaskAction.START, SingleEventCondition("aiflow.task_status/other/task"))
    assert execution_outcome(RuleIndex(w2), {}) is None
