"""Applying events: every decision of the scheduler is made here, inside a batch's transaction."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import attrs

from aiflow_core.model.action import TaskAction
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.internal.events import (
    HeartbeatTimeout,
    PeriodicFire,
    RetryFire,
    ScheduleFire,
    TaskOperation,
    TaskReport,
    TaskStatusChange,
    UnreadableEvent,
)
from aiflow_core.model.meta import StartCause, StartKind, TaskExecutionMeta
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.ports import EventFilter, StartTask, StopTask
from aiflow_core.scheduler.batch import Batch, ExecutionView
from aiflow_core.scheduler.launch import create_execution
from aiflow_core.scheduler.rules import RuleError, decide, execution_outcome
from aiflow_core.scheduler.triggers import TriggerEvaluator
from aiflow_core.storable import ERROR_LIMIT, storable_text

log = logging.getLogger("aiflow.scheduler")

def task_log_path(log_dir: Path, namespace: str, workflow: str, execution_id: int, task: str, seq: int) -> Path:
    """Where the output of one task execution goes."""
    return log_dir / namespace / workflow / str(execution_id) / f"{task}-{seq}.log"


#: The error recorded for a task execution stopped because the engine running it shut down.
INTERRUPTED_ERROR = "stopped: the engine running it shut down"
#: How the error of a task execution stopped by its own workflow (a rule, a periodic restart) begins.
WORKFLOW_STOP_PREFIX = "stopped by its workflow: "
#: The error recorded for a task execution stopped by a user (a stop of the task or of its execution).
USER_STOP_ERROR = "stopped by a user"


def stopped_by_workflow(te: TaskExecutionMeta) -> bool:
    """True if ``te`` was stopped by a rule or periodic restart of its own workflow, not by a user."""
    return te.status is TaskStatus.STOPPED and (te.error or "").startswith(WORKFLOW_STOP_PREFIX)


def effective_status(current: TaskStatus, reported: TaskStatus) -> TaskStatus | None:
    """The status a report moves a task execution to, or None if it is stale.

    Final statuses never change. A stopping execution that ends in failure
    counts as STOPPED. RUNNING only follows INIT or QUEUED.
    """
    if current.is_final or reported == current:
        return None
    if current is TaskStatus.STOPPING:
        if reported is TaskStatus.FAILED:
            return TaskStatus.STOPPED
        return reported if reported.is_final else None
    if reported is TaskStatus.RUNNING:
        return reported if current in (TaskStatus.INIT, TaskStatus.QUEUED) else None
    return reported


class Applier:
    """Turns each event of the log into state changes, new events and executor commands."""

    def __init__(self, log_dir: Path, triggers: TriggerEvaluator) -> None:
        self.log_dir = log_dir
        self.triggers = triggers
        self._handlers = {
            EventKind.USER: self._on_user_event,
            EventKind.TASK_STATUS: self._on_task_status,
            EventKind.TASK_REPORT: self._on_task_report,
            EventKind.START_WORKFLOW: self._on_start_workflow,
            EventKind.STOP_WORKFLOW: self._on_stop_workflow,
            EventKind.START_TASK: self._on_task_command,
            EventKind.STOP_TASK: self._on_task_command,
            EventKind.PERIODIC_TASK: self._on_periodic,
            EventKind.RETRY_TASK: self._on_retry,
            EventKind.HEARTBEAT_TIMEOUT: self._on_heartbeat_timeout,
            EventKind.SCHEDULE_FIRE: self._on_schedule_fire,
            EventKind.NOTICE: lambda batch, event: None,
        }

    def apply(self, batch: Batch, event: Event) -> None:
        """Apply one event; an event the store could not read raises MalformedEventError (it is quarantined)."""
        if isinstance(event, UnreadableEvent):
            raise event.malformed()
        self._handlers[event.kind](batch, event)

    # -- events that reach conditions --
    def _on_user_event(self, batch: Batch, event: Event) -> None:
        if event.workflow_execution_id is not None:
            targets = [event.workflow_execution_id]
        else:
            targets = batch.running_in(event.namespace)
        for execution_id in targets:
            view = batch.view(execution_id)
            if view is not None and view.running and view.meta.namespace == event.namespace:
                self._evaluate_rules(batch, view, event)
        self._launch_triggered(batch, event)

    def _on_task_report(self, batch: Batch, event: Event) -> None:
        report = TaskReport.from_event(event)
        self._apply_report(batch, report.workflow_execution_id, report.task_execution_id, report.status, report.error)

    def _apply_report(
        self, batch: Batch, execution_id: int, te_id: int, status: TaskStatus, error: str | None
    ) -> None:
        view = batch.view(execution_id)
        if view is None:
            return
        te = view.find_latest(te_id)
        if te is None:
            # An execution superseded by a newer sequence (RESTART) still gets its final status.
            te = batch.tx.get_task_execution(te_id)
        if te is None or te.workflow_execution_id != view.id:
            return
        new = effective_status(te.status, status)
        if new is None:
            return
        if new is TaskStatus.FAILED and self._retry_later(batch, view, te, error):
            return
        if new is TaskStatus.STOPPED:
            # Keep why the stop was asked for; with no rule or user asking, the engine running it shut down.
            error = te.error if te.status is TaskStatus.STOPPING else INTERRUPTED_ERROR
        self._set_status(batch, view, te, new, error=error)

    def _on_task_status(self, batch: Batch, event: Event) -> None:
        view = batch.view(event.workflow_execution_id) if event.workflow_execution_id else None
        if view is None:
            return
        if view.running:
            self._evaluate_rules(batch, view, event)
        self._launch_triggered(batch, event)
        self._check_outcome(batch, view, event.offset)

    # -- operations --
    def _on_start_workflow(self, batch: Batch, event: Event) -> None:
        view = batch.view(event.workflow_execution_id) if event.workflow_execution_id else None
        if view is None or view.status is not WorkflowStatus.INIT:
            return
        self.start_execution(batch, view)

    def start_execution(self, batch: Batch, view: ExecutionView) -> None:
        """Set an execution RUNNING (unless it was created so) and start its tasks that have no START rule."""
        if view.meta.status is not WorkflowStatus.RUNNING:
            batch.tx.update_workflow_execution(view.id, WorkflowStatus.RUNNING, None)
        view.status = WorkflowStatus.RUNNING
        batch.mark_running(view)
        cause = StartCause(kind=StartKind.WORKFLOW_START)
        for task_name in view.workflow.starting_tasks():
            self.start_task(batch, view, task_name, cause, view.meta.execution_type)
        for task_name, task in view.workflow.tasks.items():
            if task.config.periodic_expression:
                self._arm_periodic(batch, view, task_name, batch.now)
        self._check_outcome(batch, view)

    def _on_stop_workflow(self, batch: Batch, event: Event) -> None:
        view = batch.view(event.workflow_execution_id) if event.workflow_execution_id else None
        if view is None or view.status.is_final:
            return
        for te in view.latest_runs():
            self.stop_task(batch, view, te.task_name, USER_STOP_ERROR)
        self._finish(batch, view, WorkflowStatus.STOPPED)

    def _on_task_command(self, batch: Batch, event: Event) -> None:
        operation = TaskOperation.from_event(event)
        view = batch.view(operation.workflow_execution_id)
        task_name = operation.task_name
        if view is None or not view.running or task_name not in view.workflow.tasks:
            return
        if operation.action is TaskAction.STOP:
            self.stop_task(batch, view, task_name, USER_STOP_ERROR)
            return
        cause = StartCause(kind=StartKind.MANUAL, event_offset=event.offset, event_key=event.key)
        self.start_task(batch, view, task_name, cause, ExecutionType.MANUAL)

    def _on_periodic(self, batch: Batch, event: Event) -> None:
        fire = PeriodicFire.from_event(event)
        view = batch.view(fire.workflow_execution_id)
        task_name = fire.task_name
        if view is None or not view.running or task_name not in view.workflow.tasks:
            return
        cause = StartCause(kind=StartKind.PERIODIC, event_offset=event.offset, event_key=event.key)
        self.stop_task(batch, view, task_name, f"{WORKFLOW_STOP_PREFIX}periodic restart @ offset {event.offset}")
        self.start_task(batch, view, task_name, cause, ExecutionType.PERIODIC)
        self._arm_periodic(batch, view, task_name, max(fire.fire_time, batch.now))

    def _arm_periodic(self, batch: Batch, view: ExecutionView, task_name: str, after: dt.datetime) -> None:
        from aiflow_core.model.expressions import parse_expression

        expression = view.workflow.tasks[task_name].config.periodic_expression
        assert expression is not None
        fire_time = parse_expression(expression).next_fire(after, start=view.meta.begin_date)
        fire = PeriodicFire(
            namespace=view.meta.namespace, workflow_execution_id=view.id, task_name=task_name, fire_time=fire_time
        )
        batch.add_timer(fire_time, fire.to_event())

    def _on_retry(self, batch: Batch, event: Event) -> None:
        retry = RetryFire.from_event(event)
        view = batch.view(retry.workflow_execution_id)
        if view is None:
            return
        te = view.find_latest(retry.task_execution_id)
        if te is None or te.status is not TaskStatus.RETRYING:
            return
        batch.tx.update_task_execution(te.id, status=TaskStatus.FAILED, end_date=batch.now)
        cause = StartCause(kind=StartKind.RETRY, event_offset=event.offset, event_key=event.key)
        self._queue(batch, view, te.task_name, te.sequence_number, te.try_number + 1, cause, te.execution_type)

    def _on_heartbeat_timeout(self, batch: Batch, event: Event) -> None:
        timeout = HeartbeatTimeout.from_event(event)
        self._apply_report(
            batch, timeout.workflow_execution_id, timeout.task_execution_id, TaskStatus.FAILED, timeout.error
        )

    def _on_schedule_fire(self, batch: Batch, event: Event) -> None:
        # A fire in the log was due: it starts its execution even if the schedule went since.
        fire = ScheduleFire.from_event(event)
        cause = StartCause(kind=StartKind.SCHEDULE, event_offset=event.offset, event_key=event.key)
        self._launch(batch, fire.workflow_id, ExecutionType.PERIODIC, cause)

    def _launch_triggered(self, batch: Batch, event: Event) -> None:
        for decision in self.triggers.evaluate(batch, event):
            self._launch(batch, decision.workflow_id, ExecutionType.EVENT, decision.cause)

    def _launch(self, batch: Batch, workflow_id: int, execution_type: ExecutionType, cause: StartCause) -> None:
        view = create_execution(batch, workflow_id, execution_type, cause)
        if view is not None:
            self.start_execution(batch, view)

    # -- rules and outcomes --
    def _evaluate_rules(self, batch: Batch, view: ExecutionView, event: Event) -> None:
        errors: list[RuleError] = []
        decisions = decide(event, view.index, lambda task, i: batch.rule_context(view, task, i), errors)
        for error in errors:
            batch.on_rule_error(
                f"condition of rule #{error.rule_index} of task {error.task_name!r} in workflow "
                f"execution {view.id} raised on event {event.key!r} @ offset {event.offset}",
                error.error,
            )
        for decision in decisions:
            cause = StartCause(
                kind=StartKind.RULE, event_offset=event.offset, event_key=event.key,
                rule_index=decision.rule.index, rule=decision.rule.description,
            )
            if decision.action is not TaskAction.START:
                reason = f"{WORKFLOW_STOP_PREFIX}{decision.action.value} by {cause.describe()}"
                self.stop_task(batch, view, decision.task_name, reason)
            if decision.action is not TaskAction.STOP:
                self.start_task(batch, view, decision.task_name, cause, ExecutionType.EVENT)

    def _check_outcome(self, batch: Batch, view: ExecutionView, after_offset: int | None = None) -> None:
        """End the execution if nothing can happen in it any more.

        Statuses are applied when reports are processed, before the status
        events that announce them; the outcome waits until every status event
        of the execution has been processed, so no rule misses one.
        """
        if not view.running or not view.all_final or batch.status_event_follows(view.id, after_offset):
            return
        runs = view.latest_runs()
        # A stop by a user or by an engine shutdown (the work did not complete) ends the execution STOPPED.
        not_by_workflow = [te.task_name for te in runs if not stopped_by_workflow(te)]
        outcome = execution_outcome(view.index, {te.task_name: te.status for te in runs}, not_by_workflow)
        if outcome is None:
            return
        if after_offset is not None and not batch.read_to_end:
            pending = EventFilter(
                kinds=(EventKind.TASK_STATUS,), workflow_execution_id=view.id, begin_offset=after_offset
            )
            if batch.tx.count_events(pending):
                return
        self._finish(batch, view, outcome)

    def _finish(self, batch: Batch, view: ExecutionView, status: WorkflowStatus) -> None:
        view.status = status
        batch.tx.update_workflow_execution(view.id, status, batch.now)
        if view.has_periodic_tasks:
            batch.tx.delete_timers(dedup_prefix=PeriodicFire.timer_prefix(view.id))

    # -- task actions --
    def start_task(
        self, batch: Batch, view: ExecutionView, task_name: str, cause: StartCause, execution_type: ExecutionType
    ) -> TaskExecutionMeta | None:
        """Start a new execution of a task unless one is alive."""
        latest = view.latest(task_name)
        if latest is not None and latest.status.is_alive:
            return None
        sequence = 1 if latest is None else latest.sequence_number + 1
        return self._queue(batch, view, task_name, sequence, 1, cause, execution_type)

    def _queue(
        self, batch: Batch, view: ExecutionView, task_name: str, sequence: int, try_number: int,
        cause: StartCause, execution_type: ExecutionType,
    ) -> TaskExecutionMeta:
        path = task_log_path(
            self.log_dir, view.meta.namespace, view.meta.workflow_name, view.id, task_name, sequence
        )
        te = batch.tx.add_task_execution(
            view.id, task_name, sequence, try_number, execution_type, TaskStatus.QUEUED, cause,
            batch.now, log_path=str(path),
        )
        view.record(te)
        self._emit_status(batch, view, te, TaskStatus.QUEUED)
        task = view.workflow.tasks[task_name]
        batch.commands.append(
            StartTask(
                task_execution_id=te.id, workflow_execution_id=view.id, namespace=view.meta.namespace,
                workflow_name=view.meta.workflow_name, task_name=task_name, sequence_number=sequence,
                try_number=try_number, snapshot_id=view.meta.snapshot_id, log_path=str(path),
                execution_timeout=task.config.execution_timeout,
            )
        )
        return te

    def stop_task(self, batch: Batch, view: ExecutionView, task_name: str, reason: str) -> None:
        """Stop the alive execution of a task, recording ``reason``; nothing happens when none is alive."""
        te = view.latest(task_name)
        if te is None or not te.status.is_alive:
            return
        retrying = te.status is TaskStatus.RETRYING
        self._set_status(batch, view, te, TaskStatus.STOPPING, error=reason)
        if retrying:
            # Nothing runs between attempts: report the stop at once, through the log,
            # so that the final status is applied in event order like any other.
            batch.tx.delete_timers(dedup_prefix=RetryFire.timer_key(te.id))
            batch.emit(
                TaskReport(
                    namespace=view.meta.namespace, workflow_name=view.meta.workflow_name,
                    workflow_execution_id=view.id, task_execution_id=te.id, task_name=te.task_name,
                    sequence_number=te.sequence_number, status=TaskStatus.STOPPED,
                ).to_event()
            )
            return
        batch.commands.append(StopTask(task_execution_id=te.id))

    def _retry_later(self, batch: Batch, view: ExecutionView, te: TaskExecutionMeta, error: Any) -> bool:
        config = view.workflow.tasks[te.task_name].config
        if te.try_number > config.retries:
            return False
        delay = config.delay_before_try(te.try_number + 1)
        self._set_status(batch, view, te, TaskStatus.RETRYING, error=error)
        retry = RetryFire(
            namespace=view.meta.namespace, workflow_execution_id=view.id, task_execution_id=te.id,
            task_name=te.task_name,
        )
        batch.add_timer(batch.now + dt.timedelta(seconds=delay), retry.to_event())
        return True

    def _set_status(
        self, batch: Batch, view: ExecutionView, te: TaskExecutionMeta, status: TaskStatus,
        error: Any = None,
    ) -> None:
        fields: dict[str, Any] = {"status": status}
        if status is TaskStatus.RUNNING:
            fields["begin_date"] = batch.now
        if status.is_final:
            fields["end_date"] = batch.now
        if error:
            fields["error"] = storable_text(str(error), ERROR_LIMIT)
        elif status is TaskStatus.SUCCESS and te.error is not None:
            fields["error"] = None  # a run that was asked to stop but finished first
        batch.tx.update_task_execution(te.id, **fields)
        updated = TaskExecutionMeta(**{**_as_dict(te), **fields})
        view.update(updated)
        self._emit_status(batch, view, updated, status)

    def _emit_status(self, batch: Batch, view: ExecutionView, te: TaskExecutionMeta, status: TaskStatus) -> None:
        batch.emit(
            TaskStatusChange(
                namespace=view.meta.namespace, workflow_name=view.meta.workflow_name, workflow_execution_id=view.id,
                task_execution_id=te.id, task_name=te.task_name, sequence_number=te.sequence_number, status=status,
            ).to_event()
        )


def _as_dict(te: TaskExecutionMeta) -> dict[str, Any]:
    return attrs.asdict(te, recurse=False)
