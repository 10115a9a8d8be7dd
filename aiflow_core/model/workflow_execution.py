"""WorkflowExecution: an instance of a workflow, as the original model defines it."""

from __future__ import annotations

import datetime as dt

from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.status import WorkflowStatus


class WorkflowExecution:
    """One execution of a workflow."""

    def __init__(
        self,
        workflow_id: int,
        execution_type: ExecutionType,
        begin_date: dt.datetime | None,
        end_date: dt.datetime | None,
        status: WorkflowStatus,
        id: int | None = None,
    ) -> None:
        self.workflow_id = workflow_id
        self.execution_type = ExecutionType(execution_type)
        self.begin_date = begin_date
        self.end_date = end_date
        self.status = WorkflowStatus(status)
        self.id = id

    def __repr__(self) -> str:
        return f"WorkflowExecution(id={self.id}, workflow_id={self.workflow_id}, status={self.status.value})"
