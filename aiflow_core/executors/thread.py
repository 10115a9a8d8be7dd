"""The thread executor: runs tasks on a pool of threads in the engine's process.

Stopping a task calls its operator's ``stop`` (which ends a bash command's
process group) and raises :class:`~aiflow_core.executors.base.TaskStopped` in
the task's thread; Python code blocked inside a C call ends when the call
returns. Use the process executor when work must end at once.
"""

from __future__ import annotations

import ctypes
import queue
import threading
from typing import Any

from aiflow_core.executors.base import (
    Executor,
    ExecutorContext,
    Reporter,
    RuntimeFactory,
    TaskJob,
    TaskStopped,
    run_task,
)
from aiflow_core.model.operator import AIFlowOperator
from aiflow_core.model.status import TaskStatus


def _raise_in_thread(thread_id: int, exc_type: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


class _Running:
    def __init__(self, job: TaskJob, thread_id: int) -> None:
        self.job = job
        self.thread_id = thread_id
        self.operator: AIFlowOperator | None = None
        self.context: Any = None
        self.stopping = False
        self.done = False
        self.timed_out = False


class ThreadExecutor(Executor):
    """Runs up to ``parallelism`` tasks at once on worker threads."""

    name = "thread"

    def __init__(self, parallelism: int = 10) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        self.parallelism = parallelism
        self._queue: queue.Queue[TaskJob | None] = queue.Queue()
        self._lock = threading.Lock()
        self._seen: set[int] = set()
        self._cancelled: set[int] = set()
        self._running: dict[int, _Running] = {}
        self._pending = 0
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._reporter: Reporter | None = None
        self._runtime_factory: RuntimeFactory | None = None

    def open(self, context: ExecutorContext) -> None:
        """Start the worker threads."""
        self._reporter = context.reporter
        self._runtime_factory = context.runtime_factory
        for index in range(self.parallelism):
            thread = threading.Thread(target=self._work, name=f"aiflow-task-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, job: TaskJob) -> None:
        """Queue ``job``."""
        with self._lock:
            if job.task_execution_id in self._seen:
                return
            self._seen.add(job.task_execution_id)
            self._pending += 1
        self._queue.put(job)

    def stop_task(self, task_execution_id: int) -> None:
        """Stop a queued or running task."""
        with self._lock:
            running = self._running.get(task_execution_id)
            if running is None:
                self._cancelled.add(task_execution_id)
                return
            if running.stopping or running.done:
                return
            running.stopping = True
        if running.operator is not None:
            threading.Thread(target=running.operator.stop, args=(running.context,), daemon=True).start()
        _raise_in_thread(running.thread_id, TaskStopped)

    def busy(self) -> bool:
        """True while tasks are queued or running."""
        with self._lock:
            return self._pending > 0

    def _work(self) -> None:
        while True:
            try:
                if not self._work_one():
                    return
            except TaskStopped:  # a stop that arrived just as its task ended
                continue

    def _work_one(self) -> bool:
        assert self._reporter is not None and self._runtime_factory is not None
        job = self._queue.get()
        if job is None:
            return False
        te_id = job.task_execution_id
        with self._lock:
            cancelled = te_id in self._cancelled or self._closed  # not started before the close: never started
            running = _Running(job, threading.get_ident())
            if not cancelled:
                self._running[te_id] = running
        try:
            if cancelled:
                self._reporter(job, TaskStatus.STOPPED, None)
                return True
            status, error = self._run(job, running)
            self._reporter(job, status, error)
        finally:
            with self._lock:
                self._running.pop(te_id, None)
                self._pending -= 1
        return True

    def _run(self, job: TaskJob, running: _Running) -> tuple[TaskStatus, str | None]:
        assert self._reporter is not None and self._runtime_factory is not None
        def on_start(operator: AIFlowOperator, context: Any) -> None:
            running.operator, running.context = operator, context

        timer = None
        if job.execution_timeout is not None:
            timer = threading.Timer(job.execution_timeout, self._time_out, args=(running,))
            timer.daemon = True
            timer.start()
        try:
            self._reporter(job, TaskStatus.RUNNING, None)
            assert job.operator is not None
            status, error = run_task(job, job.operator, self._runtime_factory(job), on_start, isolated=True)
            with self._lock:
                running.done = True
        except TaskStopped:
            status, error = TaskStatus.STOPPED, None
        finally:
            if timer is not None:
                timer.cancel()
        if running.timed_out:
            return TaskStatus.FAILED, f"execution timed out after {job.execution_timeout:g} s"
        if running.stopping and status is not TaskStatus.SUCCESS:
            return TaskStatus.STOPPED, None
        return status, error

    def _time_out(self, running: _Running) -> None:
        running.timed_out = True
        self.stop_task(running.job.task_execution_id)

    def close(self, timeout: float | None = None) -> None:
        """Stop running tasks, report the queued ones stopped, and end the worker threads."""
        with self._lock:
            self._closed = True
            ids = list(self._running)
        for te_id in ids:
            self.stop_task(te_id)
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
