"""A process worker: runs task executions sent by a process executor, one at a time.

Started as ``python -m aiflow_core.executors.worker`` in its own session. The
worker's standard output carries the message channel, so task output is sent
to the task's log file, at the file-descriptor level too (C code and child
processes included). If the engine dies, the worker kills its process group;
so it does when the engine answers a heartbeat with stop, or answers none
for ``AIFLOW_HEARTBEAT_TIMEOUT`` seconds (the engine is paused or deposed):
the task of an engine that lost the scheduler lease never runs on beside
the attempt a new leader starts.
"""

from __future__ import annotations

import functools
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any


def watch_parent(parent: int) -> None:
    """Kill this process's group once its parent process is gone (call in a daemon thread)."""
    import signal

    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.killpg(0, signal.SIGKILL)


class _Pulse:
    """The heartbeats of the running task and their answers: no answer for ``timeout`` s, or a stop, ends it."""

    def __init__(self, interval: float, timeout: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.task: int | None = None
        self.answered = time.monotonic()
        self.stop = False

    def start(self, te_id: int) -> None:
        self.answered = time.monotonic()
        self.stop = False
        self.task = te_id

    def answer(self, go: bool) -> None:
        self.answered = time.monotonic()
        self.stop = self.stop or not go


def _beat(channel: Any, pulse: _Pulse) -> None:
    import signal

    sent = time.monotonic()
    while True:
        time.sleep(min(pulse.interval, 0.25))
        te_id = pulse.task
        if te_id is None:
            continue
        silent = time.monotonic() - pulse.answered
        if pulse.stop or silent > pulse.timeout:
            why = "told to stop" if pulse.stop else f"no answer to its heartbeats for {silent:.1f} s"
            os.write(2, f"*** stopped by its worker: {why} (the engine lost the scheduler lease, paused or ended)\n"
                     .encode())
            os.killpg(0, signal.SIGKILL)
        if time.monotonic() - sent >= pulse.interval:
            sent = time.monotonic()
            channel.send({"type": "heartbeat", "te": te_id})


def _redirect(fd_target: int) -> None:
    os.dup2(fd_target, 1)
    os.dup2(fd_target, 2)


def blob_secrets_mask(blob_spec: Any) -> Callable[[str], str]:
    """Masks the blob credentials of ``blob_spec`` (a remote worker's own) in what it writes to task logs."""
    from aiflow_core.runtime.output import secrets_mask

    if not isinstance(blob_spec, dict):
        return str
    from aiflow_storage.blob.redaction import secret_values

    return secrets_mask(secret_values(blob_spec))


def _route(channel: Any, jobs: queue.Queue[dict[str, Any] | None], replies: Any, pulse: _Pulse) -> None:
    """Read the engine's messages: replies go to the waiting calls, run requests to the main loop."""
    try:
        while True:
            message = channel.receive()
            if message is None:
                return
            if message.get("type") == "beat":
                pulse.answer(bool(message.get("go")))
            elif message.get("type") == "reply":
                replies.deliver(message)
            else:
                jobs.put(message)
    finally:
        replies.close()
        jobs.put(None)


def main() -> None:
    """Serve run requests until the channel closes."""
    from aiflow_core import serialization
    from aiflow_core.executors.attempt import AttemptClient, Replies
    from aiflow_core.executors.base import TaskJob, log_error, run_task
    from aiflow_core.executors.channel import Channel
    from aiflow_core.executors.definitions import TaskDefinitions
    from aiflow_core.homefiles import open_private
    from aiflow_core.model.status import TaskStatus
    from aiflow_core.operators.bash import OWN_GROUP_ENV
    from aiflow_core.runtime.attempt_blob import CHANNEL_BLOB_SPEC
    from aiflow_core.runtime.context import TaskRuntime

    os.environ[OWN_GROUP_ENV] = "1"
    channel_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    _redirect(devnull)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    channel = Channel(sys.stdin.buffer, channel_out)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    workflows: dict[int, Any] = {}
    definitions = TaskDefinitions()
    home = os.getcwd()
    pulse = _Pulse(
        float(os.environ.get("AIFLOW_HEARTBEAT_INTERVAL") or 10),
        float(os.environ.get("AIFLOW_HEARTBEAT_TIMEOUT") or 60),
    )
    threading.Thread(target=_beat, args=(channel, pulse), daemon=True).start()
    replies = Replies()
    jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(target=_route, args=(channel, jobs, replies, pulse), daemon=True).start()

    while True:
        message = jobs.get()
        if message is None:
            return
        job = TaskJob(**message["job"])
        make_client = functools.partial(AttemptClient, channel.send, replies, message["token"])
        if message.get("frame") is not None:
            workflows[job.snapshot_id] = message["frame"]
        runtime = TaskRuntime(
            namespace=job.namespace, workflow_name=job.workflow_name,
            workflow_execution_id=job.workflow_execution_id, task_name=job.task_name,
            task_execution_id=job.task_execution_id, sequence_number=job.sequence_number,
            client_factory=make_client, wake=lambda: channel.send({"type": "wake"}),
            blob_spec=CHANNEL_BLOB_SPEC,
        )
        try:
            log_fd = open_private(job.log_path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            failure = log_error(job, exc)
            channel.send({"type": "done", "te": job.task_execution_id, "status": "FAILED", "error": failure})
            continue
        _redirect(log_fd)
        os.close(log_fd)
        if job.working_dir and os.path.isdir(job.working_dir):
            os.chdir(job.working_dir)
            sys.path.insert(0, job.working_dir)
        channel.send({"type": "status", "te": job.task_execution_id, "status": "RUNNING"})
        pulse.start(job.task_execution_id)
        status: TaskStatus
        error: str | None
        try:
            stored = functools.partial(serialization.loads_verified, workflows[job.snapshot_id])
            operator = definitions.operator(job, stored)
        except Exception as exc:
            traceback.print_exc()
            status, error = TaskStatus.FAILED, f"task could not be prepared: {type(exc).__name__}: {exc}"
        else:
            status, error = run_task(job, operator, runtime, isolated=True, eager_log=True)
        pulse.task = None
        sys.stdout.flush()
        sys.stderr.flush()
        _redirect(devnull)
        if job.working_dir and sys.path and sys.path[0] == job.working_dir:
            sys.path.pop(0)
        os.chdir(home)
        channel.send({"type": "done", "te": job.task_execution_id, "status": status.value, "error": error})


if __name__ == "__main__":
    main()
