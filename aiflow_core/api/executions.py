"""Client operations on workflow and task executions."""

from __future__ import annotations

from aiflow_core import serialization
from aiflow_core.api.base import ClientBase, check_id, check_limit_offset
from aiflow_core.errors import InvalidArgumentError, InvalidStateError, NotFoundError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.internal.events import TaskOperation
from aiflow_core.model.meta import StartCause, StartKind, TaskExecutionMeta, WorkflowExecutionMeta
from aiflow_core.model.status import WorkflowStatus
from aiflow_core.ports import StoreTx


class ExecutionOps(ClientBase):
    """Workflow executions and task executions."""

    def start_workflow_execution(self, workflow_name: str, namespace: str = "default") -> int:
        """Start a new execution of the workflow's latest snapshot; returns its id.

        Refused (InvalidStateError) for a disabled workflow. The engine starts
        the tasks that have no START rule as soon as it sees the execution.
        """
        with self._tx() as tx:
            workflow = self._workflow(tx, workflow_name, namespace)
            if not workflow.is_enabled:
                raise InvalidStateError(
                    f"workflow {namespace}.{workflow_name} is disabled; enable it with enable_workflow"
                )
            if workflow.snapshot_id is None:
                raise InvalidStateError(f"workflow {namespace}.{workflow_name} has no snapshot; upload it again")
            execution = tx.add_workflow_execution(
                workflow, workflow.snapshot_id, ExecutionType.MANUAL, WorkflowStatus.INIT, self.now(),
                StartCause(kind=StartKind.MANUAL),
            )
            tx.append_events(
                [Event(workflow_name, None, namespace=namespace, kind=EventKind.START_WORKFLOW,
                       workflow_execution_id=execution.id)],
                self.now(),
            )
        self._written()
        return execution.id

    def stop_workflow_execution(self, workflow_execution_id: int) -> None:
        """Ask the engine to stop an execution and its tasks; a finished one is left as is."""
        with self._tx() as tx:
            execution = self._execution(tx, workflow_execution_id)
            if execution.status.is_final:
                return
            self._append_stop(tx, execution)
        self._written()

    def stop_workflow_executions(self, workflow_name: str, namespace: str = "default") -> None:
        """Stop every unfinished execution of a workflow."""
        with self._tx() as tx:
            workflow = self._workflow(tx, workflow_name, namespace)
            for execution in tx.list_workflow_executions(
                workflow.id, statuses=[WorkflowStatus.INIT, WorkflowStatus.RUNNING]
            ):
                self._append_stop(tx, execution)
        self._written()

    def _append_stop(self, tx: StoreTx, execution: WorkflowExecutionMeta) -> None:
        tx.append_events(
            [Event(execution.workflow_name, None, namespace=execution.namespace, kind=EventKind.STOP_WORKFLOW,
                   workflow_execution_id=execution.id)],
            self.now(),
        )

    def delete_workflow_execution(self, workflow_execution_id: int) -> None:
        """Delete a finished execution with its task executions and state."""
        with self._tx() as tx:
            execution = self._execution(tx, workflow_execution_id)
            if not execution.status.is_final:
                raise InvalidStateError(
                    f"workflow execution {workflow_execution_id} is {execution.status.value}; stop it first"
                )
            tx.delete_workflow_execution(execution.id)

    def get_workflow_execution(self, workflow_execution_id: int) -> WorkflowExecutionMeta | None:
        """Return the execution, or None."""
        with self._tx(readonly=True) as tx:
            return tx.get_workflow_execution(check_id("workflow execution", workflow_execution_id))

    def list_workflow_executions(
        self, workflow_name: str, namespace: str = "default", limit: int | None = None, offset: int | None = None
    ) -> list[WorkflowExecutionMeta]:
        """Return the executions of a workflow, oldest first."""
        check_limit_offset(limit, offset)
        with self._tx(readonly=True) as tx:
            return tx.list_workflow_executions(self._workflow(tx, workflow_name, namespace).id, limit, offset)

    def find_workflow_executions(
        self,
        namespace: str | None = None,
        workflow_name: str | None = None,
        statuses: list[WorkflowStatus] | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[WorkflowExecutionMeta]:
        """Return executions of every workflow (or of one namespace or workflow), newest first.

        ``statuses`` keeps those in one of them; ``before_id`` those with a
        smaller id: passing the last id of a page gives the next page (keyset
        pagination, as fast on the millionth execution as on the first).
        """
        check_limit_offset(limit, None)
        if before_id is not None:
            check_id("workflow execution", before_id)
        try:
            wanted = None if statuses is None else [WorkflowStatus(s) for s in statuses]
        except ValueError:
            raise InvalidArgumentError(
                f"statuses {statuses!r} holds an unknown status; expected some of {[s.value for s in WorkflowStatus]}"
            ) from None
        with self._tx(readonly=True) as tx:
            workflow_id = None
            if workflow_name is not None:
                workflow_id = self._workflow(tx, workflow_name, namespace or "default").id
            elif namespace is not None:
                self._namespace_exists(tx, namespace)
            return tx.list_workflow_executions(
                workflow_id, limit, None, statuses=wanted, namespace=namespace, before_id=before_id,
                newest_first=True,
            )

    # -- task executions --
    def start_task_execution(self, workflow_execution_id: int, task_name: str) -> str:
        """Ask the engine to start a task of a running execution; returns the task's key.

        Nothing happens if the task is already running.
        """
        self._task_command(workflow_execution_id, task_name, TaskAction.START)
        return f"{workflow_execution_id}.{task_name}"

    def stop_task_execution(self, workflow_execution_id: int, task_name: str) -> None:
        """Ask the engine to stop the running execution of a task (a no-op if none runs)."""
        self._task_command(workflow_execution_id, task_name, TaskAction.STOP)

    def _task_command(self, workflow_execution_id: int, task_name: str, action: TaskAction) -> None:
        with self._tx() as tx:
            execution = self._execution(tx, workflow_execution_id)
            frame = tx.get_snapshot_object(execution.snapshot_id)
            workflow = serialization.loads(frame) if frame is not None else None
            if workflow is None or task_name not in workflow.tasks:
                raise NotFoundError(
                    "task", task_name,
                    f"workflow {execution.namespace}.{execution.workflow_name} has tasks "
                    f"{sorted(workflow.tasks) if workflow else []}",
                )
            if execution.status.is_final:
                raise InvalidStateError(
                    f"workflow execution {workflow_execution_id} is {execution.status.value}; "
                    "tasks of a finished execution cannot be started or stopped"
                )
            tx.append_events(
                [TaskOperation(namespace=execution.namespace, workflow_execution_id=execution.id,
                               task_name=task_name, action=action).to_event()],
                self.now(),
            )
        self._written()

    def get_task_execution(self, task_execution_id: int) -> TaskExecutionMeta | None:
        """Return the task execution, or None."""
        with self._tx(readonly=True) as tx:
            return tx.get_task_execution(check_id("task execution", task_execution_id))

    def list_task_executions(
        self, workflow_execution_id: int, limit: int | None = None, offset: int | None = None,
        newest_first: bool = False,
    ) -> list[TaskExecutionMeta]:
        """Return the task executions of a workflow execution, oldest first (``newest_first``: the latest first)."""
        check_limit_offset(limit, offset)
        with self._tx(readonly=True) as tx:
            self._execution(tx, workflow_execution_id)
            return tx.list_task_executions(workflow_execution_id, limit, offset, newest_first=bool(newest_first))
