"""Helpers for running the examples of the original AIFlow documentation.

The workflow files under ``examples/`` are the documentation's examples with
``ai_flow`` renamed to ``aiflow_core``. Tests run them on a real engine (thread
or process executor) and read back the task histories. Waiting is done by
polling with generous timeouts that only guard against hanging.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from aiflow_core import Engine
from aiflow_core.model.internal.events import task_status_event_key
from aiflow_core.model.meta import StartKind, TaskExecutionMeta, WorkflowExecutionMeta
from aiflow_core.model.status import TaskStatus, WorkflowStatus

EXAMPLES = Path(__file__).parent / "examples"
#: Upper bound for any wait; reaching it means the example hangs.
TIMEOUT = 60.0

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class ExampleRunner:
    """Uploads documentation examples to an engine and reads what happened."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def upload(self, example: str | Path, artifacts: list[str] | None = None) -> None:
        """Upload ``examples/<example>`` (or any path)."""
        path = example if isinstance(example, Path) else EXAMPLES / example
        self.engine.upload_workflows(str(path), artifacts)

    def runs(self, execution_id: int, task: str | None = None) -> list[TaskExecutionMeta]:
        """Task executions of an execution (of one task if named), in start order."""
        runs = self.engine.list_task_executions(execution_id)
        return [te for te in runs if task is None or te.task_name == task]

    def history(self, execution_id: int) -> list[tuple[str, int, TaskStatus]]:
        """(task, sequence number, status) of every task execution, in start order."""
        return [(te.task_name, te.sequence_number, te.status) for te in self.runs(execution_id)]

    def errors(self, execution_id: int) -> dict[str, str]:
        """Errors of the failed task executions, for assertion messages."""
        return {f"{te.task_name}#{te.sequence_number}": te.error for te in self.runs(execution_id) if te.error}

    def wait_for_runs(
        self, execution_id: int, task: str, count: int, status: TaskStatus | None = None,
        timeout: float = TIMEOUT,
    ) -> list[TaskExecutionMeta]:
        """Wait until ``task`` has ``count`` finished runs (with ``status`` if given)."""

        def probe() -> list[TaskExecutionMeta] | None:
            done = [
                te for te in self.runs(execution_id, task)
                if te.status.is_final and (status is None or te.status is status)
            ]
            return done if len(done) >= count else None

        what = f"{count} finished run(s) of {task!r} (history {self.history(execution_id)})"
        return wait_until(probe, what, timeout)

    def wait_until_processed(self) -> None:
        """Wait until the scheduler has applied every event in the log."""
        wait_until(lambda: not self.engine.loop.has_work(), "the scheduler to process every event")

    def wait_for_end(self, execution_id: int) -> WorkflowExecutionMeta:
        """Wait until an execution ends by itself and return it."""
        return self.engine.wait_for_workflow_execution(execution_id, timeout=TIMEOUT)

    def stop_and_settle(self, execution_id: int) -> WorkflowExecutionMeta:
        """Stop an execution and wait until it and all its tasks have a final status."""
        self.engine.stop_workflow_execution(execution_id)
        execution = self.engine.wait_for_workflow_execution(execution_id, timeout=TIMEOUT)
        wait_until(
            lambda: all(te.status.is_final for te in self.runs(execution_id)),
            f"every task of execution {execution_id} to end (history {self.history(execution_id)})",
        )
        return execution

    def status(self, execution_id: int) -> WorkflowStatus:
        """The current status of an execution."""
        execution = self.engine.get_workflow_execution(execution_id)
        assert execution is not None, f"no workflow execution {execution_id}"
        return execution.status

    def log(self, te: TaskExecutionMeta) -> str:
        """The log text of a task execution."""
        assert te.log_path is not None, f"{te.task_name} #{te.sequence_number} has no log path"
        return Path(te.log_path).read_text(encoding="utf-8")


def assert_rule_cause(te: TaskExecutionMeta, event_key: str) -> None:
    """Assert that ``te`` was started by a task rule on an event with ``event_key``."""
    assert te.cause.kind is StartKind.RULE, f"{te.task_name} started by {te.cause.describe()}"
    assert te.cause.event_key == event_key, f"{te.task_name} started by {te.cause.describe()}"
    assert te.cause.event_offset is not None and te.cause.rule_index is not None


def status_key(workflow: str, task: str) -> str:
    """The key of the task status events of ``workflow``.``task``."""
    return task_status_event_key(workflow, task)
