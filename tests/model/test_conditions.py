"""The built-in conditions: AIFlow's signatures, today's keywords, and how they evaluate."""

from __future__ import annotations

from typing import Any

import pytest

from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context, RuleContext
from aiflow_core.model.event import Event
from aiflow_core.model.internal.conditions import (
    MeetAllCondition,
    MeetAnyCondition,
    SingleEventCondition,
    TaskStatusAllMetCondition,
    TaskStatusCondition,
)
from aiflow_core.model.internal.events import task_status_event_key
from aiflow_core.model.state import State, StateDescriptor, ValueState
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator


class Fixed(Condition):
    """Met or not met, whatever the event."""

    def __init__(self, key: str, met: bool) -> None:
        super().__init__([key])
        self.met = met

    def is_met(self, event: Event, context: Context) -> bool:
        return self.met


class Alternating(Condition):
    """Met on its 1st, 3rd, ... evaluation."""

    def __init__(self, key: str) -> None:
        super().__init__([key])
        self.calls = 0

    def is_met(self, event: Event, context: Context) -> bool:
        self.calls += 1
        return self.calls % 2 == 1


class OneValueState(ValueState):
    """A value state that is not backed by a cell."""

    def __init__(self) -> None:
        self.held: Any = None

    def value(self) -> Any:
        return self.held

    def update(self, value: Any) -> None:
        self.held = value

    def clear(self) -> None:
        self.held = None


class OneStateContext(Context):
    """A context, as AIFlow's own tests write one, that returns the same value state for any descriptor."""

    def __init__(self) -> None:
        self.state = OneValueState()

    def get_state(self, state_descriptor: StateDescriptor) -> State:
        return self.state


def test_task_status_condition_takes_aiflows_arguments_in_aiflows_order() -> None:
    positional = TaskStatusCondition("wf", "t1", "default", TaskStatus.SUCCESS)
    keywords = TaskStatusCondition(
        workflow_name="wf", task_name="t1", namespace="default", expect_status=TaskStatus.SUCCESS
    )
    for condition in (positional, keywords):
        assert (condition.workflow_name, condition.task_name, condition.namespace) == ("wf", "t1", "default")
        assert condition.expect_status is TaskStatus.SUCCESS
        assert condition.expect_event_keys == [task_status_event_key("wf", "t1")]


def test_task_status_condition_keeps_the_keywords_without_namespace() -> None:
    condition = TaskStatusCondition(task_name="t1", expect_status="FAILED", workflow_name="wf")
    assert condition.namespace is None
    assert condition.expect_status is TaskStatus.FAILED
    assert condition.expect_event_keys == [task_status_event_key("wf", "t1")]


def test_task_status_condition_without_expect_status_names_the_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match=r"expect_status.*workflow_name, task_name, namespace"):
        TaskStatusCondition("wf", "t1", "default")
    with pytest.raises(InvalidArgumentError, match="'DONE' is not a task status"):
        TaskStatusCondition("wf", "t1", "default", "DONE")


def test_task_status_condition_is_only_met_by_events_of_its_namespace() -> None:
    condition = TaskStatusCondition("wf", "t1", "team_a", TaskStatus.SUCCESS)
    key = task_status_event_key("wf", "t1")
    assert condition.is_met(Event(key, "SUCCESS", namespace="team_a"), RuleContext({}))
    assert not condition.is_met(Event(key, "SUCCESS", namespace="team_b"), RuleContext({}))
    assert not condition.is_met(Event(key, "FAILED", namespace="team_a"), RuleContext({}))
    anywhere = TaskStatusCondition("wf", "t1", expect_status=TaskStatus.SUCCESS)
    assert anywhere.is_met(Event(key, "SUCCESS", namespace="team_b"), RuleContext({}))


def test_live_status_is_read_only_for_the_conditions_own_workflow() -> None:
    with Workflow(name="wf", namespace="team_a") as workflow:
        BashOperator(name="t1", bash_command="true")
    statuses = {"t1": TaskStatus.SUCCESS}
    context = RuleContext({}, statuses.get, 7, workflow)
    assert TaskStatusCondition("wf", "t1", "team_a", TaskStatus.SUCCESS).live_value(context) is True
    assert TaskStatusCondition("wf", "t1", None, TaskStatus.FAILED).live_value(context) is False
    # Same task name in another workflow or namespace: not this execution's task.
    assert TaskStatusCondition("other", "t1", "team_a", TaskStatus.SUCCESS).live_value(context) is None
    assert TaskStatusCondition("wf", "t1", "team_b", TaskStatus.SUCCESS).live_value(context) is None


def test_meet_all_condition_takes_a_name_and_keeps_the_older_forms() -> None:
    a, b = SingleEventCondition("a"), SingleEventCondition("b")
    forms = [
        MeetAllCondition("both", [a, b]),
        MeetAllCondition(name="both", conditions=[a, b]),
        MeetAllCondition(conditions=[a, b]),
        MeetAllCondition([a, b]),
    ]
    assert [c.name for c in forms] == ["both", "both", None, None]
    assert all(c.conditions == [a, b] and c.expect_event_keys == ["a", "b"] for c in forms)
    with pytest.raises(InvalidArgumentError, match="needs conditions"):
        MeetAllCondition("both")
    with pytest.raises(InvalidArgumentError, match="name must be a non-empty string"):
        MeetAllCondition(3, [a])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="takes Condition objects"):
        MeetAllCondition("both", [a, "b"])  # type: ignore[list-item]


def test_meet_all_condition_remembers_results_in_one_value_state_as_aiflow() -> None:
    # The sequence AIFlow's unit tests pin, with a context that has a single value state.
    context = OneStateContext()
    condition = MeetAllCondition(name="c", conditions=[Fixed("1", True), Fixed("2", True)])
    assert not condition.is_met(Event("1", None), context)
    assert condition.is_met(Event("2", None), context)
    context.state.clear()
    condition = MeetAllCondition(name="c", conditions=[Fixed("2", True), Alternating("1")])
    assert not condition.is_met(Event("2", None), context)
    assert condition.is_met(Event("1", None), context)
    assert not condition.is_met(Event("1", None), context)


def test_meet_all_state_is_named_by_the_condition() -> None:
    cell: dict[str, Any] = {}
    condition = MeetAllCondition("gate", [SingleEventCondition("a"), SingleEventCondition("b")])
    assert not condition.is_met(Event("a", None), RuleContext(cell))
    assert cell == {"gate": [True, False]}
    assert condition.is_met(Event("b", None), RuleContext(cell))
    assert cell == {}


def test_meet_any_condition_takes_conditions_as_aiflow() -> None:
    condition = MeetAnyCondition(conditions=[Fixed("1", True), Fixed("2", False)])
    assert condition.is_met(Event("1", None), None)  # type: ignore[arg-type]
    assert not condition.is_met(Event("2", None), None)  # type: ignore[arg-type]
    assert SingleEventCondition(expect_event_key="a").is_met(None, None)  # type: ignore[arg-type]


def test_task_status_all_met_condition_reads_every_listed_task() -> None:
    statuses: dict[str, TaskStatus] = {"t1": TaskStatus.SUCCESS}
    condition = TaskStatusAllMetCondition(condition_list=[
        TaskStatusCondition("wf", "t1", "default", TaskStatus.SUCCESS),
        TaskStatusCondition("wf", "t2", "default", TaskStatus.SUCCESS),
    ])
    assert condition.expect_event_keys == [task_status_event_key("wf", t) for t in ("t1", "t2")]
    event = Event(task_status_event_key("wf", "t1"), "SUCCESS")
    assert not condition.is_met(event, RuleContext({}, statuses.get, 1))
    statuses["t2"] = TaskStatus.SUCCESS
    assert condition.is_met(event, RuleContext({}, statuses.get, 1))
    with pytest.raises(InvalidArgumentError, match="TaskStatusCondition objects"):
        TaskStatusAllMetCondition([SingleEventCondition("a")])  # type: ignore[list-item]


def test_the_event_judges_the_task_it_reports_on() -> None:
    statuses = {"t1": TaskStatus.RUNNING, "t2": TaskStatus.SUCCESS}
    condition = TaskStatusAllMetCondition([
        TaskStatusCondition("wf", "t1", None, TaskStatus.SUCCESS),
        TaskStatusCondition("wf", "t2", None, TaskStatus.SUCCESS),
    ])
    context = RuleContext({}, statuses.get, 1)
    assert condition.is_met(Event(task_status_event_key("wf", "t1"), "SUCCESS"), context)
    assert not condition.is_met(Event(task_status_event_key("wf", "t2"), "SUCCESS"), context)
    assert condition.live_value(context) is False


def test_action_on_task_status_builds_aiflows_condition() -> None:
    with Workflow(name="workflow") as workflow:
        task_1 = BashOperator(name="task_1", bash_command="true")
        task_2 = BashOperator(name="task_2", bash_command="true")
        task_3 = BashOperator(name="task_3", bash_command="true")
        task_3.action_on_task_status(action=TaskAction.START,
                                     upstream_task_status_dict={task_1: TaskStatus.SUCCESS,
                                                                task_2: TaskStatus.FAILED})
    [rule] = workflow.rules["task_3"]
    assert isinstance(rule.condition, TaskStatusAllMetCondition)
    assert [(c.workflow_name, c.task_name, c.namespace, c.expect_status) for c in rule.condition.condition_list] == [
        ("workflow", "task_1", "default", TaskStatus.SUCCESS), ("workflow", "task_2", "default", TaskStatus.FAILED),
    ]
