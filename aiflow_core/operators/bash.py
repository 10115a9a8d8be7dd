"""BashOperator: runs a bash command."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.context import Context, TaskExecutionContext
from aiflow_core.model.operator import AIFlowOperator

#: Seconds between SIGTERM and SIGKILL when a command is stopped.
STOP_GRACE_SECONDS = 5.0
#: Set by process workers: the worker's process group belongs to the task alone.
OWN_GROUP_ENV = "AIFLOW_TASK_OWNS_PROCESS_GROUP"


class CommandFailedError(RuntimeError):
    """A command exited with a non-zero code."""


class BashOperator(AIFlowOperator):
    """Runs ``bash_command`` with ``bash -c`` in the execution's working directory.

    Output goes to the task log. A non-zero exit code fails the task. Stopping
    sends SIGTERM to the command's process group, then SIGKILL after
    :data:`STOP_GRACE_SECONDS`.
    """

    def __init__(self, name: str, bash_command: str, **kwargs: Any) -> None:
        if not isinstance(bash_command, str) or not bash_command.strip():
            raise InvalidWorkflowError(
                f"task {name!r}: bash_command must be a non-empty string, got {bash_command!r}"
            )
        super().__init__(name, **kwargs)
        self.bash_command = bash_command
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, context: Context) -> None:
        """Start the command."""
        log = getattr(context, "log_file", None)
        cwd = getattr(context, "working_dir", None)
        env = dict(os.environ)
        if isinstance(context, TaskExecutionContext):
            env.update(
                AIFLOW_WORKFLOW_EXECUTION_ID=str(context.workflow_execution_id),
                AIFLOW_TASK_NAME=context.task_name,
                AIFLOW_NAMESPACE=context.namespace,
            )
        own_group = os.environ.get(OWN_GROUP_ENV) == "1"
        if log is not None:
            log.flush()
        self._process = subprocess.Popen(
            ["bash", "-c", self.bash_command],
            stdout=log if log is not None else None,
            stderr=subprocess.STDOUT if log is not None else None,
            cwd=cwd if cwd and os.path.isdir(cwd) else None,
            env=env,
            start_new_session=not own_group,
        )

    def await_termination(self, context: Context, timeout: float | None = None) -> None:
        """Wait for the command; raises if it fails or outlives ``timeout`` seconds."""
        if self._process is None:
            return
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(context)
            raise TimeoutError(f"command of task {self.name!r} ran longer than {timeout} s") from None
        if code != 0:
            raise CommandFailedError(f"command {self.bash_command!r} exited with code {code}")

    def stop(self, context: Context) -> None:
        """SIGTERM the command's process group, SIGKILL after the grace period."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        own_group = os.environ.get(OWN_GROUP_ENV) == "1"
        target = process.pid

        def send(sig: int) -> None:
            try:
                if own_group:
                    os.kill(target, sig)
                else:
                    os.killpg(target, sig)
            except ProcessLookupError:
                pass

        send(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if process.poll() is None:
            send(signal.SIGKILL)
            process.wait()
