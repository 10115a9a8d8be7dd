"""SparkSqlOperator: runs SQL with ``spark-sql`` (client mode)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.context import Context
from aiflow_core.operators.command import CommandOperator


class SparkSqlOperator(CommandOperator):
    """Runs ``spark-sql --master <master> --name <name> -e <sql>``; client mode only.

    ``executable_path`` defaults to ``spark-sql`` on the ``PATH``, else
    ``$SPARK_HOME/bin/spark-sql``.
    """

    tool = "spark-sql"
    tool_home = "SPARK_HOME"

    def __init__(
        self,
        name: str,
        sql: str,
        master: str = "yarn",
        application_name: str | None = None,
        executable_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(sql, str) or not sql.strip():
            raise InvalidWorkflowError(f"task {name!r}: sql must be a non-empty string, got {sql!r}")
        super().__init__(name, **kwargs)
        self.sql = sql
        self.master = master
        self.application_name = application_name or name
        self.executable_path = executable_path

    def command(self, context: Context) -> Sequence[str]:
        """The ``spark-sql`` command line."""
        return [self.executable(), "--master", self.master, "--name", self.application_name, "-e", self.sql]
