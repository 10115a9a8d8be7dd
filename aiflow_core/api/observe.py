"""Client operations for seeing what happens: whether an engine serves the database, and task runs' logs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import attrs

from aiflow_core.api.base import ClientBase, check_id
from aiflow_core.errors import InvalidArgumentError, NotFoundError

#: The lease an engine holds while it schedules the executions of its database.
LEASE_NAME = "scheduler"


def dead_local_owner(owner: str) -> bool:
    """True if ``owner`` (``host:pid:token``) names a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@attrs.frozen(kw_only=True)
class TaskLog:
    """A piece of a task run's log, from byte ``offset`` up to ``next_offset``.

    ``complete`` is True once the run has a final status and the piece
    reaches the end of its log: nothing more will be written.
    """

    task_execution_id: int
    path: str
    text: str
    offset: int
    next_offset: int
    complete: bool


class ObserveOps(ClientBase):
    """Engine presence and task logs."""

    def serving_engine(self) -> str | None:
        """The engine (``host:pid:token``) that holds this database's scheduler lease, or None.

        With None no engine schedules anything: new executions stay INIT
        until one starts (``aiflow server start -d``, an :class:`Engine`, or
        ``aiflow run``).
        """
        with self._tx(readonly=True) as tx:
            lease = tx.get_lease(LEASE_NAME)
        if lease is None or not lease.live or dead_local_owner(lease.owner):
            return None
        return lease.owner

    def read_task_execution_log(self, task_execution_id: int, offset: int = 0) -> TaskLog:
        """Read a task run's log from byte ``offset`` on.

        While the run is alive only whole lines are returned, so a reader
        following the log (calling again from ``next_offset``) never splits
        a line or a character. A run that has written nothing has no log file
        yet (it is created on the first write): its log is empty. Raises
        NotFoundError for an unknown id.
        """
        check_id("task execution", task_execution_id)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidArgumentError(f"log offset must be a non-negative integer, got {offset!r}")
        with self._tx(readonly=True) as tx:
            run = tx.get_task_execution(task_execution_id)
        if run is None:
            raise NotFoundError("task execution", task_execution_id, "list them with aiflow task-execution list")
        finished = run.status.is_final
        path = Path(run.log_path) if run.log_path else None
        if path is None or not path.is_file():
            return TaskLog(
                task_execution_id=task_execution_id, path=str(path or ""), text="", offset=offset,
                next_offset=offset, complete=finished,
            )
        with open(path, "rb") as log_file:
            log_file.seek(offset)
            data = log_file.read()
        if not finished:
            data = data[: data.rfind(b"\n") + 1]
        return TaskLog(
            task_execution_id=task_execution_id, path=str(path), text=data.decode("utf-8", errors="replace"),
            offset=offset, next_offset=offset + len(data), complete=finished,
        )
