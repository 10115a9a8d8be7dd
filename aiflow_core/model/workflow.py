"""Workflows: named sets of tasks and the rules between them."""

from __future__ import annotations

from typing import Any

from aiflow_core.errors import InvalidArgumentError, InvalidWorkflowError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.current import WorkflowContextManager
from aiflow_core.model.internal.conditions import (
    SingleEventCondition,
    TaskStatusAllMetCondition,
    TaskStatusCondition,
    walk_conditions,
)
from aiflow_core.model.names import check_name
from aiflow_core.model.operator import Operator
from aiflow_core.model.rule import TaskRule
from aiflow_core.model.status import TaskStatus


class Workflow:
    """A workflow: tasks (operators) and task rules, declared in a ``with`` block.

    ``namespace`` isolates workflows and events (default ``"default"``); extra
    keyword arguments are kept as ``properties``.

    An execution ends by itself once every task has run and none is alive, as
    in AIFlow. ``keep_open=True`` keeps each execution RUNNING until it is
    stopped instead, so that events arriving after its tasks ended still start
    them again (executions with a periodic task always stay open).
    """

    def __init__(self, name: str, namespace: str = "default", keep_open: bool = False, **kwargs: Any) -> None:
        check_name("workflow", name)
        check_name("namespace", namespace)
        if not isinstance(keep_open, bool):
            raise InvalidArgumentError(f"keep_open must be True or False, got {keep_open!r}")
        self.name = name
        self.namespace = namespace
        self.keep_open = keep_open
        self.properties: dict[str, Any] = dict(kwargs)
        #: Base name of the file that defined the workflow (set when it is loaded from a file).
        self.source_file: str | None = None
        self.tasks: dict[str, Operator] = {}
        self.rules: dict[str, list[TaskRule]] = {}

    def __enter__(self) -> Workflow:
        WorkflowContextManager.push_context_managed_workflow(self)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        WorkflowContextManager.pop_context_managed_workflow()
        if exc_type is None:
            self.validate()

    def validate(self) -> None:
        """Raise :class:`InvalidWorkflowError` if a rule waits for the status of a task this workflow lacks.

        Rules may name tasks declared later in the ``with`` block, so this runs
        when the block closes and again when a workflow file is loaded.
        Conditions on the tasks of other workflows are not checked.
        """
        for task_name, rules in self.rules.items():
            for rule in rules:
                for condition in walk_conditions(rule.condition):
                    if (
                        isinstance(condition, TaskStatusCondition)
                        and condition.is_about(self)
                        and condition.task_name not in self.tasks
                    ):
                        raise InvalidWorkflowError(
                            f"a rule of task {task_name!r} waits for the status of task "
                            f"{condition.task_name!r}, but workflow {self.name!r} has no such task; "
                            f"its tasks: {sorted(self.tasks)}"
                        )

    def add_task(self, task: Operator) -> None:
        """Add ``task``; task names are unique within a workflow."""
        if task.name in self.tasks:
            raise InvalidWorkflowError(
                f"workflow {self.name!r} already has a task named {task.name!r}; "
                "task names must be unique within a workflow"
            )
        self.tasks[task.name] = task

    def _task(self, task_name: str) -> Operator:
        task = self.tasks.get(task_name)
        if task is None:
            raise InvalidWorkflowError(
                f"workflow {self.name!r} has no task {task_name!r}; tasks: {sorted(self.tasks)}"
            )
        return task

    def add_rule(self, task_name: str, rule: TaskRule) -> None:
        """Append ``rule`` to the rules of ``task_name`` (evaluated in order)."""
        self._task(task_name)
        self.rules.setdefault(task_name, []).append(rule)

    def action_on_condition(
        self, task_name: str, action: TaskAction, condition: Condition
    ) -> None:
        """Take ``action`` on ``task_name`` whenever ``condition`` is met."""
        self.add_rule(task_name, TaskRule(condition=condition, action=action))

    def action_on_event_received(
        self, task_name: str, event_key: str, action: TaskAction
    ) -> None:
        """Take ``action`` on ``task_name`` whenever an event with ``event_key`` arrives."""
        self.action_on_condition(task_name, action, SingleEventCondition(event_key))

    def action_on_task_status(
        self,
        task_name: str,
        action: TaskAction,
        upstream_task_status_dict: dict[Operator, TaskStatus],
    ) -> None:
        """Take ``action`` once every upstream task has reached its given status."""
        if not upstream_task_status_dict:
            raise InvalidWorkflowError(
                f"task {task_name!r}: upstream_task_status_dict must name at least one task"
            )
        children: list[TaskStatusCondition] = []
        for upstream, status in upstream_task_status_dict.items():
            if not isinstance(upstream, Operator):
                raise InvalidWorkflowError(
                    f"task {task_name!r}: upstream {upstream!r} is not a task (operator)"
                )
            if upstream.workflow is not self or self.tasks.get(upstream.name) is not upstream:
                raise InvalidWorkflowError(
                    f"task {task_name!r} of workflow {self.name!r} cannot depend on task "
                    f"{upstream.name!r} of workflow {upstream.workflow.name!r}; "
                    "rules may only refer to tasks of the same workflow"
                )
            children.append(TaskStatusCondition(self.name, upstream.name, self.namespace, status))
        self.action_on_condition(task_name, action, TaskStatusAllMetCondition(condition_list=children))

    def starting_tasks(self) -> list[str]:
        """Names of the tasks that start with the execution: those with no START rule.

        Tasks whose only rules STOP or RESTART them start too, as in AIFlow.
        """
        return [
            name for name in self.tasks if not any(r.action is TaskAction.START for r in self.rules.get(name, []))
        ]

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, namespace={self.namespace!r}, tasks={list(self.tasks)})"
