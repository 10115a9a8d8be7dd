"""TaskExecution: an instance of a task, as the original model defines it."""

from __future__ import annotations

import datetime as dt

from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.status import TaskStatus


class TaskExecution:
    """One run of a task in a workflow execution (``sequence_number`` counts the runs)."""

    def __init__(
        self,
        workflow_execution_id: int,
        task_name: str,
        sequence_number: int,
        execution_type: ExecutionType,
        begin_date: dt.datetime | None = None,
        end_date: dt.datetime | None = None,
        status: TaskStatus = TaskStatus.INIT,
        id: int | None = None,
    ) -> None:
        self.workflow_execution_id = workflow_execution_id
        self.task_name = task_name
        self.sequence_number = sequence_number
        self.execution_type = ExecutionType(execution_type)
        self.begin_date = begin_date
        self.end_date = end_date
        self.status = TaskStatus(status)
        self.id = id

    def __repr__(self) -> str:
        return (
            f"TaskExecution(id={self.id}, workflow_execution_id={self.workflow_execution_id}, "
            f"task_name={self.task_name!r}, sequence_number={self.sequence_number}, status={self.status.value})"
        )
