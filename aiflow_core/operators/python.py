"""PythonOperator: calls a Python function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.context import Context
from aiflow_core.model.operator import AIFlowOperator


class PythonOperator(AIFlowOperator):
    """Calls ``python_callable(*op_args, **op_kwargs)``; an exception fails the task.

    The return value is kept in :attr:`result` of the running copy.
    """

    def __init__(
        self,
        name: str,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not callable(python_callable):
            raise InvalidWorkflowError(
                f"task {name!r}: python_callable must be callable, got {python_callable!r}"
            )
        if op_args is not None and (isinstance(op_args, (str, bytes)) or not isinstance(op_args, Sequence)):
            raise InvalidWorkflowError(f"task {name!r}: op_args must be a list, got {op_args!r}")
        if op_kwargs is not None and not isinstance(op_kwargs, Mapping):
            raise InvalidWorkflowError(f"task {name!r}: op_kwargs must be a dict, got {op_kwargs!r}")
        super().__init__(name, **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.result: Any = None

    def start(self, context: Context) -> Any:
        """Call the function."""
        self.result = self.python_callable(*self.op_args, **self.op_kwargs)
        return self.result
