"""Statuses of workflow and task executions."""

from __future__ import annotations

from enum import Enum


class TaskStatus(str, Enum):
    """Status of a task execution.

    INIT: created, not yet queued. QUEUED: handed to an executor. RUNNING: running
    on a worker. SUCCESS / FAILED: finished. STOPPING: asked to stop, not yet
    stopped. STOPPED: stopped on request. RETRYING: failed with retry attempts
    left; it will run again.
    """

    INIT = "INIT"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    RETRYING = "RETRYING"

    @property
    def is_final(self) -> bool:
        """True for SUCCESS, FAILED and STOPPED."""
        return self in _FINAL_TASK

    @property
    def is_alive(self) -> bool:
        """True while the task counts as running for START/STOP decisions.

        STOPPING is not alive: once a stop is decided, a START starts a new
        execution at once instead of racing the stop.
        """
        return self in _ALIVE_TASK


_FINAL_TASK = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.STOPPED})
_ALIVE_TASK = frozenset(
    {TaskStatus.INIT, TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.RETRYING}
)


class WorkflowStatus(str, Enum):
    """Status of a workflow execution."""

    INIT = "INIT"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    STOPPED = "STOPPED"

    @property
    def is_final(self) -> bool:
        """True for SUCCESS, FAILED and STOPPED."""
        return self in (WorkflowStatus.SUCCESS, WorkflowStatus.FAILED, WorkflowStatus.STOPPED)
