"""Heartbeats of running tasks: the engine fails a task whose worker went silent.

Executors that run tasks elsewhere (``sends_heartbeats``) forward each
worker's heartbeat to :meth:`Heartbeats.beat`. :meth:`Heartbeats.check`,
called before each step, queues a heartbeat-timeout event for every task
silent for ``timeout`` seconds and asks the executor to stop it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from aiflow_core.executors import Executor, TaskJob
from aiflow_core.model.clock import Clock
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import HeartbeatTimeout
from aiflow_core.model.status import TaskStatus

log = logging.getLogger("aiflow.engine")


class Heartbeats:
    """The last heartbeat of each running task, judged against ``timeout`` every ``check_interval`` seconds."""

    def __init__(
        self, *, clock: Clock, executor: Executor, queue: Callable[[Event], None],
        timeout: float, check_interval: float,
    ) -> None:
        self.clock = clock
        self.executor = executor
        self._queue = queue
        self.timeout = dt.timedelta(seconds=timeout)
        self.check_interval = dt.timedelta(seconds=check_interval)
        self._beats: dict[int, tuple[TaskJob, dt.datetime]] = {}
        self._lock = threading.Lock()
        self._next_check = clock.now()

    def reported(self, job: TaskJob, status: TaskStatus) -> None:
        """Follow a status report: a running task is watched from now on, a finished one no longer."""
        with self._lock:
            if status is TaskStatus.RUNNING:
                self._beats[job.task_execution_id] = (job, self.clock.now())
            elif status.is_final:
                self._beats.pop(job.task_execution_id, None)

    def beat(self, task_execution_id: int) -> None:
        """Record a heartbeat of a running task."""
        with self._lock:
            entry = self._beats.get(task_execution_id)
            if entry is not None:
                self._beats[task_execution_id] = (entry[0], self.clock.now())

    def check(self) -> None:
        """Fail running tasks whose worker sent no heartbeat for ``timeout``; at most every ``check_interval``."""
        now = self.clock.now()
        if now < self._next_check:
            return
        self._next_check = now + self.check_interval
        limit = self.timeout
        with self._lock:
            silent = [job for job, last in self._beats.values() if now - last > limit]
            for job in silent:
                del self._beats[job.task_execution_id]
        for job in silent:
            log.error("task execution %s sent no heartbeat for %s; failing it", job.task_execution_id, limit)
            self._queue(
                HeartbeatTimeout(
                    namespace=job.namespace, workflow_execution_id=job.workflow_execution_id,
                    task_execution_id=job.task_execution_id, task_name=job.task_name,
                    error=f"no heartbeat for {limit.total_seconds():g} s",
                ).to_event()
            )
            self.executor.stop_task(job.task_execution_id)
