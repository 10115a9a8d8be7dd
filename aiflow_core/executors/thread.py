"""The thread executor: runs tasks on a pool of threads in the engine's process.

Stopping a task (a STOP or RESTART, its ``execution_timeout``, closing the
engine) calls its operator's ``stop`` (which ends a bash command's process
group) and raises :class:`~aiflow_core.executors.base.TaskStopped` in the
task's thread. Python cannot end a thread from outside: the exception is
raised when the thread next runs Python code, so a call that blocks in C
(``time.sleep``, a socket read, a long NumPy operation) ends first, and code
that catches ``BaseException`` may ignore the stop. Until the thread really
ends the run shows STOPPING (RUNNING for a timeout) and a new run of the same
task waits, QUEUED. Closing waits ``grace`` seconds for such threads, then
records their runs STOPPED, logs which ones still run, and returns; they run
on until their code returns. Use the process executor when work must end at
once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
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
from aiflow_core.executors.lines import TaskLines
from aiflow_core.interrupt import raise_in_thread
from aiflow_core.model.operator import AIFlowOperator
from aiflow_core.model.status import TaskStatus

log = logging.getLogger("aiflow.executor")


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
    """Runs up to ``parallelism`` tasks at once on worker threads.

    ``grace`` is how long closing waits for stopped tasks' threads to end.
    """

    name = "thread"

    def __init__(self, parallelism: int = 10, grace: float = 5.0) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        if grace < 0:
            raise ValueError(f"grace must be a number of seconds >= 0, got {grace}")
        self.parallelism = parallelism
        self.grace = grace
        self._queue: queue.Queue[TaskJob | None] = queue.Queue()
        self._lock = threading.Lock()
        self._seen: set[int] = set()
        self._cancelled: set[int] = set()
        self._running: dict[int, _Running] = {}
        self._lines = TaskLines()
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
        """Queue ``job``; it starts once no earlier run of its task is still running."""
        with self._lock:
            if job.task_execution_id in self._seen:
                return
            self._seen.add(job.task_execution_id)
            closed = self._closed
            start = not closed and self._lines.admit(job)
            if not closed:
                self._pending += 1
        if closed:
            self._report(job, TaskStatus.STOPPED)  # submitted after the close: never started
        elif start:
            self._queue.put(job)

    def stop_task(self, task_execution_id: int, epoch: int | None = None) -> None:
        """Stop a queued or running task; a stop naming an attempt (``epoch``) reaches only it."""
        with self._lock:
            running = self._running.get(task_execution_id)
            if running is not None and epoch is not None and running.job.epoch != epoch:
                return
            waiting = None if running is not None else self._lines.withdraw(task_execution_id)
            if running is None and waiting is None:
                self._cancelled.add(task_execution_id)
                return
            if waiting is not None:
                self._pending -= 1
            elif running is not None:
                if running.stopping or running.done:
                    return
                running.stopping = True
        if waiting is not None:
            self._report(waiting, TaskStatus.STOPPED)  # it waited behind an earlier run and never started
            return
        assert running is not None
        if running.operator is not None:
            threading.Thread(target=running.operator.stop, args=(running.context,), daemon=True).start()
        raise_in_thread(running.thread_id, TaskStopped)

    def busy(self) -> bool:
        """True while tasks are queued or running."""
        with self._lock:
            return self._pending > 0

    def _report(self, job: TaskJob, status: TaskStatus, error: str | None = None) -> None:
        assert self._reporter is not None
        self._reporter(job, status, error)

    def _work(self) -> None:
        while True:
            try:
                if not self._work_one():
                    return
            except TaskStopped:  # a stop that arrived just as its task ended
                continue

    def _work_one(self) -> bool:
        job = self._queue.get()
        if job is None:
            return False
        te_id = job.task_execution_id
        with self._lock:
            cancelled = te_id in self._cancelled or self._closed  # not started before the close: never started
            running = _Running(job, threading.get_ident())
            if not cancelled:
                self._running[te_id] = running
        status, error = TaskStatus.STOPPED, None
        try:
            if not cancelled:
                status, error = self._run(job, running)
        finally:
            with self._lock:
                owned = cancelled or self._running.pop(te_id, None) is running  # else the close gave up on it
                if owned:
                    self._pending -= 1
                after = self._lines.finished(job)
            if owned:
                self._report(job, status, error)
            if after is not None:
                self._queue.put(after)
        return True

    def _run(self, job: TaskJob, running: _Running) -> tuple[TaskStatus, str | None]:
        assert self._runtime_factory is not None

        def on_start(operator: AIFlowOperator, context: Any) -> None:
            running.operator, running.context = operator, context

        timer = None
        if job.execution_timeout is not None:
            timer = threading.Timer(job.execution_timeout, self._time_out, args=(running,))
            timer.daemon = True
            timer.start()
        try:
            self._report(job, TaskStatus.RUNNING)
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
        if running.stopping:  # even if the task caught the stop and returned: it was stopped, not done
            return TaskStatus.STOPPED, None
        return status, error

    def _time_out(self, running: _Running) -> None:
        running.timed_out = True
        self.stop_task(running.job.task_execution_id)

    def close(self, timeout: float | None = None) -> None:
        """Stop every task and end the worker threads, waiting at most ``grace`` (or ``timeout``) seconds.

        Queued runs are reported STOPPED at once. A run whose thread has not
        ended by then is reported STOPPED too and named in a warning: its
        thread runs on until its code returns, and its own report is dropped.
        """
        with self._lock:
            self._closed = True
            unstarted = self._lines.waiting()
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    self._lines.finished(job)
                    unstarted.append(job)
            self._pending -= len(unstarted)
            ids = list(self._running)
        for job in unstarted:
            self._report(job, TaskStatus.STOPPED)
        for te_id in ids:
            self.stop_task(te_id)
        for _ in self._threads:
            self._queue.put(None)
        wait = self.grace if timeout is None else min(timeout, self.grace)
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        with self._lock:
            stuck = list(self._running.values())
            self._running.clear()
            self._pending -= len(stuck)
        for running in stuck:
            job = running.job
            log.warning(
                "task execution %s (%s.%s) did not end within %g s of the close; it is recorded STOPPED, "
                "but its thread runs on in this process until its code returns",
                job.task_execution_id, job.workflow_name, job.task_name, wait,
            )
            self._report(job, TaskStatus.STOPPED)
