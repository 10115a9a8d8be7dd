"""Operators: templates of tasks. An instantiated operator is a task of a workflow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context
from aiflow_core.model.current import DeclaringWorkflow, WorkflowContextManager
from aiflow_core.model.names import check_name
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.task_config import TaskConfig


class Operator:
    """A task of a workflow; create it inside ``with Workflow(...)``.

    ``kwargs`` are the operator's extended parameters; the scheduling ones
    (``periodic_expression``, ``retries``, ``retry_delay``,
    ``retry_exponential_backoff``, ``max_retry_delay``, ``execution_timeout``)
    are validated into :attr:`config`.
    """

    def __init__(self, name: str, **kwargs: Any) -> None:
        check_name("task", name)
        workflow = WorkflowContextManager.get_current_workflow()
        if workflow is None:
            raise InvalidWorkflowError(
                f"operator {name!r} was created outside a workflow; create tasks inside "
                "`with Workflow(name=...):`"
            )
        self.name = name
        self.kwargs = dict(kwargs)
        self.config = TaskConfig.from_kwargs(name, kwargs)
        self.workflow: DeclaringWorkflow = workflow
        workflow.add_task(self)

    @property
    def task_name(self) -> str:
        """The task's name (alias of ``name``)."""
        return self.name

    def action_on_condition(self, action: TaskAction, condition: Condition) -> None:
        """Take ``action`` on this task whenever ``condition`` is met."""
        self.workflow.action_on_condition(self.name, action, condition)

    def action_on_event_received(self, action: TaskAction, event_key: str) -> None:
        """Take ``action`` on this task whenever an event with ``event_key`` arrives."""
        self.workflow.action_on_event_received(self.name, event_key, action)

    def action_on_task_status(
        self, action: TaskAction, upstream_task_status_dict: dict[Operator, TaskStatus]
    ) -> None:
        """Take ``action`` once every upstream task has reached its given status."""
        self.workflow.action_on_task_status(self.name, action, upstream_task_status_dict)

    def start_after(self, tasks: Operator | Sequence[Operator]) -> None:
        """Start this task after every task of ``tasks`` succeeded."""
        upstream = [tasks] if isinstance(tasks, Operator) else list(tasks)
        if not upstream:
            raise InvalidWorkflowError(f"task {self.name!r}: start_after needs at least one task")
        self.action_on_task_status(TaskAction.START, dict.fromkeys(upstream, TaskStatus.SUCCESS))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class AIFlowOperator(Operator):
    """The native operator interface: ``start`` the work, ``await_termination``, ``stop``.

    The executor calls ``start(context)`` then ``await_termination(context)``;
    ``stop(context)`` may be called from another thread to end the work. A
    raised exception fails the attempt.
    """

    def start(self, context: Context) -> Any:
        """Start the work of a task execution."""
        raise NotImplementedError(f"{type(self).__name__} must implement start(context)")

    def stop(self, context: Context) -> None:
        """Stop the work started by ``start``; the default does nothing."""

    def await_termination(self, context: Context, timeout: float | None = None) -> None:
        """Wait for the work to end; the default returns at once."""

    def get_metrics(self, context: Context) -> dict[str, Any]:
        """Return metrics of the task execution; the default has none."""
        return {}
