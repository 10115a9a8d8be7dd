"""The pure decision core: from an event and a view of an execution to decisions.

Nothing here touches storage or time. The loop supplies contexts (state and
task statuses) and applies what comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

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


@attrs.frozen(kw_only=True)
class RuleTrace:
    """How one task rule met an event: whether its condition held, what it raised, or which earlier rule fired.

    ``met`` is None when the rule was not evaluated (``skipped_by`` names the
    rule of the task that fired first) or raised (``error``).
    """

    task_name: str
    rule_index: int
    met: bool | None
    error: BaseException | None = None
    skipped_by: int | None = None


class RuleIndex:
    """The rules of a workflow indexed by the event keys they expect.

    It also knows what decides when an execution of the workflow can end: its
    periodic tasks and ``keep_open`` option keep every execution open, and for
    each task the keys its START and RESTART rules wait for, split into status
    keys of this workflow's own tasks and every other key.
    """

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._by_key: dict[str, list[str]] = {}
        for task_name, rules in workflow.rules.items():
            for rule in rules:
                for key in rule.condition.expect_event_keys:
                    tasks = self._by_key.setdefault(key, [])
                    if task_name not in tasks:
                        tasks.append(task_name)
        #: True if executions go on until they are stopped (a periodic task, or the workflow's ``keep_open``).
        self.stays_open = bool(getattr(workflow, "keep_open", False)) or any(
            task.config.periodic_expression for task in workflow.tasks.values()
        )
        #: Tasks with a START/RESTART rule that waits for a key other than a status of this workflow's tasks.
        self.started_from_outside: frozenset[str] = frozenset()
        #: For each task, the tasks of this workflow whose status changes its START/RESTART rules wait for.
        self.started_by_status_of: dict[str, frozenset[str]] = {}
        self._index_start_keys(workflow)

    def _index_start_keys(self, workflow: Workflow) -> None:
        outside: set[str] = set()
        for name in workflow.tasks:
            upstream: set[str] = set()
            for rule in workflow.rules.get(name, []):
                if rule.action is TaskAction.STOP:
                    continue
                for key in rule.condition.expect_event_keys:
                    parsed = parse_task_status_event_key(key)
                    if parsed is not None and parsed[0] == workflow.name and parsed[1] in workflow.tasks:
                        upstream.add(parsed[1])
                    else:
                        outside.add(name)
            self.started_by_status_of[name] = frozenset(upstream)
        self.started_from_outside = frozenset(outside)

    def tasks_expecting(self, key: str) -> list[str]:
        """Names of the tasks with a rule that expects ``key``."""
        return self._by_key.get(key, [])

    def can_still_start(self, never_ran: Collection[str]) -> bool:
        """True if a task of ``never_ran`` can still start once no task is alive.

        Such a task can start on an event from outside the execution (a user
        event, a status of another workflow's task), or on a status change of
        a task that can itself still start. Status changes of tasks that have
        ended can no longer come, so tasks waiting only for those do not keep
        the execution open (AIFlow #367 kept it open forever).
        """
        can_start = {name for name in never_ran if name in self.started_from_outside}
        waiting = set(never_ran) - can_start
        newly = set(can_start)
        while newly and waiting:
            newly = {name for name in waiting if self.started_by_status_of.get(name, frozenset()) & can_start}
            can_start |= newly
            waiting -= newly
        return bool(can_start)


def decide(
    event: Event,
    index: RuleIndex,
    context_for: Callable[[str, int], Context],
    errors: list[RuleError] | None = None,
    trace: list[RuleTrace] | None = None,
) -> list[TaskDecision]:
    """Evaluate the task rules that expect ``event`` and return what to do.

    Each task's rules are evaluated in order and the first that fires wins.
    A condition that raises is recorded in ``errors`` and counts as not met.
    With ``trace``, every rule that expects the event is noted in it, the
    ones after a rule that fired as skipped.
    """
    decisions: list[TaskDecision] = []
    for task_name in index.tasks_expecting(event.key):
        rules: list[TaskRule] = index.workflow.rules.get(task_name, [])
        fired: int | None = None
        for rule_index, rule in enumerate(rules):
            if not rule.condition.expects(event.key):
                continue
            if fired is not None:
                assert trace is not None
                trace.append(RuleTrace(task_name=task_name, rule_index=rule_index, met=None, skipped_by=fired))
                continue
            try:
                action = rule.trigger(event, context_for(task_name, rule_index))
            except Exception as exc:
                if errors is not None:
                    errors.append(RuleError(task_name=task_name, rule_index=rule_index, error=exc))
                if trace is not None:
                    trace.append(RuleTrace(task_name=task_name, rule_index=rule_index, met=None, error=exc))
                continue
            if trace is not None:
                trace.append(RuleTrace(task_name=task_name, rule_index=rule_index, met=action is not None))
            if action is not None:
                fired_rule = FiredRule(index=rule_index, description=rule.condition.describe())
                decisions.append(TaskDecision(task_name=task_name, action=action, rule=fired_rule))
                if trace is None:
                    break
                fired = rule_index
    return decisions


def execution_outcome(
    index: RuleIndex, latest: Mapping[str, TaskStatus], stopped_by_user: Collection[str] = ()
) -> WorkflowStatus | None:
    """The final status of an execution, or ``None`` while it goes on.

    As AIFlow's scheduler decides it: an execution with a periodic task (or
    of a workflow declared with ``keep_open=True``) goes on until it is
    stopped. Any other ends once no task is alive or retrying and every task
    has run at least once, or the tasks that never ran can never start any
    more. It is FAILED if the latest run of a task failed, STOPPED if the
    latest run of a task named in ``stopped_by_user`` was stopped (a stop by
    the workflow's own rule is not a user's), else SUCCESS.

    ``latest`` maps each task that ran to the status of its latest run.
    """
    if index.stays_open or any(not status.is_final for status in latest.values()):
        return None
    never_ran = [name for name in index.workflow.tasks if name not in latest]
    if never_ran and index.can_still_start(never_ran):
        return None
    if any(status is TaskStatus.FAILED for status in latest.values()):
        return WorkflowStatus.FAILED
    if any(latest.get(name) is TaskStatus.STOPPED for name in stopped_by_user):
        return WorkflowStatus.STOPPED
    return WorkflowStatus.SUCCESS
