"""WorkflowTester: drive workflows in simulated time, in the test's own thread.

The tester owns an :class:`~aiflow_core.engine.Engine` on a SQLite file (or,
with ``db_url="memory://"``, a memory store) with the inline executor and a
:class:`~aiflow_core.testing.clock.FakeClock`.
Nothing happens between calls: each call runs the engine until nothing more
can happen without more time or more events, so tests are deterministic.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import attrs

from aiflow_core.engine import Engine
from aiflow_core.model.meta import TaskExecutionMeta, WorkflowExecutionMeta, WorkflowMeta
from aiflow_core.model.status import TaskStatus
from aiflow_core.testing.clock import FakeClock


@attrs.frozen(kw_only=True)
class TaskRun:
    """One run of a task as a test sees it: which, in what state, and why it started."""

    task: str
    sequence: int
    attempt: int
    status: TaskStatus
    cause: str
    event_key: str | None

    @classmethod
    def of(cls, te: TaskExecutionMeta) -> TaskRun:
        """Build from a task execution."""
        return cls(
            task=te.task_name, sequence=te.sequence_number, attempt=te.try_number, status=te.status,
            cause=te.cause.kind.value, event_key=te.cause.event_key,
        )


class WorkflowTester:
    """Upload, start, send events, move time and read histories of workflows under test.

    ``directory`` holds the database, logs and blobs. ``db_url`` is the
    database (default: a SQLite file in ``directory``); ``"memory://"``
    keeps it in memory, which is faster but reachable only from this
    process. ``start`` is the fake clock's start time (default
    2024-01-01T00:00:00Z). History is kept for the whole test unless
    ``history_retention`` (e.g. ``"30d"``) is given. ``explanations`` is how
    much the scheduler records for the ``explain_*`` queries (``"off"``,
    ``"decisions"``, ``"full"``; default: the configured level).
    """

    def __init__(
        self, directory: Path, start: dt.datetime | str | None = None, executor: str = "inline",
        history_retention: str | None = None, db_url: str | None = None, explanations: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.clock = FakeClock(start)
        self.engine = Engine(
            db_url=db_url or f"sqlite:///{self.directory / 'aiflow.db'}",
            blob=str(self.directory / "blob"),
            executor=executor,
            clock=self.clock,
            log_dir=self.directory / "logs",
            history_retention=history_retention,
            explanations=explanations,
        )
        self._sources = 0

    # -- setting up --
    def upload(self, workflow_file: str | Path, artifacts: list[str] | None = None) -> list[WorkflowMeta]:
        """Upload the workflows of a file."""
        return self.engine.upload_workflows(str(workflow_file), artifacts)

    def upload_source(self, source: str) -> list[WorkflowMeta]:
        """Write ``source`` (dedented) to a workflow file and upload it."""
        self._sources += 1
        path = self.directory / f"workflow_{self._sources}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return self.upload(path)

    # -- acting --
    def start(self, workflow_name: str, namespace: str = "default") -> int:
        """Start an execution and run until idle; returns its id."""
        execution_id = self.engine.start_workflow_execution(workflow_name, namespace)
        self.run_until_idle()
        return execution_id

    def stop(self, workflow_execution_id: int) -> None:
        """Stop an execution and run until idle."""
        self.engine.stop_workflow_execution(workflow_execution_id)
        self.run_until_idle()

    def send(self, key: str, value: str | None = None, namespace: str = "default", **kwargs: Any) -> None:
        """Send an event and run until idle."""
        self.engine.send_event(key, value, namespace=namespace, **kwargs)
        self.run_until_idle()

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Run the engine until nothing more happens at the current simulated time."""
        self.engine.run_until_idle(timeout)

    def advance(self, delta: dt.timedelta | float) -> None:
        """Move simulated time forward by ``delta``, stopping at every timer and schedule fire on the way.

        Each fire happens at its own simulated instant, so an hourly schedule
        advanced by a day runs 24 times (see :meth:`Engine.run_until_idle`).
        """
        self.run_until_idle()
        self.clock.advance(delta)
        self.run_until_idle()

    # -- reading --
    def executions(self, workflow_name: str, namespace: str = "default") -> list[WorkflowExecutionMeta]:
        """Executions of a workflow, oldest first."""
        return self.engine.list_workflow_executions(workflow_name, namespace)

    def history(self, workflow_execution_id: int, task: str | None = None) -> list[TaskRun]:
        """The task runs of an execution (of one task if named), in start order."""
        runs = [TaskRun.of(te) for te in self.engine.list_task_executions(workflow_execution_id)]
        return [r for r in runs if task is None or r.task == task]

    def statuses(self, workflow_execution_id: int) -> dict[str, TaskStatus]:
        """The latest status of each task that ran."""
        return {r.task: r.status for r in self.history(workflow_execution_id)}

    def log(self, workflow_execution_id: int, task: str, sequence: int = 1) -> str:
        """The log text of one task run."""
        for te in self.engine.list_task_executions(workflow_execution_id):
            if te.task_name == task and te.sequence_number == sequence and te.log_path:
                path = Path(te.log_path)
                return path.read_text(encoding="utf-8") if path.exists() else ""
        raise LookupError(f"task {task!r} run {sequence} of execution {workflow_execution_id} has no log")

    def close(self) -> None:
        """Stop the engine."""
        self.engine.close()

    def __enter__(self) -> WorkflowTester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
