"""The workflow being declared: the one of the enclosing ``with Workflow(...)`` block."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from aiflow_core.errors import InvalidWorkflowError

if TYPE_CHECKING:
    from aiflow_core.model.workflow import Workflow


class WorkflowContextManager:
    """Keeps the workflow of the enclosing ``with`` block, so operators can find it.

    Nesting ``with Workflow`` blocks is refused: a task belongs to exactly one
    workflow.
    """

    _local = threading.local()

    @classmethod
    def get_current_workflow(cls) -> Workflow | None:
        """Return the workflow of the enclosing ``with`` block, or ``None``."""
        return getattr(cls._local, "workflow", None)

    @classmethod
    def push_context_managed_workflow(cls, workflow: Workflow) -> None:
        """Enter ``workflow``'s block; refuses nesting."""
        current = cls.get_current_workflow()
        if current is not None:
            raise InvalidWorkflowError(
                f"workflow {workflow.name!r} is declared inside workflow {current.name!r}; "
                "workflows cannot be nested"
            )
        cls._local.workflow = workflow

    @classmethod
    def pop_context_managed_workflow(cls) -> Workflow | None:
        """Leave the current block and return its workflow."""
        current = cls.get_current_workflow()
        cls._local.workflow = None
        return current
