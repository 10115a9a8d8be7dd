"""The names of workflows, tasks and namespaces: what is valid and how long."""

from __future__ import annotations

import re

from aiflow_core.errors import InvalidArgumentError

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
#: The longest workflow or namespace name (each is a directory of the log tree).
MAX_NAME_LENGTH = 255
#: The longest task name: its log file ``<task>-<seq>.log`` must fit the 255 bytes a file name may have.
MAX_TASK_NAME_LENGTH = 200


def check_name(kind: str, name: object) -> None:
    """Raise if ``name`` is not a valid name of a ``kind`` (workflow, task, namespace)."""
    limit = MAX_TASK_NAME_LENGTH if kind == "task" else MAX_NAME_LENGTH
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"{kind} name {name!r} is invalid; use letters, digits, '_', '.' and '-' "
            f"(e.g. 'my_workflow'), at most {limit} characters"
        )
    if len(name) > limit:
        room = " (its log file <task>-<seq>.log must fit a file name)" if kind == "task" else ""
        raise InvalidArgumentError(
            f"{kind} name {name!r} has {len(name)} characters; at most {limit} are allowed{room}; "
            "shorten it"
        )
