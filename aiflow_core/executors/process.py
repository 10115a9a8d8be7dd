"""The process executor: runs tasks in a pool of worker processes.

Each worker runs one task at a time in its own session (process group).
Python callables travel as the pickled workflow of the execution's snapshot.
Stopping a task sends SIGTERM to its worker's process group (the task's bash
commands included) and SIGKILL after ``grace`` seconds; the worker is then
replaced. A new run of a task (a RESTART) starts once the worker of the run
it replaces has ended; until then the old run shows STOPPING and the new one
QUEUED. Workers are reused across tasks, so a task costs no interpreter
start-up once the pool is warm, except a worker that was sent a signal: it
is retired, so a stop meant for one run never reaches the next job. A stop
names its attempt (task execution and epoch) and reaches only that one.
Each heartbeat of a worker is answered go on or stop; a worker told to stop,
or answered by nobody for ``heartbeat_timeout`` seconds (its engine paused,
deposed or gone), kills its task itself. Closing waits for every worker's
last report.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import attrs

from aiflow_core.executors.base import Executor, ExecutorContext, Reporter, TaskJob
from aiflow_core.executors.channel import Channel
from aiflow_core.executors.lines import TaskLines
from aiflow_core.model.status import TaskStatus

#: Keys of the engine's environment that workers never get: tasks hold no keys.
WITHHELD_ENV = ("AIFLOW_DB_URL", "AIFLOW_PICKLE_SECRET", "AIFLOW_BLOB_URL")
_JOB_FIELDS = [f.name for f in attrs.fields(TaskJob) if f.name not in ("operator", "snapshot_frame")]


class _Worker:
    def __init__(self, env: dict[str, str], on_message: Callable[[_Worker, dict[str, Any] | None], None]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiflow_core.executors.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True, env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.channel = Channel(self.process.stdout, self.process.stdin)
        self.job: TaskJob | None = None
        self.stopping = False
        #: Set once the worker's process group was sent a signal: it then never takes another job.
        self.signalled = False
        self.timed_out: float | None = None
        self.timer: threading.Timer | None = None
        self.snapshots: set[int] = set()
        #: The token of the attempt this worker runs: its calls must carry it.
        self.token: str | None = None
        self._on_message = on_message
        self.reader = threading.Thread(target=self._read, name=f"aiflow-worker-{self.process.pid}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.channel.receive()
            except (OSError, ValueError):
                message = None
            self._on_message(self, message)
            if message is None:
                return

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


class ProcessExecutor(Executor):
    """Runs up to ``parallelism`` tasks at once, each in a worker process."""

    name = "process"

    def __init__(self, parallelism: int = 10, grace: float = 5.0) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        self.parallelism = parallelism
        self.grace = grace
        self.env: dict[str, str] = {}
        self._lock = threading.Lock()
        self._queue: deque[TaskJob] = deque()
        self._seen: set[int] = set()
        self._idle: list[_Worker] = []
        self._workers: list[_Worker] = []
        #: Workers whose reader has not yet handled their exit (those of ``_workers`` and the exiting ones).
        self._unfinished: set[_Worker] = set()
        self._busy: dict[int, _Worker] = {}
        self._lines = TaskLines()
        self._reporter: Reporter | None = None
        self._wake: Callable[[], None] = lambda: None
        self._heartbeat: Callable[[int], bool] = lambda te_id: True
        self._serve: Callable[[TaskJob, str, dict[str, Any]], Any] | None = None
        self._closed = False

    def open(self, context: ExecutorContext) -> None:
        """Keep the engine's callbacks; workers start on demand."""
        self._reporter = context.reporter
        self._wake = context.wake
        self._heartbeat = context.heartbeat
        self._serve = context.serve
        self.env = {
            **context.env, "AIFLOW_HEARTBEAT_INTERVAL": str(context.heartbeat_interval),
            "AIFLOW_HEARTBEAT_TIMEOUT": str(context.heartbeat_timeout),
        }

    @property
    def needs_snapshot_frame(self) -> bool:
        """Jobs carry the pickled workflow to the workers."""
        return True

    @property
    def sends_heartbeats(self) -> bool:
        """Workers send a heartbeat every ``task_heartbeat_interval`` while a task runs."""
        return True

    def submit(self, job: TaskJob) -> None:
        """Queue ``job``; it starts when a worker is free and no earlier run of its task still runs."""
        assert self._reporter is not None
        with self._lock:
            if job.task_execution_id in self._seen:
                return
            self._seen.add(job.task_execution_id)
            closed = self._closed
            if not closed and self._lines.admit(job):
                self._queue.append(job)
        if closed:
            self._reporter(job, TaskStatus.STOPPED, None)  # submitted after the close: never started
            return
        self._pump()

    def _pump(self) -> None:
        while True:
            with self._lock:
                if not self._queue or self._closed:
                    return
                if self._idle:
                    worker = self._idle.pop()
                elif len(self._workers) < self.parallelism:
                    worker = self._spawn()
                else:
                    return
                job = self._queue.popleft()
                worker.job = job
                worker.stopping = False
                worker.timed_out = None
                if job.execution_timeout is not None:
                    worker.timer = threading.Timer(job.execution_timeout, self._time_out, args=(worker, job))
                    worker.timer.daemon = True
                    worker.timer.start()
                self._busy[job.task_execution_id] = worker
                frame = None if job.snapshot_id in worker.snapshots else job.snapshot_frame
                worker.snapshots.add(job.snapshot_id)
                worker.token = token = secrets.token_urlsafe(24)
            try:
                worker.channel.send(
                    {"job": {k: getattr(job, k) for k in _JOB_FIELDS}, "frame": frame, "token": token}
                )
            except OSError:
                self._on_message(worker, None)

    def _spawn(self) -> _Worker:
        """Start a worker process of the pool (call with the lock held)."""
        env = {k: v for k, v in os.environ.items() if k not in WITHHELD_ENV}
        worker = _Worker({**env, **self.env}, self._on_message)
        self._workers.append(worker)
        self._unfinished.add(worker)
        return worker

    def _on_message(self, worker: _Worker, message: dict[str, Any] | None) -> None:
        assert self._reporter is not None
        if message is not None and message.get("type") == "wake":
            self._wake()
            return
        if message is not None and message.get("type") == "heartbeat":
            go = self._heartbeat(int(message["te"]))
            with contextlib.suppress(OSError):  # a worker that is gone needs no answer
                worker.channel.send({"type": "beat", "go": go})
            return
        if message is not None and message.get("type") == "call":
            self._answer(worker, message)
            return
        job = worker.job
        if message is not None and message.get("type") == "status":
            if job is not None:
                self._reporter(job, TaskStatus(message["status"]), None)
            return
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        with self._lock:
            if job is not None:
                self._busy.pop(job.task_execution_id, None)
            worker.job = None
            worker.token = None
            if message is None or worker.signalled:
                # A worker that was sent a signal is never reused: the signal may still be on its way.
                if worker in self._workers:
                    self._workers.remove(worker)
                    if worker.signalled and not self._closed:
                        # Its replacement starts now, so the next run (a RESTART's) finds a worker that is up.
                        self._idle.append(self._spawn())
                if message is not None:
                    self._retire(worker)
            elif not self._closed:
                self._idle.append(worker)
        if job is not None:
            if worker.timed_out is not None:
                self._reporter(job, TaskStatus.FAILED, f"execution timed out after {worker.timed_out:g} s")
            elif message is None:
                code = worker.process.wait()
                if worker.stopping:
                    self._reporter(job, TaskStatus.STOPPED, None)
                else:
                    self._reporter(job, TaskStatus.FAILED, f"worker process exited with code {code}")
            else:
                status = TaskStatus(message["status"])
                if worker.stopping and status is TaskStatus.FAILED:
                    status = TaskStatus.STOPPED
                self._reporter(job, status, message.get("error"))
            with self._lock:
                after = self._lines.finished(job)
                if after is not None and not self._closed:
                    self._queue.append(after)
        if message is None:
            with self._lock:
                self._unfinished.discard(worker)  # its last report is made
        self._pump()

    def _answer(self, worker: _Worker, message: dict[str, Any]) -> None:
        """Carry out a call of the attempt the worker runs, if its token is that attempt's."""
        reply: dict[str, Any] = {"type": "reply", "id": message.get("id")}
        with self._lock:
            job, token = worker.job, worker.token
        if job is None or token is None or not hmac.compare_digest(str(message.get("token")), token):
            reply.update(error="the token of this call names no running attempt (it ended)", ended=True)
        elif self._serve is None:
            reply["error"] = "this engine serves no calls of task attempts"
        else:
            try:
                reply["result"] = self._serve(job, str(message.get("op")), dict(message.get("args") or {}))
            except Exception as exc:
                reply["error"] = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError):  # the worker is gone; its reader reports the end
            worker.channel.send(reply)

    def _time_out(self, worker: _Worker, job: TaskJob) -> None:
        with self._lock:
            if worker.job is job and job.execution_timeout is not None:
                worker.timed_out = job.execution_timeout
                self._end(worker)

    def _end(self, worker: _Worker) -> None:
        """End the worker running a job (call with the lock held, after checking which job it runs)."""
        worker.signalled = True
        worker.signal_group(signal.SIGTERM)
        timer = threading.Timer(self.grace, self._kill_if_alive, args=(worker,))
        timer.daemon = True
        timer.start()

    @staticmethod
    def _retire(worker: _Worker) -> None:
        """Let a worker that finished its job but was signalled exit: it gets no further job."""
        with contextlib.suppress(OSError):
            assert worker.process.stdin is not None
            worker.process.stdin.close()

    def stop_task(self, task_execution_id: int, epoch: int | None = None) -> None:
        """Stop a queued task, or end the worker running it; a stop naming an attempt reaches only it."""
        assert self._reporter is not None
        with self._lock:
            queued = next((j for j in self._queue if j.task_execution_id == task_execution_id), None)
            if queued is not None:
                self._queue.remove(queued)
                after = self._lines.finished(queued)
                if after is not None:
                    self._queue.append(after)
            else:
                queued = self._lines.withdraw(task_execution_id)  # waiting behind an earlier run
            worker = self._busy.get(task_execution_id)
            job = None if worker is None else worker.job
            if worker is not None and job is not None and epoch in (None, job.epoch) and not worker.stopping:
                worker.stopping = True
                self._end(worker)  # under the lock: the worker cannot take another job meanwhile
        if queued is not None:
            self._reporter(queued, TaskStatus.STOPPED, None)
            self._pump()

    @staticmethod
    def _kill_if_alive(worker: _Worker) -> None:
        if worker.process.poll() is None:
            worker.signal_group(signal.SIGKILL)

    def busy(self) -> bool:
        """True while tasks are queued or running."""
        with self._lock:
            return bool(self._queue or self._busy)

    def close(self, timeout: float | None = None) -> None:
        """Stop running tasks, report the queued ones stopped, end every worker and wait for its last report."""
        with self._lock:
            self._closed = True
            running = list(self._busy)
            workers = list(self._workers)
            queued = list(self._queue) + self._lines.waiting()
            self._queue.clear()
        assert self._reporter is not None
        for job in queued:
            self._reporter(job, TaskStatus.STOPPED, None)
        for te_id in running:
            self.stop_task(te_id)
        for worker in workers:
            try:
                assert worker.process.stdin is not None
                worker.process.stdin.close()
            except OSError:
                pass
        for worker in workers:
            try:
                worker.process.wait(timeout if timeout is not None else self.grace + 1)
            except subprocess.TimeoutExpired:
                worker.signal_group(signal.SIGKILL)
                worker.process.wait()
        with self._lock:
            exiting = list(self._unfinished)  # workers that ended before the close included
        for worker in exiting:
            # The worker has exited; its reader reports the end of its task once it has read everything.
            worker.reader.join(self.grace)
