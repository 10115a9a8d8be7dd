"""The workflow being declared: the one of the enclosing ``with Workflow(...)`` block."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.status import TaskStatus


class DeclaringWorkflow(Protocol):
    """What a task needs of the workflow it is declared in (:class:`~aiflow_core.model.workflow.Workflow`)."""

    name: str

    def add_task(self, task: Any) -> None:
        """Add ``task`` (an operator) to the workflow."""

    def action_on_condition(self, task_name: str, action: TaskAction, condition: Condition) -> None:
        """Take ``action`` on ``task_name`` whenever ``condition`` is met."""

    def action_on_event_received(self, task_name: str, event_key: str, action: TaskAction) -> None:
        """Take ``action`` on ``task_name`` whenever an event with ``event_key`` arrives."""

    def action_on_task_status(
        self, task_name: str, action: TaskAction, upstream_task_status_dict: dict[Any, TaskStatus]
    ) -> None:
        """Take ``action`` once every upstream task has reached its given status."""


class WorkflowContextManager:
    """Keeps the workflow of the enclosing ``with`` block, so operators can find it.

    Nesting ``with Workflow`` blocks is refused: a task belongs to exactly one
    workflow.
    """

    _local = threading.local()

    @classmethod
    def get_current_workflow(cls) -> DeclaringWorkflow | None:
        """Return the workflow of the enclosing ``with`` block, or ``None``."""
        return getattr(cls._local, "workflow", None)

    @classmethod
    def push_context_managed_workflow(cls, workflow: DeclaringWorkflow) -> None:
        """Enter ``workflow``'s block; refuses nesting."""
        current = cls.get_current_workflow()
        if current is not None:
            raise InvalidWorkflowError(
                f"workflow {workflow.name!r} is declared inside workflow {current.name!r}; "
                "workflows cannot be nested"
            )
        cls._local.workflow = workflow

    @classmethod
    def pop_context_managed_workflow(cls) -> DeclaringWorkflow | None:
        """Leave the current block and return its workflow."""
        current = cls.get_current_workflow()
        cls._local.workflow = None
        return current
