"""The worker side of the Celery executor: aiflow's Celery task and the supervisor of one attempt.

Start workers with ``aiflow worker --queues a,b --concurrency N`` or with
Celery itself: ``celery -A aiflow_core.executors.celery_worker worker -Q aiflow``.
A worker needs the Celery settings (``celery_broker_url`` in its ``aiflow.yaml``
or ``AIFLOW_CELERY_BROKER_URL``) and access to
the blob store (its own ``aiflow.yaml``, ``AIFLOW_BLOB_URL``), never the
database: it reaches the engine only through the attempt channel named in each
message (see :mod:`aiflow_core.executors.endpoint`).

For each message the worker process:

1. claims the attempt through the channel; a message for an attempt that
   ended, was stopped or superseded, ran already, or is unknown is refused
   and dropped (acknowledged, nothing runs);
2. fetches the execution's snapshot through the blob manager into a
   content-addressed cache under ``$AIFLOW_HOME/snapshots`` and makes the
   execution's working copy;
3. hands the attempt to a spare: a child process forked ahead (by the
   worker process's zygote), in a session of its own, that runs this one
   task and exits (see :mod:`aiflow_core.executors.spare`). The task's output
   goes to a log file that is uploaded to the blob store every couple of
   seconds and at the end, when the task wrote anything (``aiflow
   task-execution log ID`` reads it there from any machine);
4. sends heartbeats; an answer asking for a stop sends SIGTERM to the child's
   process group, then SIGKILL after the grace period. The Celery worker
   and its other tasks are never touched;
5. reports the final status as soon as the child wrote it, then
   acknowledges the message (the child is exiting meanwhile).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiflow_core.errors import InvalidStateError
from aiflow_core.executors.attempt import AttemptEndedError
from aiflow_core.executors.base import TaskJob
from aiflow_core.executors.celery_app import TASK_NAME, CelerySettings, make_app
from aiflow_core.executors.celery_task import blob_spec, run_assignment, warm
from aiflow_core.executors.remote import ChannelUnreachableError, RemoteChannel
from aiflow_core.executors.spare import Spare, take_spare, zygote
from aiflow_core.homefiles import working_copy_path

log = logging.getLogger("aiflow.worker")

#: How often a running task's log is uploaded to the blob store, in seconds.
LOG_UPLOAD_INTERVAL = 2.0

app = make_app(CelerySettings.load())


def _prepare(**_: Any) -> None:
    """Make a new worker process ready for its first attempt, on a thread of its own (Celery gives a process's
    start a few seconds)."""
    threading.Thread(target=_prepared, name="aiflow-prepare", daemon=True).start()


def _prepared() -> None:
    """What the first attempt of a worker process would otherwise wait for (up to 100 ms and more): the blob
    manager and snapshot store (their imports), the zygote, loaded like the zygote of a worker that ran
    tasks, and its first spare."""
    try:
        from aiflow_storage.blob import SnapshotStore  # noqa: F401 - imported now, not by the first attempt

        _blob()
        spares = zygote(_log_dir(), run_assignment, warm)
        spares.warm({})
        spares.ask()
    except Exception:
        log.exception("cannot prepare this worker process for its tasks")


def _connect_signals() -> None:
    from celery.signals import worker_process_init  # Celery is there: make_app imported it

    worker_process_init.connect(_prepare, weak=False)


_connect_signals()


@app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_attempt(message: dict[str, Any]) -> str:
    """Run the task attempt of one message; returns what became of it."""
    return handle_message(message)


def handle_message(message: dict[str, Any]) -> str:
    """Claim the message's attempt and run it, or drop the message; returns the outcome."""
    te_id = message.get("task_execution_id") if isinstance(message, dict) else None
    if not isinstance(message, dict) or not message.get("channel") or not message.get("token"):
        log.error("dropped a message that is no aiflow task attempt: %r", message)
        return "dropped: not an aiflow task attempt"
    channel = RemoteChannel(str(message["channel"]), str(message["token"]))
    try:
        claim = channel.call("claim", worker=f"{socket.gethostname()}:{os.getpid()}", timeout=30)
    except (AttemptEndedError, InvalidStateError, ChannelUnreachableError) as exc:
        log.warning("dropped the message of task execution %s: %s", te_id, exc)
        return f"dropped: {exc}"
    return Supervisor(channel, claim).run()


def _worker_home() -> Path:
    from aiflow_core.config import aiflow_home

    return aiflow_home()


@functools.lru_cache(maxsize=1)
def _blob() -> tuple[Any, Any]:
    """The worker's blob configuration and manager (its own ``aiflow.yaml`` or ``AIFLOW_BLOB_URL``), made once."""
    from aiflow_storage.blob import create_blob_manager

    spec = blob_spec()
    return spec, create_blob_manager(spec)


def _log_dir() -> Path:
    return _worker_home() / "worker_logs"


def _assigned(assignment: dict[str, Any]) -> Spare:
    """A spare that took ``assignment`` (a spare that died waiting is replaced once)."""
    spare = take_spare(_log_dir(), run_assignment, warm)
    try:
        spare.assign(assignment)
    except OSError:
        spare.discard()
        spare = take_spare(_log_dir(), run_assignment, warm)
        spare.assign(assignment)
    return spare


class _Helpers:
    """Daemon threads for the supervisors' side jobs (heartbeats, awaiting a child's exit), kept between
    attempts: starting a thread holds its caller 0.1-0.4 ms, in the start of each attempt."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def run(self, job: Callable[[], None]) -> None:
        """Run ``job`` on an idle thread, or on a new one when none is idle."""
        with self._lock:
            new = not self._idle
            if not new:
                self._idle -= 1  # that thread is taken: it runs this job (or another one put meanwhile)
        self._jobs.put(job)
        if new:
            threading.Thread(target=self._serve, name="aiflow-attempt-helper", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:
                log.exception("a task supervisor's thread failed")
            with self._lock:
                self._idle += 1


_HELPERS = _Helpers()


class Supervisor:
    """Runs one claimed attempt in a child process and stands between it and the engine."""

    def __init__(self, channel: RemoteChannel, claim: dict[str, Any]) -> None:
        self.channel = channel
        self.claim = claim
        self.home = _worker_home()
        self.interval = float(claim.get("heartbeat_interval") or 10.0)
        self.grace = float(claim.get("grace") or 5.0)
        # A task whose engine does not answer is ended one interval before the engine fails it as lost,
        # so that its retry never runs beside it.
        self.unreachable_limit = max(float(claim.get("heartbeat_timeout") or 60.0) - self.interval, self.interval)
        self.log_key = str(claim["log_key"])
        fields = dict(claim["job"])
        te_id = int(fields["task_execution_id"])
        self.log_path = _log_dir() / f"{te_id}.log"
        self.job = TaskJob(**fields, log_path=str(self.log_path))
        self.pid = 0
        self.stop_requested = threading.Event()
        self.timed_out = False
        #: Set once the child wrote its result (its attempt is over), and once it exited.
        self.finished = threading.Event()
        self.ended = threading.Event()
        self._uploaded = 0
        self._blob: Any = None
        self.blob_spec: Any = None

    def run(self) -> str:
        """Run the attempt to its end and report it; returns the final status."""
        # Heartbeats from the claim on: the engine counts the attempt running, and fetching the snapshot and
        # loading the workflow file (its imports) may take longer than the heartbeat timeout.
        _HELPERS.run(self._beat)
        try:
            self.blob_spec, self._blob = _blob()
            self.job = self._placed(self.job)
        except Exception as exc:
            self._settled()
            return self._report("FAILED", f"the worker could not prepare the task: {type(exc).__name__}: {exc}")
        if self.stop_requested.is_set():  # stopped (or its engine lost) while it was being prepared
            self._settled()
            return self._report("STOPPED", None)
        assignment = {"job": self.claim["job"], "working_dir": self.job.working_dir,
                      "workflow_file": self.job.workflow_file, "log_path": self.job.log_path,
                      "channel": self.channel.url.removesuffix("/v1/call"), "token": self.channel.token}
        try:
            spare = _assigned(assignment)
        except Exception as exc:
            self._settled()
            return self._report("FAILED", f"the worker could not start the task's process: {type(exc).__name__}: "
                                f"{exc}")
        self.pid = spare.pid
        if self.stop_requested.is_set():  # the stop came while the spare was being assigned
            self._terminate()
        with contextlib.suppress(OSError):  # while the task runs: the next spare, with what this one loaded
            spares = zygote(_log_dir(), run_assignment, warm)
            spares.warm(assignment)
            spares.ask()
        try:
            output, code = self._wait(spare.result_fd)
            self.finished.set()
            status, error = self._outcome(output, code)
            logged = self._upload_log()
            return self._report(status, error, logged)
        finally:
            # The child has written its result and is exiting: the message is acknowledged meanwhile.
            _HELPERS.run(functools.partial(self._ended, spare.result_fd))

    def _settled(self) -> None:
        """No child will run: the heartbeats end."""
        self.finished.set()
        self.ended.set()

    def _ended(self, result_fd: int) -> None:
        """Wait for the child's exit (its result pipe closing), then drop its log if it wrote none."""
        with contextlib.suppress(OSError):
            while os.read(result_fd, 65536):
                pass
        os.close(result_fd)
        self.ended.set()
        with contextlib.suppress(OSError):
            if not self.log_path.stat().st_size:
                self.log_path.unlink()

    def _placed(self, job: TaskJob) -> TaskJob:
        """``job`` with its working copy of the snapshot (fetched through the content-addressed cache)."""
        import attrs

        snapshot = self.claim.get("snapshot")
        if not snapshot:
            return job
        from aiflow_storage.blob import SnapshotStore

        store = SnapshotStore(self._blob, self.home / "snapshots")
        dest = working_copy_path(self.home, job.namespace, job.workflow_name, job.workflow_execution_id,
                                 snapshot["digest"])
        working_dir = str(store.working_dir(snapshot["uri"], snapshot["digest"], dest))
        workflow_file = snapshot.get("workflow_file")
        return attrs.evolve(job, working_dir=working_dir,
                            workflow_file=os.path.join(working_dir, workflow_file) if workflow_file else None)

    def _wait(self, result_fd: int) -> tuple[bytes, int | None]:
        """Read the child's result line, uploading its log and enforcing its timeout meanwhile; returns it, with
        the child's wait status when it ended without one (None: it wrote one, or its status is unknown)."""
        chunks: list[bytes] = []
        deadline = None if self.job.execution_timeout is None else time.monotonic() + self.job.execution_timeout
        while True:
            ready, _, _ = select.select([result_fd], [], [], LOG_UPLOAD_INTERVAL)
            if ready:
                data = os.read(result_fd, 65536)
                chunks.append(data)
                if data.endswith(b"\n"):
                    return b"".join(chunks), None
                if not data:
                    return b"".join(chunks), self._status()
                continue
            self._upload_log()
            if deadline is not None and time.monotonic() > deadline and not self.timed_out:
                self.timed_out = True
                self._terminate()

    def _status(self) -> int | None:
        """The wait status of the child, which ended without a result (from the zygote that forked it)."""
        try:
            return zygote(_log_dir(), run_assignment, warm).status(self.pid)
        except (OSError, ValueError, InvalidStateError):
            return None

    def _outcome(self, output: bytes, code: int | None) -> tuple[str, str | None]:
        stopped = self.stop_requested.is_set()
        if self.timed_out:
            return "FAILED", f"execution timed out after {self.job.execution_timeout:g} s"
        if output:
            result = json.loads(output)
            status = str(result["status"])
            return ("STOPPED" if stopped and status == "FAILED" else status), result.get("error")
        if stopped:
            return "STOPPED", None
        if code is None:
            return "FAILED", "task process ended without a result"
        if os.WIFSIGNALED(code):
            return "FAILED", f"task process was killed by signal {os.WTERMSIG(code)}"
        return "FAILED", f"task process exited with code {os.waitstatus_to_exitcode(code)}"

    def _beat(self) -> None:
        """Heartbeats that also carry stop requests; an ended attempt or a long-silent engine ends the child."""
        last_answer = time.monotonic()
        while not self.finished.is_set():
            try:
                answer = self.channel.call("heartbeat", wait=self.interval, timeout=self.interval + 30)
                last_answer = time.monotonic()
            except AttemptEndedError as exc:
                if not self.finished.is_set():
                    log.warning("task execution %s was ended by its engine: %s", self.job.task_execution_id, exc)
                    self.stop_requested.set()
                    self._terminate()
                return
            except (ChannelUnreachableError, InvalidStateError) as exc:
                if time.monotonic() - last_answer > self.unreachable_limit:
                    log.error("ending task execution %s: %s", self.job.task_execution_id, exc)
                    self.stop_requested.set()
                    self._terminate()
                    return
                self.finished.wait(min(self.interval, 1.0))
                continue
            if answer and answer.get("stop"):
                if not self.stop_requested.is_set():
                    self.stop_requested.set()
                    self._terminate()
                # Beat on until the child has ended (a task ignoring SIGTERM runs for the grace period), or the
                # engine would count the attempt lost while its process still runs.
                self.ended.wait(self.interval)

    def _terminate(self) -> None:
        """SIGTERM to the child's process group now, SIGKILL after the grace period (no child yet: nothing)."""
        if not self.pid:
            return
        _signal_group(self.pid, signal.SIGTERM)
        timer = threading.Timer(self.grace, self._kill)
        timer.daemon = True
        timer.start()

    def _kill(self) -> None:
        if not self.ended.is_set():
            _signal_group(self.pid, signal.SIGKILL)

    def _upload_log(self) -> bool:
        """Upload the task's log if it grew since the last upload; returns whether any log was uploaded (a
        task that wrote nothing has none)."""
        try:
            size = self.log_path.stat().st_size
        except OSError:
            size = 0
        if size != self._uploaded:
            try:
                self._blob.upload_as(self.log_path, self.log_key)
                self._uploaded = size
            except Exception:
                log.exception("cannot upload the log of task execution %s", self.job.task_execution_id)
        return self._uploaded > 0

    def _report(self, status: str, error: str | None, logged: bool = False) -> str:
        """Report the final status (and whether a log was uploaded), retrying while the engine is unreachable
        for a while."""
        deadline = time.monotonic() + self.unreachable_limit
        while True:
            try:
                self.channel.call("report", status=status, error=error, log=logged)
                return status
            except AttemptEndedError as exc:
                log.warning("the engine refused the report of task execution %s: %s", self.job.task_execution_id,
                            exc)
                return status
            except (ChannelUnreachableError, InvalidStateError) as exc:
                if time.monotonic() > deadline:
                    log.error("cannot report %s of task execution %s: %s", status, self.job.task_execution_id, exc)
                    return status
                time.sleep(1.0)


def _signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the child's process group. A child forked a moment ago may not have made its group yet
    (``os.setsid``): it gets the signal once it has, instead of the signal being lost."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            os.killpg(pid, sig)
            return
        except PermissionError:
            return
        except ProcessLookupError:
            try:
                os.kill(pid, 0)
            except (ProcessLookupError, PermissionError):
                return  # the child is gone
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
                return
            time.sleep(0.005)
