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
3. forks a child process in a session of its own that runs the task, its
   output going to a log file that is uploaded to the blob store every
   couple of seconds and at the end (``aiflow task-execution log ID`` reads it
   there from any machine);
4. sends heartbeats; an answer asking for a stop sends SIGTERM to the child's
   process group, then SIGKILL after the grace period. The Celery worker
   and its other tasks are never touched;
5. reports the final status, then acknowledges the message.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# What the forked children use is imported here, once: a child would import (and compile) it anew each time.
from aiflow_core.errors import InvalidStateError, WorkflowLoadError
from aiflow_core.executors.attempt import AttemptEndedError
from aiflow_core.executors.base import TaskJob, run_task
from aiflow_core.executors.celery_app import TASK_NAME, CelerySettings, make_app
from aiflow_core.executors.remote import ChannelUnreachableError, RemoteAttemptClient, RemoteChannel
from aiflow_core.executors.worker import blob_secrets_mask, watch_parent
from aiflow_core.homefiles import open_private
from aiflow_core.operators.bash import OWN_GROUP_ENV
from aiflow_core.runtime.context import TaskRuntime

log = logging.getLogger("aiflow.worker")

#: How often a running task's log is uploaded to the blob store, in seconds.
LOG_UPLOAD_INTERVAL = 2.0

app = make_app(CelerySettings.load())


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
    from aiflow_core.config import load_config
    from aiflow_core.runtime.blob import blob_spec_from_env
    from aiflow_storage.blob import create_blob_manager

    spec = blob_spec_from_env() or load_config().blob_manager
    return spec, create_blob_manager(spec)


#: The operators of the workflow files of the executions this worker process ran (children inherit them).
_DEFINITIONS: Any = None


def _definitions() -> Any:
    global _DEFINITIONS
    if _DEFINITIONS is None:
        from aiflow_core.executors.definitions import TaskDefinitions

        _DEFINITIONS = TaskDefinitions()
    return _DEFINITIONS


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
        self.log_path = self.home / "worker_logs" / f"{te_id}.log"
        self.job = TaskJob(**fields, log_path=str(self.log_path))
        self.pid = 0
        self.stop_requested = threading.Event()
        self.timed_out = False
        self.ended = threading.Event()
        self._uploaded = -1
        self._blob: Any = None
        self.blob_spec: Any = None
        self._prepare_error = ""

    def run(self) -> str:
        """Run the attempt to its end and report it; returns the final status."""
        # Heartbeats from the claim on: the engine counts the attempt running, and fetching the snapshot and
        # loading the workflow file (its imports) may take longer than the heartbeat timeout.
        beat = threading.Thread(target=self._beat, name=f"aiflow-beat-{self.job.task_execution_id}", daemon=True)
        beat.start()
        try:
            self.blob_spec, self._blob = _blob()
            self.job = self._placed(self.job)
            operator = self._operator()
        except Exception as exc:
            self.ended.set()
            return self._report("FAILED", f"the worker could not prepare the task: {type(exc).__name__}: {exc}")
        if self.stop_requested.is_set():  # stopped (or its engine lost) while it was being prepared
            self.ended.set()
            return self._report("STOPPED", None)
        result_r, result_w = os.pipe()
        gc.freeze()  # the child's collector then leaves the inherited objects alone: fewer copied pages
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child ends with os._exit
            os.close(result_r)
            _child(self.job, operator, self._prepare_error, self.channel, result_w, self.blob_spec)
        os.close(result_w)
        if self.stop_requested.is_set():  # the stop came while the child was being forked
            self._terminate()
        output = self._wait(result_r)
        _, code = os.waitpid(self.pid, 0)
        self.ended.set()
        status, error = self._outcome(output, code)
        self._upload_log()
        return self._report(status, error)

    def _placed(self, job: TaskJob) -> TaskJob:
        """``job`` with its working copy of the snapshot (fetched through the content-addressed cache)."""
        import attrs

        snapshot = self.claim.get("snapshot")
        if not snapshot:
            return job
        from aiflow_storage.blob import SnapshotStore

        store = SnapshotStore(self._blob, self.home / "snapshots")
        # Keyed by the snapshot too: workers serve many engines and databases, whose execution ids repeat.
        dest = (self.home / "working_dir" / job.namespace / job.workflow_name
                / f"{job.workflow_execution_id}-{snapshot['digest'][:16]}")
        working_dir = str(store.working_dir(snapshot["uri"], snapshot["digest"], dest))
        workflow_file = snapshot.get("workflow_file")
        return attrs.evolve(job, working_dir=working_dir,
                            workflow_file=os.path.join(working_dir, workflow_file) if workflow_file else None)

    def _operator(self) -> Any:
        """The task's operator, from the working copy's workflow file (loaded once per file); None when it
        cannot be loaded (the child then fails the task with why). Nothing pickled is ever taken from the
        network: a worker runs only code of snapshots in the blob store, verified by their SHA-256."""

        def no_file() -> Any:
            raise WorkflowLoadError(
                f"the snapshot of workflow {self.job.workflow_name!r} holds no workflow file: the celery executor "
                "runs workflows uploaded from a file (upload_workflows)"
            )

        try:
            return _definitions().operator(self.job, no_file)
        except Exception:
            self._prepare_error = traceback.format_exc()
            return None

    def _wait(self, result_r: int) -> bytes:
        """Read the child's result until it exits, uploading its log and enforcing its timeout meanwhile."""
        chunks: list[bytes] = []
        deadline = None if self.job.execution_timeout is None else time.monotonic() + self.job.execution_timeout
        try:
            while True:
                ready, _, _ = select.select([result_r], [], [], LOG_UPLOAD_INTERVAL)
                if ready:
                    data = os.read(result_r, 65536)
                    if not data:
                        return b"".join(chunks)
                    chunks.append(data)
                    continue
                self._upload_log()
                if deadline is not None and time.monotonic() > deadline and not self.timed_out:
                    self.timed_out = True
                    self._terminate()
        finally:
            os.close(result_r)

    def _outcome(self, output: bytes, code: int) -> tuple[str, str | None]:
        stopped = self.stop_requested.is_set()
        if self.timed_out:
            return "FAILED", f"execution timed out after {self.job.execution_timeout:g} s"
        if output:
            result = json.loads(output)
            status = str(result["status"])
            return ("STOPPED" if stopped and status == "FAILED" else status), result.get("error")
        if stopped:
            return "STOPPED", None
        if os.WIFSIGNALED(code):
            return "FAILED", f"task process was killed by signal {os.WTERMSIG(code)}"
        return "FAILED", f"task process exited with code {os.waitstatus_to_exitcode(code)}"

    def _beat(self) -> None:
        """Heartbeats that also carry stop requests; an ended attempt or a long-silent engine ends the child."""
        last_answer = time.monotonic()
        while not self.ended.is_set():
            try:
                answer = self.channel.call("heartbeat", wait=self.interval, timeout=self.interval + 30)
                last_answer = time.monotonic()
            except AttemptEndedError as exc:
                if not self.ended.is_set():
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
                self.ended.wait(min(self.interval, 1.0))
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

    def _upload_log(self) -> None:
        try:
            size = self.log_path.stat().st_size
        except OSError:
            return
        if size == self._uploaded:
            return
        try:
            self._blob.upload_as(self.log_path, self.log_key)
            self._uploaded = size
        except Exception:
            log.exception("cannot upload the log of task execution %s", self.job.task_execution_id)

    def _report(self, status: str, error: str | None) -> str:
        """Report the final status, retrying while the engine is unreachable for a while."""
        deadline = time.monotonic() + self.unreachable_limit
        while True:
            try:
                self.channel.call("report", status=status, error=error)
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


def _child(job: TaskJob, operator: Any, failure: str, channel: RemoteChannel, result_w: int,
           blob_spec: Any) -> None:  # pragma: no cover - runs in the forked child, which ends with os._exit
    """The attempt's own process: runs the task and writes its final status to ``result_w``; never returns."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
        status, error = _run_child(job, operator, failure, channel, blob_spec)
        os.write(result_w, json.dumps({"status": status, "error": error}).encode())
        code = 0
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(result_w, json.dumps({"status": "FAILED", "error": f"{type(exc).__name__}: {exc}"}).encode())
    finally:
        os._exit(code)


def _run_child(job: TaskJob, operator: Any, failure: str, channel: RemoteChannel,
               blob_spec: Any) -> tuple[str, str | None]:  # pragma: no cover - runs in the child
    os.environ[OWN_GROUP_ENV] = "1"
    log_fd = open_private(job.log_path, os.O_WRONLY | os.O_APPEND | os.O_TRUNC)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    if operator is None:
        sys.stderr.write("*** the task could not be prepared\n" + failure)
        last = failure.strip().splitlines()[-1] if failure.strip() else "unknown error"
        return "FAILED", f"task could not be prepared: {last}"
    if job.working_dir and os.path.isdir(job.working_dir):
        os.chdir(job.working_dir)
        sys.path.insert(0, job.working_dir)
    runtime = TaskRuntime(
        namespace=job.namespace, workflow_name=job.workflow_name,
        workflow_execution_id=job.workflow_execution_id, task_name=job.task_name,
        task_execution_id=job.task_execution_id, sequence_number=job.sequence_number,
        client_factory=functools.partial(RemoteAttemptClient, channel), wake=lambda: None, blob_spec=blob_spec,
        mask=blob_secrets_mask(blob_spec),
    )
    status, error = run_task(job, operator, runtime, isolated=True, eager_log=True)
    sys.stdout.flush()
    sys.stderr.flush()
    return status.value, error
