"""One run of a task at a time: a new run waits until the run it replaces has really ended.

A RESTART (or a STOP followed by a START) decides the new run while the old
one may still be running: a thread that does not take the stop request at
once, a process that ignores SIGTERM until it is killed. Executors keep one
line per task of a workflow execution; a run leaves the line when it ends and
the next run in the line may then start. The old run shows STOPPING until its
end is reported; the new one stays QUEUED until then.

Not thread-safe: executors call it under their own lock.
"""

from __future__ import annotations

from collections import deque

from aiflow_core.executors.base import TaskJob

_Key = tuple[int, str]


def _key(job: TaskJob) -> _Key:
    return job.workflow_execution_id, job.task_name


class TaskLines:
    """The submitted, unfinished runs of each task, in submission order; the first may run."""

    def __init__(self) -> None:
        self._lines: dict[_Key, deque[TaskJob]] = {}

    def admit(self, job: TaskJob) -> bool:
        """Put ``job`` in its task's line; True if it may start now (no earlier run is unfinished)."""
        line = self._lines.setdefault(_key(job), deque())
        line.append(job)
        return len(line) == 1

    def finished(self, job: TaskJob) -> TaskJob | None:
        """Take an ended ``job`` out of its line; returns the run that may start now, if one waits."""
        key = _key(job)
        line = self._lines.get(key)
        index = next((i for i, j in enumerate(line or ()) if j.task_execution_id == job.task_execution_id), None)
        if line is None or index is None:
            return None
        del line[index]
        if not line:
            del self._lines[key]
            return None
        return line[0] if index == 0 else None

    def withdraw(self, task_execution_id: int) -> TaskJob | None:
        """Take out a run that waits behind an earlier one (it never started); None if there is none."""
        for key, line in self._lines.items():
            for job in list(line)[1:]:
                if job.task_execution_id == task_execution_id:
                    line.remove(job)
                    if not line:
                        del self._lines[key]
                    return job
        return None

    def waiting(self) -> list[TaskJob]:
        """Take out every run that waits behind an earlier one."""
        held: list[TaskJob] = []
        for line in self._lines.values():
            while len(line) > 1:
                held.append(line.pop())
        return held
