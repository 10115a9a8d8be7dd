"""The Celery executor: task attempts run on Celery workers, on other machines, over Redis or RabbitMQ.

The SQL event log stays the single source of truth; Celery only carries
work. Each attempt is one Celery message on the queue its operator names
(option ``queue``, default the executor's queue, ``aiflow``), carrying only
ids, the URL of the engine's attempt channel and the attempt's token: never
code, never a secret. The worker (``aiflow worker``, see
:mod:`aiflow_core.executors.celery_worker`) claims the attempt through the
channel, fetches the workflow snapshot from the blob store, runs the task in
a child process of its own, sends heartbeats that also carry stop requests,
uploads the task's log to the blob store and reports the final status.

Settings (arguments, else the keys of ``aiflow.yaml`` and their environment
variables, see :mod:`aiflow_core.config`): ``broker_url``, ``queue``,
``result_expires`` (see :class:`~aiflow_core.executors.celery_app.CelerySettings`),
``channel_address`` (``host:port`` the channel binds to; key
``channel_address``, default ``127.0.0.1:0``), ``channel_url`` (the URL workers
call, when the bound address is not what they reach; key ``channel_url``) and
``grace`` (seconds between SIGTERM and SIGKILL when a task is stopped). How many tasks run at once is
the workers' concurrency, not ``parallelism``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import aiflow_core
from aiflow_core.config import check_setting, load_config, masked_url
from aiflow_core.executors.base import Executor, ExecutorContext, TaskJob
from aiflow_core.executors.celery_app import TASK_NAME, CelerySettings, make_app
from aiflow_core.executors.endpoint import Attempt, AttemptEndpoint
from aiflow_core.executors.lines import TaskLines
from aiflow_core.executors.tasklog import blob_log_key
from aiflow_core.model.status import TaskStatus

log = logging.getLogger("aiflow.executors.celery")

#: The job fields a worker gets when it claims an attempt.
CLAIM_FIELDS = ("namespace", "workflow_name", "task_name", "workflow_execution_id", "task_execution_id",
                "sequence_number", "try_number", "snapshot_id", "execution_timeout", "epoch")


class CeleryExecutor(Executor):
    """Runs task attempts on Celery workers; see the module docstring."""

    name = "celery"

    def __init__(
        self, parallelism: int = 10, *, broker_url: str | None = None, queue: str | None = None,
        result_expires: float | None = None, channel_address: str | None = None, channel_url: str | None = None,
        grace: float = 5.0, waiting_note_after: float = 5.0,
    ) -> None:
        self.parallelism = parallelism
        config = load_config()
        self.settings = CelerySettings.load(config, broker_url=broker_url, queue=queue, result_expires=result_expires)
        self.channel_address = config.channel_address if channel_address is None else check_setting(
            "channel_address", channel_address, "argument channel_address")
        self.channel_url = config.channel_url if channel_url is None else check_setting(
            "channel_url", channel_url, "argument channel_url")
        self.grace = grace
        self.waiting_note_after = waiting_note_after
        self.app = make_app(self.settings)
        self._lock = threading.Lock()
        self._lines = TaskLines()
        self._seen: set[int] = set()
        self._closed = False
        self._context: ExecutorContext | None = None
        self._endpoint: AttemptEndpoint | None = None
        self._blob: Any = None

    @property
    def needs_snapshot_frame(self) -> bool:
        """True: tasks run in other processes, so the engine does not load their operators (workers load the
        workflow file of the snapshot themselves; the pickled workflow the job carries stays in the engine)."""
        return True

    @property
    def sends_heartbeats(self) -> bool:
        """Workers send heartbeats through the channel; the engine fails silent attempts."""
        return True

    @property
    def attempts_die_with_engine(self) -> bool:
        """False: a worker ends its task only once the task's heartbeats go unanswered for their timeout."""
        return False

    @property
    def channel(self) -> str:
        """The URL of the attempt channel workers call."""
        assert self._endpoint is not None, "the executor is not open"
        return self._endpoint.url

    def open(self, context: ExecutorContext) -> None:
        """Start the attempt channel's endpoint."""
        self._context = context
        self._endpoint = AttemptEndpoint(
            self.channel_address, claimed=self._claimed, reported=self._reported, heartbeat=context.heartbeat,
            serve=context.serve, advertised_url=self.channel_url,
        )
        log.info("attempt channel at %s; broker %s, queue %r", self._endpoint.url,
                 masked_url(self.settings.broker_url), self.settings.queue)
        threading.Thread(target=self._note_waiting, name="aiflow-celery-waiting", daemon=True).start()

    def _note_waiting(self) -> None:
        """Say of each attempt that no worker took within ``waiting_note_after`` s what it waits for."""
        assert self._endpoint is not None
        while not self._closed:
            time.sleep(min(1.0, self.waiting_note_after))
            now = time.monotonic()
            for attempt in self._endpoint.active():
                if attempt.state == "waiting" and not attempt.noted and now - attempt.sent_at > self.waiting_note_after:
                    attempt.noted = True
                    self._report(attempt.job, TaskStatus.QUEUED, (
                        f"waiting for a worker on queue {attempt.queue!r}: no worker took the task within "
                        f"{self.waiting_note_after:g} s; start one with: aiflow worker --queues {attempt.queue}"))

    def submit(self, job: TaskJob) -> None:
        """Send one message for ``job`` once no earlier run of its task is unfinished."""
        with self._lock:
            if job.task_execution_id in self._seen:
                return
            self._seen.add(job.task_execution_id)
            closed = self._closed
            admitted = not closed and self._lines.admit(job)
        if closed:
            self._report(job, TaskStatus.STOPPED, None)
        elif admitted:
            self._send(job)

    def _send(self, job: TaskJob) -> None:
        assert self._endpoint is not None
        queue = job.queue or self.settings.queue
        attempt = Attempt(job=job, token=secrets.token_urlsafe(32), queue=queue, sent_at=time.monotonic())
        self._endpoint.add(attempt)
        message = {
            "version": aiflow_core.__version__, "channel": self._endpoint.url, "token": attempt.token,
            "task_execution_id": job.task_execution_id, "workflow_execution_id": job.workflow_execution_id,
            "task_name": job.task_name, "try_number": job.try_number,
        }
        try:
            self.app.send_task(TASK_NAME, args=[message], queue=queue, routing_key=queue)
        except Exception as exc:
            if self._endpoint.end(attempt):
                self._finished(attempt, TaskStatus.FAILED, (
                    f"cannot send the task to the Celery broker {masked_url(self.settings.broker_url)} "
                    f"(queue {queue!r}): {type(exc).__name__}: {exc}"))

    def _claimed(self, attempt: Attempt, worker: str) -> dict[str, Any]:
        """A worker took the attempt: it runs now; answer what the worker needs."""
        assert self._context is not None
        job = attempt.job
        self._report(job, TaskStatus.RUNNING, None)
        snapshot = None
        if job.snapshot_uri and job.snapshot_digest:
            relative = None
            if job.workflow_file and job.working_dir:
                relative = os.path.relpath(job.workflow_file, job.working_dir)
            snapshot = {"uri": job.snapshot_uri, "digest": job.snapshot_digest, "workflow_file": relative}
        return {
            "job": {name: getattr(job, name) for name in CLAIM_FIELDS},
            "snapshot": snapshot,
            "log_key": blob_log_key(job.snapshot_digest, job.workflow_execution_id, job.task_execution_id),
            "heartbeat_interval": self._context.heartbeat_interval,
            "heartbeat_timeout": self._context.heartbeat_timeout,
            "grace": self.grace,
        }

    def _reported(self, attempt: Attempt, status: str, error: str | None) -> None:
        self._finished(attempt, TaskStatus(status), error)

    def _finished(self, attempt: Attempt, status: TaskStatus, error: str | None) -> None:
        """An attempt ended: keep its log beside the engine's, report it, send the next run of its task."""
        job = attempt.job
        if attempt.worker is not None and attempt.logged:
            self._fetch_log(job)
        if attempt.stop and status is TaskStatus.FAILED:
            status = TaskStatus.STOPPED
        self._report(job, status, error)
        with self._lock:
            after = self._lines.finished(job)
            if self._closed:
                after = None
        if after is not None:
            self._send(after)

    def _fetch_log(self, job: TaskJob) -> None:
        """Copy the log the worker uploaded to the task's log path (readers look there first)."""
        assert self._context is not None
        try:
            from aiflow_storage.blob import create_blob_manager

            if self._blob is None:
                self._blob = create_blob_manager(self._context.runtime_factory(job).blob_spec)
            key = blob_log_key(job.snapshot_digest, job.workflow_execution_id, job.task_execution_id)
            if not self._blob.exists(key):
                return
            target = Path(job.log_path)
            downloaded = Path(self._blob.download(key, target.parent))
            if downloaded != target:
                os.replace(downloaded, target)
            os.chmod(target, 0o600)
        except Exception:
            log.exception("cannot copy the log of task execution %s from the blob store", job.task_execution_id)

    def _report(self, job: TaskJob, status: TaskStatus, error: str | None) -> None:
        assert self._context is not None
        self._context.reporter(job, status, error)

    def stop_task(self, task_execution_id: int, epoch: int | None = None) -> None:
        """Stop an attempt: one still in the queue ends at once (its message is dropped when delivered);
        a running one is told through its heartbeat answer, and its worker ends its process. A stop that
        names an attempt (``epoch``) reaches only that one."""
        assert self._endpoint is not None
        with self._lock:
            withdrawn = self._lines.withdraw(task_execution_id)
            if withdrawn is not None and epoch is not None and withdrawn.epoch != epoch:
                self._lines.admit(withdrawn)  # another attempt's stop: it waits on as before
                withdrawn = None
        if withdrawn is not None:
            self._report(withdrawn, TaskStatus.STOPPED, None)
            return
        attempt = self._endpoint.get(task_execution_id)
        if attempt is None or (epoch is not None and attempt.job.epoch != epoch):
            return
        state = self._endpoint.request_stop(task_execution_id)
        if state == "waiting":
            self._finished(attempt, TaskStatus.STOPPED, None)
        elif state == "running":
            assert self._context is not None
            # A worker that takes the stop reports within the grace period; one that cannot be reached has
            # ended the task itself (it stops tasks it cannot heartbeat for before the engine's timeout).
            timer = threading.Timer(self.grace + 2 * self._context.heartbeat_interval, self._lost, args=(attempt,))
            timer.daemon = True
            timer.start()

    def _lost(self, attempt: Attempt) -> None:
        """A running attempt asked to stop never reported: its worker is lost; the attempt ends now."""
        assert self._endpoint is not None
        if self._endpoint.end(attempt):
            log.error("the worker %s of task execution %s did not report its stop: lost", attempt.worker,
                      attempt.job.task_execution_id)
            self._finished(attempt, TaskStatus.FAILED, f"the worker {attempt.worker} running the task was lost")

    def busy(self) -> bool:
        """True while an attempt waits for a worker or runs."""
        assert self._endpoint is not None
        return bool(self._endpoint.active())

    def close(self, timeout: float | None = None) -> None:
        """Stop every attempt, wait for the running ones' reports (up to ``timeout``), close the channel."""
        if self._endpoint is None:
            return
        with self._lock:
            self._closed = True
            held = self._lines.waiting()
        for job in held:
            self._report(job, TaskStatus.STOPPED, None)
        for attempt in self._endpoint.active():
            self.stop_task(attempt.job.task_execution_id)
        deadline = time.monotonic() + (timeout if timeout is not None else self.grace + 5)
        while self._endpoint.active() and time.monotonic() < deadline:
            time.sleep(0.05)
        # Attempts still running now are settled as lost by the next engine to lead.
        self._endpoint.close()
