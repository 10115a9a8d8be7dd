"""The inline executor: runs tasks one after another in the scheduler's thread.

Deterministic, for tests: ``Engine.run_until_idle()`` runs every task to its
end before it returns. A task cannot be stopped while it runs (the scheduler
is busy running it); queued tasks are stopped before they start.

A task runs in the caller's thread, so what interrupts that thread is the
caller's: ``KeyboardInterrupt``, ``SystemExit`` or a test runner's timeout
raised inside a task propagates out of ``run_until_idle()`` (the task is
recorded STOPPED), instead of failing the task and letting the caller go on.
"""

from __future__ import annotations

from collections import OrderedDict

from aiflow_core.executors.base import Executor, ExecutorContext, Reporter, RuntimeFactory, TaskJob, run_task
from aiflow_core.model.status import TaskStatus


class InlineExecutor(Executor):
    """Runs submitted tasks in ``poll()``, in submission order."""

    name = "inline"

    def __init__(self) -> None:
        self._queue: OrderedDict[int, TaskJob] = OrderedDict()
        self._seen: set[int] = set()
        self._reporter: Reporter | None = None
        self._runtime_factory: RuntimeFactory | None = None

    def open(self, context: ExecutorContext) -> None:
        """Keep the reporter."""
        self._reporter = context.reporter
        self._runtime_factory = context.runtime_factory

    def submit(self, job: TaskJob) -> None:
        """Queue ``job`` for the next ``poll``."""
        if job.task_execution_id in self._seen:
            return
        self._seen.add(job.task_execution_id)
        self._queue[job.task_execution_id] = job

    def stop_task(self, task_execution_id: int, epoch: int | None = None) -> None:
        """Drop a queued task, reporting it STOPPED (a stop naming another attempt's ``epoch`` is ignored)."""
        job = self._queue.get(task_execution_id)
        if job is None or (epoch is not None and job.epoch != epoch):
            return
        del self._queue[task_execution_id]
        if job is not None and self._reporter is not None:
            self._reporter(job, TaskStatus.STOPPED, None)

    def busy(self) -> bool:
        """True while tasks are queued."""
        return bool(self._queue)

    def poll(self) -> None:
        """Run every queued task to its end."""
        assert self._reporter is not None and self._runtime_factory is not None
        while self._queue:
            _, job = self._queue.popitem(last=False)
            assert job.operator is not None
            self._reporter(job, TaskStatus.RUNNING, None)
            try:
                status, error = run_task(job, job.operator, self._runtime_factory(job))
            except BaseException:
                self._reporter(job, TaskStatus.STOPPED, None)  # interrupted with the caller's thread
                raise
            self._reporter(job, status, error)

    def close(self, timeout: float | None = None) -> None:
        """Report the queued tasks stopped: they never started."""
        while self._queue:
            _, job = self._queue.popitem(last=False)
            if self._reporter is not None:
                self._reporter(job, TaskStatus.STOPPED, None)
