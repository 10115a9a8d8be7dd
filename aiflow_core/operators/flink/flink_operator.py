"""FlinkOperator: submits a Flink job with the ``flink`` command line."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.context import Context
from aiflow_core.operators.command import CommandOperator


class FlinkOperator(CommandOperator):
    """Runs ``flink run`` (or ``flink run-application`` in application mode) for ``application``.

    ``target`` is Flink's ``execution.target`` (``-t``); ``command_options``
    are passed through (e.g. ``-D`` settings, ``--class``);
    ``kubernetes_cluster_id`` sets ``kubernetes.cluster-id``;
    ``executable_path`` defaults to ``flink`` on the ``PATH``, else
    ``$FLINK_HOME/bin/flink``. The task runs as long as the ``flink`` client
    runs (attached mode); stopping the task
    ends the client's process group. ``stop_with_savepoint`` and
    ``jobs_info_poll_interval`` are kept for compatibility.
    """

    tool = "flink"
    tool_home = "FLINK_HOME"

    def __init__(
        self,
        name: str,
        application: str,
        target: str | None = None,
        application_args: Sequence[Any] | None = None,
        executable_path: str | None = None,
        application_mode: bool = False,
        stop_with_savepoint: bool = False,
        kubernetes_cluster_id: str | None = None,
        command_options: str | None = None,
        jobs_info_poll_interval: int = 1,
        **kwargs: Any,
    ) -> None:
        if not isinstance(application, str) or not application:
            raise InvalidWorkflowError(f"task {name!r}: application must be a non-empty string, got {application!r}")
        super().__init__(name, **kwargs)
        self.application = application
        self.target = target
        self.application_args = [str(a) for a in application_args or []]
        self.executable_path = executable_path
        self.application_mode = application_mode
        self.stop_with_savepoint = stop_with_savepoint
        self.kubernetes_cluster_id = kubernetes_cluster_id
        self.command_options = command_options
        self.jobs_info_poll_interval = jobs_info_poll_interval

    def command(self, context: Context) -> Sequence[str]:
        """The ``flink`` command line."""
        argv = [self.executable(), "run-application" if self.application_mode else "run"]
        if self.target:
            argv += ["-t", self.target]
        if self.kubernetes_cluster_id:
            argv.append(f"-Dkubernetes.cluster-id={self.kubernetes_cluster_id}")
        if self.command_options:
            argv += shlex.split(self.command_options)
        if self.application.endswith(".py"):
            argv += ["--python", self.application]
        else:
            argv.append(self.application)
        return argv + self.application_args
