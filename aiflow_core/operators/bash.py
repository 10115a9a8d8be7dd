"""BashOperator: runs a bash command."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.model.context import Context
from aiflow_core.operators.command import OWN_GROUP_ENV, STOP_GRACE_SECONDS, CommandFailedError, CommandOperator

__all__ = ["OWN_GROUP_ENV", "STOP_GRACE_SECONDS", "BashOperator", "CommandFailedError"]


class BashOperator(CommandOperator):
    """Runs ``bash_command`` with ``bash -c`` in the execution's working directory.

    Output goes to the task log. A non-zero exit code fails the task; stopping
    ends the command's whole process group.
    """

    def __init__(self, name: str, bash_command: str, **kwargs: Any) -> None:
        if not isinstance(bash_command, str) or not bash_command.strip():
            raise InvalidWorkflowError(
                f"task {name!r}: bash_command must be a non-empty string, got {bash_command!r}"
            )
        super().__init__(name, **kwargs)
        self.bash_command = bash_command

    def command(self, context: Context) -> Sequence[str]:
        """``bash -c <bash_command>``."""
        return ["bash", "-c", self.bash_command]
