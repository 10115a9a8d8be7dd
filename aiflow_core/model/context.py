"""The context in which conditions are evaluated."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, Protocol

from aiflow_core.model.state import State, StateDescriptor, make_state
from aiflow_core.model.status import TaskStatus


class WorkflowIdentity(Protocol):
    """What a context tells of the workflow whose rules are evaluated (a :class:`Workflow` is one)."""

    @property
    def name(self) -> str:
        """The workflow's name."""

    @property
    def namespace(self) -> str:
        """The workflow's namespace."""


class Context:
    """What a condition can see while it is evaluated.

    ``get_state`` returns the condition's own state (kept per workflow
    execution for task rules, per workflow for workflow triggers);
    ``get_task_status`` returns the status of the latest execution of a task of
    the same workflow execution, or ``None`` when the task never ran (and
    always ``None`` for workflow triggers, which belong to no execution).
    """

    def get_state(self, state_descriptor: StateDescriptor) -> State:
        """Return the state described by ``state_descriptor``."""
        raise NotImplementedError

    def get_task_status(self, task_name: str) -> TaskStatus | None:
        """Return the status of the latest execution of ``task_name``."""
        raise NotImplementedError

    @property
    def workflow_execution_id(self) -> int | None:
        """The id of the execution whose rules are evaluated, or ``None`` for triggers."""
        return None

    @property
    def workflow(self) -> WorkflowIdentity | None:
        """The workflow whose rules are evaluated, when known (as AIFlow's ``context.workflow``)."""
        return None


class RuleContext(Context):
    """A context over a state cell and a task-status lookup.

    ``cell`` maps state names to values; the scheduler loads it from the store
    and writes it back in the transaction that records the decision.
    ``workflow`` is the workflow whose rules are evaluated, when known.
    """

    def __init__(
        self,
        cell: MutableMapping[str, Any],
        task_status: Callable[[str], TaskStatus | None] | None = None,
        workflow_execution_id: int | None = None,
        workflow: WorkflowIdentity | None = None,
    ) -> None:
        self._cell = cell
        self._task_status = task_status
        self._execution_id = workflow_execution_id
        self._workflow = workflow

    def get_state(self, state_descriptor: StateDescriptor) -> State:
        """Return the state described by ``state_descriptor``."""
        return make_state(state_descriptor, self._cell)

    def get_task_status(self, task_name: str) -> TaskStatus | None:
        """Return the latest status of ``task_name`` in this execution."""
        return None if self._task_status is None else self._task_status(task_name)

    @property
    def workflow_execution_id(self) -> int | None:
        """The id of the execution whose rules are evaluated, or ``None``."""
        return self._execution_id

    @property
    def workflow(self) -> WorkflowIdentity | None:
        """The workflow whose rules are evaluated, or ``None``."""
        return self._workflow

    def scoped(self, prefix: str) -> RuleContext:
        """Return a context whose state names are prefixed with ``prefix``.

        Composite conditions give each child its own scope so that two children
        using the same state name do not share it.
        """
        return RuleContext(
            _PrefixedCell(self._cell, prefix), self._task_status, self._execution_id, self._workflow
        )


class _PrefixedCell(MutableMapping[str, Any]):
    def __init__(self, cell: MutableMapping[str, Any], prefix: str) -> None:
        self._cell = cell
        self._prefix = prefix + "/"

    def __getitem__(self, key: str) -> Any:
        return self._cell[self._prefix + key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._cell[self._prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self._cell[self._prefix + key]

    def __iter__(self) -> Any:
        n = len(self._prefix)
        return (k[n:] for k in list(self._cell) if k.startswith(self._prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def scoped(context: Context, prefix: str) -> Context:
    """Return ``context`` scoped to ``prefix`` when it supports scoping, else as is."""
    return context.scoped(prefix) if isinstance(context, RuleContext) else context


class TaskExecutionContext(Context):
    """The context handed to an operator's ``start``/``stop``/``await_termination``.

    It names the task execution, and carries the log stream the task writes to
    and the working directory made from the execution's snapshot.
    """

    def __init__(
        self,
        *,
        workflow_name: str,
        namespace: str,
        workflow_execution_id: int,
        task_name: str,
        task_execution_id: int,
        sequence_number: int,
        try_number: int,
        log_file: Any = None,
        log_path: str | None = None,
        working_dir: str | None = None,
    ) -> None:
        self.workflow_name = workflow_name
        self.namespace = namespace
        self._execution_id = workflow_execution_id
        self.task_name = task_name
        self.task_execution_id = task_execution_id
        self.sequence_number = sequence_number
        self.try_number = try_number
        self.log_file = log_file
        self.log_path = log_path
        self.working_dir = working_dir
        self.operator_state: dict[str, Any] = {}

    @property
    def workflow_execution_id(self) -> int | None:
        """The id of the workflow execution the task belongs to."""
        return self._execution_id

    def get_state(self, state_descriptor: StateDescriptor) -> State:
        """Operators keep their own in-memory state for the execution."""
        return make_state(state_descriptor, self.operator_state)

    def get_task_status(self, task_name: str) -> TaskStatus | None:
        """Task statuses are not available inside a running task."""
        return None
