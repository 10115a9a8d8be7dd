"""The task runtime: which execution the current task belongs to and how it reaches the engine.

Executors set the runtime for the duration of a task (a context variable, so
threads of the thread executor each see their own). Inside a process worker
the runtime opens its own store connection on first use.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs

from aiflow_core.errors import NotInTaskRuntimeError

if TYPE_CHECKING:
    from aiflow_core.client import Client


@attrs.define(kw_only=True)
class TaskRuntime:
    """The identity of a running task execution and its way back to the engine.

    ``client_factory`` builds the :class:`~aiflow_core.client.Client` that
    events are sent through; ``wake`` nudges the scheduler after a send (a
    no-op in another process, where the scheduler polls). ``mask`` hides the
    known secrets in text the engine writes to the task's log (its
    tracebacks, its Python output).
    """

    namespace: str
    workflow_name: str
    workflow_execution_id: int
    task_name: str
    task_execution_id: int
    sequence_number: int
    client_factory: Callable[[], Client | Any]
    wake: Callable[[], None] = lambda: None
    blob_spec: Any = None
    mask: Callable[[str], str] = str
    _client: Client | None = None

    @property
    def client(self) -> Any:
        """The client of this runtime, created on first use.

        In the engine's process it is the engine; in a worker process it is
        the attempt's channel (:class:`~aiflow_core.executors.attempt.AttemptClient`).
        """
        if self._client is None:
            self._client = self.client_factory()
        return self._client


_current: contextvars.ContextVar[TaskRuntime | None] = contextvars.ContextVar(
    "aiflow_task_runtime", default=None
)


def current_runtime() -> TaskRuntime:
    """The runtime of the task running in this thread; raises outside a task."""
    runtime = _current.get()
    if runtime is None:
        raise NotInTaskRuntimeError(
            "no task is running here: AIFlowNotificationClient and the task blob access work only "
            "inside a task executed by an aiflow engine (use Client.send_event elsewhere)"
        )
    return runtime


def runtime_or_none() -> TaskRuntime | None:
    """The current task runtime, or None outside a task."""
    return _current.get()


@contextmanager
def task_runtime(runtime: TaskRuntime) -> Iterator[TaskRuntime]:
    """Make ``runtime`` current for the block."""
    token = _current.set(runtime)
    try:
        yield runtime
    finally:
        _current.reset(token)
