"""The pure decision core over plain inputs: a workflow, an event, contexts; no store, no clock."""

from __future__ import annotations

from typing import Any

from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context, RuleContext
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import task_status_event_key
from aiflow_core.model.state import ValueStateDescriptor
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator
from aiflow_core.scheduler.rules import RuleError, RuleIndex, decide


class Raising(Condition):
    """A user condition with a bug."""

    def is_met(self, event: Event, context: Context) -> bool:
        raise ZeroDivisionError("user bug")


class ValueIs(Condition):
    """Met when the event's value is ``value``."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__([key])
        self.value = value

    def is_met(self, event: Event, context: Context) -> bool:
        return event.value == self.value


class EveryOther(Condition):
    """Met on every second event of its key, counted in rule state."""

    def __init__(self, key: str) -> None:
        super().__init__([key])

    def is_met(self, event: Event, context: Context) -> bool:
        count = context.get_state(ValueStateDescriptor("count"))
        seen = (count.value() or 0) + 1
        count.update(seen)
        return seen % 2 == 0


def _contexts() -> tuple[dict[tuple[str, int], dict[str, Any]], Any]:
    cells: dict[tuple[str, int], dict[str, Any]] = {}

    def context_for(task: str, rule_index: int) -> Context:
        return RuleContext(cells.setdefault((task, rule_index), {}), lambda name: None, 1)

    return cells, context_for


def _actions(event: Event, index: RuleIndex, errors: list[RuleError] | None = None) -> list[tuple[str, str, int]]:
    _, context_for = _contexts()
    return [(d.task_name, d.action.value, d.rule.index) for d in decide(event, index, context_for, errors)]


def test_only_tasks_expecting_the_key_decide_and_the_first_rule_that_fires_wins() -> None:
    with Workflow(name="wf") as workflow:
        loader = BashOperator(name="loader", bash_command="true")
        trainer = BashOperator(name="trainer", bash_command="true")
        BashOperator(name="bystander", bash_command="true")
        trainer.action_on_condition(TaskAction.STOP, ValueIs("data", "stop"))
        trainer.action_on_condition(TaskAction.RESTART, ValueIs("data", "new"))
        trainer.action_on_event_received(TaskAction.START, "data")
        loader.action_on_event_received(TaskAction.START, "data")
    index = RuleIndex(workflow)
    assert sorted(index.tasks_expecting("data")) == ["loader", "trainer"]
    assert index.tasks_expecting("other") == []

    assert sorted(_actions(Event("data", "new"), index)) == [("loader", "START", 0), ("trainer", "RESTART", 1)]
    assert sorted(_actions(Event("data", "stop"), index)) == [("loader", "START", 0), ("trainer", "STOP", 0)]
    assert sorted(_actions(Event("data", "x"), index)) == [("loader", "START", 0), ("trainer", "START", 2)]
    assert _actions(Event("other", "new"), index) == []


def test_a_raising_condition_is_recorded_and_counts_as_not_met() -> None:
    with Workflow(name="wf") as workflow:
        task = BashOperator(name="t", bash_command="true")
        task.action_on_condition(TaskAction.STOP, Raising(["go"]))
        task.action_on_event_received(TaskAction.START, "go")
    errors: list[RuleError] = []
    assert _actions(Event("go"), RuleIndex(workflow), errors) == [("t", "START", 1)]
    assert [(e.task_name, e.rule_index, type(e.error)) for e in errors] == [("t", 0, ZeroDivisionError)]
    assert _actions(Event("go"), RuleIndex(workflow)) == [("t", "START", 1)]  # without a list: ignored alike


def test_status_rules_decide_on_the_status_event_and_rule_state_lives_in_the_context() -> None:
    with Workflow(name="wf") as workflow:
        first = BashOperator(name="first", bash_command="true")
        second = BashOperator(name="second", bash_command="true")
        counted = BashOperator(name="counted", bash_command="true")
        second.start_after(first)
        counted.action_on_condition(TaskAction.START, EveryOther("tick"))
    index = RuleIndex(workflow)
    done = Event(task_status_event_key("wf", "first"), TaskStatus.SUCCESS.value)
    failed = Event(task_status_event_key("wf", "first"), TaskStatus.FAILED.value)
    assert _actions(done, index) == [("second", "START", 0)]
    assert _actions(failed, index) == []

    cells, context_for = _contexts()
    fired = [[d.task_name for d in decide(Event("tick"), index, context_for)] for _ in range(4)]
    assert fired == [[], ["counted"], [], ["counted"]]
    assert cells[("counted", 0)] == {"count": 4}  # one cell per (task, rule), written through the context

