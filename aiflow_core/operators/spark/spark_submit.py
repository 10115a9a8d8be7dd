"""SparkSubmitOperator: submits a Spark application with ``spark-submit``."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.context import Context
from aiflow_core.operators.command import CommandOperator


class SparkSubmitOperator(CommandOperator):
    """Runs ``spark-submit`` for ``application`` (a jar, Python or R file).

    ``master``, ``deploy_mode`` and ``application_name`` become ``--master``,
    ``--deploy-mode`` and ``--name``; ``submit_options`` are passed through
    (e.g. ``--conf`` or ``--class``); ``k8s_namespace`` sets
    ``spark.kubernetes.namespace``; ``env_vars`` are added to the environment.
    ``executable_path`` defaults to ``spark-submit`` on the ``PATH``, else
    ``$SPARK_HOME/bin/spark-submit``.
    """

    tool = "spark-submit"
    tool_home = "SPARK_HOME"

    def __init__(
        self,
        name: str,
        application: str,
        application_args: Sequence[Any] | None = None,
        executable_path: str | None = None,
        master: str = "yarn",
        deploy_mode: str = "client",
        application_name: str | None = None,
        submit_options: str | None = None,
        k8s_namespace: str | None = None,
        env_vars: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(application, str) or not application:
            raise InvalidWorkflowError(f"task {name!r}: application must be a non-empty string, got {application!r}")
        if deploy_mode not in ("client", "cluster"):
            raise InvalidWorkflowError(f"task {name!r}: deploy_mode must be 'client' or 'cluster', got {deploy_mode!r}")
        super().__init__(name, env_vars=env_vars, **kwargs)
        self.application = application
        self.application_args = [str(a) for a in application_args or []]
        self.executable_path = executable_path
        self.master = master
        self.deploy_mode = deploy_mode
        self.application_name = application_name or name
        self.submit_options = submit_options
        self.k8s_namespace = k8s_namespace

    def command(self, context: Context) -> Sequence[str]:
        """The ``spark-submit`` command line."""
        argv = [
            self.executable(), "--master", self.master, "--deploy-mode", self.deploy_mode,
            "--name", self.application_name,
        ]
        if self.k8s_namespace:
            argv += ["--conf", f"spark.kubernetes.namespace={self.k8s_namespace}"]
        if self.submit_options:
            argv += shlex.split(self.submit_options)
        return [*argv, self.application, *self.application_args]
