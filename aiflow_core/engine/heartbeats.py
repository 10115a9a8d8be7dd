"""Heartbeats of running tasks: the engine fails a task whose worker went silent.

Executors that run tasks elsewhere (``sends_heartbeats``) forward each
worker's heartbeat to :meth:`Heartbeats.beat`. The engine records, every
heartbeat interval, its attempts' heartbeat rows on the database's clock,
leaving out the running ones whose worker did not beat since the last record
(:meth:`Heartbeats.take_quiet`). :meth:`Heartbeats.check`, called before each step, judges
silence on the database's clock too: it queues a heartbeat-timeout event for
every task whose recorded heartbeat is older than ``timeout`` and asks the
executor to stop it. An engine whose own clock is off, or jumps, fails no
healthy task and spares no silent one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from aiflow_core.executors import Executor, TaskJob
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import HeartbeatTimeout
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Store

log = logging.getLogger("aiflow.engine")


class Heartbeats:
    """The running tasks of workers that beat, judged against ``timeout`` every ``check_interval`` seconds."""

    def __init__(
        self, *, store: Store, executor: Executor, queue: Callable[[Event], None],
        timeout: float, check_interval: float,
    ) -> None:
        self.store = store
        self.executor = executor
        self._queue = queue
        self.timeout = dt.timedelta(seconds=timeout)
        self.check_interval = check_interval
        #: The watched tasks -> the database time a check first saw them (None before).
        self._watched: dict[int, tuple[TaskJob, dt.datetime | None]] = {}
        self._beaten: set[int] = set()
        self._lock = threading.Lock()
        self._next_check = 0.0

    def reported(self, job: TaskJob, status: TaskStatus) -> None:
        """Follow a status report: a running task is watched from now on, a finished one no longer."""
        with self._lock:
            if status is TaskStatus.RUNNING:
                self._watched[job.task_execution_id] = (job, None)
                self._beaten.add(job.task_execution_id)
            elif status.is_final:
                self._watched.pop(job.task_execution_id, None)
                self._beaten.discard(job.task_execution_id)

    def beat(self, task_execution_id: int) -> None:
        """Note a heartbeat of a running task (recorded at the engine's next record of heartbeats)."""
        with self._lock:
            if task_execution_id in self._watched:
                self._beaten.add(task_execution_id)

    def take_quiet(self) -> set[int]:
        """The watched tasks whose worker neither beat nor started since the last call."""
        with self._lock:
            beaten, self._beaten = self._beaten, set()
            return set(self._watched) - beaten

    def check(self) -> None:
        """Fail running tasks with no heartbeat recorded for ``timeout`` on the database's clock;
        at most every ``check_interval`` seconds."""
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self.check_interval
        with self._lock:
            watched = dict(self._watched)
        if not watched:
            return
        with self.store.transaction(readonly=True) as tx:
            now = tx.store_now()
            beats = tx.task_execution_heartbeats(list(watched))
        silent = []
        with self._lock:
            for te_id, (job, first_seen) in watched.items():
                if self._watched.get(te_id, (None,))[0] is not job:
                    continue  # ended meanwhile
                if first_seen is None:  # a row older than this attempt's watch (an earlier attempt's) counts not
                    self._watched[te_id] = (job, now)
                    continue
                last = max(beats.get(te_id, first_seen), first_seen)
                if now - last > self.timeout:
                    del self._watched[te_id]
                    self._beaten.discard(te_id)
                    silent.append(job)
        limit = self.timeout
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
