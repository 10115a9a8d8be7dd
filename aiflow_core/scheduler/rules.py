"""The pure decision core: from an event and a view of an execution to decisions.

Nothing here touches storage or time. The loop supplies contexts (state and
task statuses) and applies what comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from aiflow_core.model.action import TaskAction
from aiflow_core.model.context import Context
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import parse_task_status_event_key
from aiflow_core.model.rule import FiredRule, TaskRule
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.model.workflow import Workflow


@attrs.frozen(kw_only=True)
class TaskDecision:
    """Take ``action`` on ``task_name`` because ``rule`` fired."""

    task_name: str
    action: TaskAction
    rule: FiredRule


@attrs.frozen(kw_only=True)
class RuleError:
    """A condition raised while it was evaluated; it counts as not met."""

    task_name: str
    rule_index: int
    error: BaseException


class RuleIndex:
    """The rules of a workflow indexed by the event keys they expect."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._by_key: dict[str, list[str]] = {}
        for task_name, rules in workflow.rules.items():
            for rule in rules:
                for key in rule.condition.expect_event_keys:
                    tasks = self._by_key.setdefault(key, [])
                    if task_name not in tasks:
                        tasks.append(task_name)
        self.event_driven = _can_start_without_status_events(workflow)

    def tasks_expecting(self, key: str) -> list[str]:
        """Names of the tasks with a rule that expects ``key``."""
        return self._by_key.get(key, [])


def _can_start_without_status_events(workflow: Workflow) -> bool:
    """True if a task can still start once every task has finished.

    That is the case for periodic tasks and for START/RESTART rules that expect
    an event other than a status change of this workflow's tasks.
    """
    for name, task in workflow.tasks.items():
        if task.config.periodic_expression:
            return True
        for rule in workflow.rules.get(name, []):
            if rule.action is TaskAction.STOP:
                continue
            for key in rule.condition.expect_event_keys:
                parsed = parse_task_status_event_key(key)
                if parsed is None or parsed[0] != workflow.name:
                    return True
    return False


def decide(
    event: Event,
    index: RuleIndex,
    context_for: Callable[[str, int], Context],
    errors: list[RuleError] | None = None,
) -> list[TaskDecision]:
    """Evaluate the task rules that expect ``event`` and return what to do.

    Each task's rules are evaluated in order and the first that fires wins.
    A condition that raises is recorded in ``errors`` and counts as not met.
    """
    decisions: list[TaskDecision] = []
    for task_name in index.tasks_expecting(event.key):
        rules: list[TaskRule] = index.workflow.rules.get(task_name, [])
        for rule_index, rule in enumerate(rules):
            if not rule.condition.expects(event.key):
                continue
            try:
                action = rule.trigger(event, context_for(task_name, rule_index))
            except Exception as exc:
                if errors is not None:
                    errors.append(RuleError(task_name=task_name, rule_index=rule_index, error=exc))
                continue
            if action is not None:
                fired = FiredRule(index=rule_index, description=rule.condition.describe())
                decisions.append(TaskDecision(task_name=task_name, action=action, rule=fired))
                break
    return decisions


def execution_outcome(index: RuleIndex, latest: Mapping[str, TaskStatus]) -> WorkflowStatus | None:
    """The final status of an execution, or ``None`` while something can still happen.

    An execution goes on while a task is not final or while a task can still
    be started by a timer or a non-status event. Otherwise it is FAILED if the
    latest run of any task failed, else SUCCESS.
    """
    if any(not status.is_final for status in latest.values()):
        return None
    if index.event_driven:
        return None
    if any(status is TaskStatus.FAILED for status in latest.values()):
        return WorkflowStatus.FAILED
    return WorkflowStatus.SUCCESS
