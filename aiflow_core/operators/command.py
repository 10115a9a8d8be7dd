"""CommandOperator: runs an external command; the base of the bash, Flink and Spark operators."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiflow_core.common.env import expand_env_var
from aiflow_core.errors import CommandNotFoundError
from aiflow_core.model.context import Context, TaskExecutionContext
from aiflow_core.model.operator import AIFlowOperator

#: Seconds between SIGTERM and SIGKILL when a command is stopped.
STOP_GRACE_SECONDS = 5.0
#: Set by process workers: the worker's process group belongs to the task alone.
OWN_GROUP_ENV = "AIFLOW_TASK_OWNS_PROCESS_GROUP"


class CommandFailedError(RuntimeError):
    """A command exited with a non-zero code."""


def find_command(name: str, home_variable: str, env: Mapping[str, str]) -> str:
    """Return the path of the command ``name``: found on ``PATH``, else ``$<home_variable>/bin/<name>``.

    ``env`` is the environment the command will run with (its ``PATH`` and
    ``home_variable``). Raises :class:`~aiflow_core.errors.CommandNotFoundError`
    naming both places when neither has an executable ``name``.
    """
    on_path = shutil.which(name, path=env.get("PATH", os.defpath))
    if on_path is not None:
        return on_path
    home = env.get(home_variable)
    candidate = expand_env_var(os.path.join(home, "bin", name)) if home else None
    if candidate is not None and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    where = candidate if candidate else f"${home_variable} is not set"
    raise CommandNotFoundError(
        f"cannot find the command {name!r}: not on PATH and not under ${home_variable}/bin ({where}); "
        f"install it on PATH, set {home_variable}, or pass executable_path"
    )


class CommandOperator(AIFlowOperator):
    """Runs the command returned by :meth:`command` in the execution's working directory.

    Output goes to the task log; a non-zero exit code fails the task. Stopping
    sends SIGTERM to the command's process group, then SIGKILL after
    :data:`STOP_GRACE_SECONDS`. ``env_vars`` are added to the environment.
    """

    def __init__(self, name: str, env_vars: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.env_vars = {str(k): str(v) for k, v in (env_vars or {}).items()}
        self._process: subprocess.Popen[bytes] | None = None

    def command(self, context: Context) -> Sequence[str]:
        """The argument vector to run."""
        raise NotImplementedError(f"{type(self).__name__} must implement command(context)")

    #: The command :meth:`executable` looks for (``spark-submit``, ``flink``, ...), if any.
    tool: str | None = None
    #: The environment variable naming the tool's home; ``$<tool_home>/bin`` is searched after ``PATH``.
    tool_home: str | None = None
    #: The command's path given by the user; ``None`` to find :attr:`tool`.
    executable_path: str | None = None

    def executable(self) -> str:
        """``executable_path`` if given, else :attr:`tool` on ``PATH``, else ``$<tool_home>/bin/<tool>``."""
        if self.executable_path:
            return self.executable_path
        if self.tool is None or self.tool_home is None:
            raise NotImplementedError(f"{type(self).__name__} names no tool to find; set executable_path")
        return find_command(self.tool, self.tool_home, self.environment())

    def environment(self) -> dict[str, str]:
        """The process environment plus ``env_vars``: what the command runs with."""
        return {**os.environ, **self.env_vars}

    def start(self, context: Context) -> None:
        """Start the command."""
        log = getattr(context, "log_file", None)
        cwd = getattr(context, "working_dir", None)
        env = self.environment()
        if isinstance(context, TaskExecutionContext):
            env.update(
                AIFLOW_WORKFLOW_EXECUTION_ID=str(context.workflow_execution_id),
                AIFLOW_TASK_NAME=context.task_name,
                AIFLOW_NAMESPACE=context.namespace,
            )
        argv = list(self.command(context))
        if log is not None:
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
        self._process = subprocess.Popen(
            argv,
            stdout=log if log is not None else None,
            stderr=subprocess.STDOUT if log is not None else None,
            cwd=cwd if cwd and os.path.isdir(cwd) else None,
            env=env,
            start_new_session=os.environ.get(OWN_GROUP_ENV) != "1",
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
            raise CommandFailedError(f"command {self._process.args!r} of task {self.name!r} exited with code {code}")

    def stop(self, context: Context) -> None:
        """SIGTERM the command's process group, SIGKILL after the grace period."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        own_group = os.environ.get(OWN_GROUP_ENV) == "1"

        def send(sig: int) -> None:
            try:
                if own_group:
                    os.kill(process.pid, sig)
                else:
                    os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass

        send(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if process.poll() is None:
            send(signal.SIGKILL)
            process.wait()

    def get_metrics(self, context: Context) -> dict[str, Any]:
        """The command's pid and exit code (None while it runs)."""
        process = self._process
        return {} if process is None else {"pid": process.pid, "returncode": process.poll()}
