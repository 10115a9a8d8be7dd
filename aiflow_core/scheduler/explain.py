"""Recording explanations: what the scheduler evaluated for each event and what came of it.

The :class:`ExplanationRecorder` is handed to the applier. For each event it
notes, per task of a workflow execution (and per workflow for triggers),
every rule that expects the event's key: the condition's result, the action
taken or why none was, and the condition state. The rows are written by
:meth:`ExplanationRecorder.flush` in the transaction of the step that made
the decisions, so they are exactly as durable as the decisions themselves.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import attrs

from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context
from aiflow_core.model.event import Event
from aiflow_core.model.explanation import ExplainLevel, ExplanationRecord, Outcome
from aiflow_core.model.meta import TaskExecutionMeta
from aiflow_core.ports import StoreTx
from aiflow_core.scheduler.batch import Batch, ExecutionView, rule_scope, trigger_scope
from aiflow_core.scheduler.rules import RuleTrace, TaskDecision
from aiflow_core.scheduler.triggers import TriggerTrace
from aiflow_core.storable import storable_text

#: Longest text kept for one rendered state value.
_TEXT_LIMIT = 200
#: Most items kept of one rendered collection.
_ITEMS_LIMIT = 50
#: Deepest nesting rendered.
_DEPTH_LIMIT = 4
#: Longest error or event value text kept.
_LONG_TEXT_LIMIT = 2000


def render_value(value: Any, depth: int = 0) -> Any:
    """A JSON value showing ``value``: objects as their fields (with ``__type__``), bounded in size."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value if len(value) <= _TEXT_LIMIT else value[:_TEXT_LIMIT] + "..."
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Enum):
        return render_value(value.value, depth)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if depth < _DEPTH_LIMIT:
        if isinstance(value, Mapping):
            return {str(k): render_value(v, depth + 1) for k, v in list(value.items())[:_ITEMS_LIMIT]}
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
            return [render_value(v, depth + 1) for v in items[:_ITEMS_LIMIT]]
        fields = (
            {f.name: getattr(value, f.name, None) for f in attrs.fields(type(value))} if attrs.has(type(value))
            else getattr(value, "__dict__", None)
        )
        if isinstance(fields, dict):
            shown = {"__type__": type(value).__name__}
            shown.update({str(k): render_value(v, depth + 1) for k, v in list(fields.items())[:_ITEMS_LIMIT]})
            return shown
    return render_value(repr(value), _DEPTH_LIMIT)


def render_state(cell: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The state values of a rule as JSON values, or None when it keeps none.

    A value whose fields or ``repr`` raise is shown by the error: recording
    never changes what the scheduler does.
    """
    if not cell:
        return None
    shown: dict[str, Any] = {}
    for name, value in cell.items():
        try:
            shown[str(name)] = render_value(value, 1)
        except Exception as exc:
            shown[str(name)] = f"<{type(value).__name__} that cannot be shown: {type(exc).__name__}>"
    return shown


def describe(condition: Condition) -> str:
    """``condition.describe()``, or its class name if a user's ``describe`` raises."""
    try:
        return str(condition.describe())
    except Exception:
        return type(condition).__name__


def error_text(error: BaseException) -> str:
    """``Type: message`` of an error a condition raised, storable."""
    return storable_text(f"{type(error).__name__}: {error}", _LONG_TEXT_LIMIT)


def _rule_entry(trace: RuleTrace, condition: str, action: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"rule_index": trace.rule_index, "condition": condition, "action": action}
    if trace.skipped_by is not None:
        entry.update(outcome=Outcome.EARLIER_RULE_FIRED.value, reason=f"rule #{trace.skipped_by} fired first")
    elif trace.error is not None:
        entry.update(
            outcome=Outcome.ERROR.value, reason="the condition raised; it counts as not met",
            error=error_text(trace.error),
        )
    else:
        entry["met"] = trace.met
        if not trace.met:
            entry.update(outcome=Outcome.NOT_MET.value, reason="the condition is not met")
    return entry


def action_outcome(
    action: TaskAction, before: TaskExecutionMeta | None, after: TaskExecutionMeta | None
) -> tuple[Outcome, str, int | None]:
    """What a fired action did, from the task's latest run before and after it: (outcome, reason, run id)."""
    started = after is not None and (before is None or after.id != before.id)
    stopped = action is not TaskAction.START and before is not None and before.status.is_alive
    if started and stopped:
        assert before is not None and after is not None
        return Outcome.RESTARTED, f"asked task execution {before.id} to stop and started task execution {after.id}", \
            after.id
    if started:
        assert after is not None
        return Outcome.STARTED, f"started task execution {after.id} (sequence {after.sequence_number})", after.id
    if stopped:
        assert before is not None
        return Outcome.STOPPED, f"asked task execution {before.id} ({before.status.value}) to stop", before.id
    if action is TaskAction.STOP:
        return Outcome.NOTHING_TO_STOP, (
            "the task never ran" if before is None else
            f"no run of the task is alive (task execution {before.id} is {before.status.value})"
        ), None
    assert before is not None
    return Outcome.ALIVE, f"task execution {before.id} is {before.status.value}: the task is alive", before.id


class TaskRulesNote:
    """The evaluations of the task rules of one execution for one event, noted while they happen."""

    def __init__(self, recorder: ExplanationRecorder, batch: Batch, view: ExecutionView, event: Event) -> None:
        self.recorder = recorder
        self.batch = batch
        self.view = view
        self.event = event
        #: Filled by :func:`~aiflow_core.scheduler.rules.decide`; None when nothing is recorded.
        self.trace: list[RuleTrace] | None = []
        self._before: dict[tuple[str, int], dict[str, Any] | None] = {}
        self._acted: dict[str, tuple[Outcome, str, int | None]] = {}

    def contexts(self, context_for: Callable[[str, int], Context]) -> Callable[[str, int], Context]:
        """``context_for``, noting each rule's state before its evaluation at level ``full``."""
        if self.recorder.level is not ExplainLevel.FULL:
            return context_for
        state = self.batch.state

        def noting(task_name: str, rule_index: int) -> Context:
            cell = state.cell(rule_scope(self.view.id, task_name, rule_index))
            self._before[(task_name, rule_index)] = render_state(cell)
            return context_for(task_name, rule_index)

        return noting

    def acted(self, decision: TaskDecision, before: TaskExecutionMeta | None, after: TaskExecutionMeta | None) -> None:
        """Note what a decision did, given the task's latest run before and after it was applied."""
        self._acted[decision.task_name] = action_outcome(decision.action, before, after)

    def done(self) -> None:
        """Turn what was noted into one row per task."""
        assert self.trace is not None
        by_task: dict[str, list[dict[str, Any]]] = {}
        rules = self.view.workflow.rules
        full = self.recorder.level is ExplainLevel.FULL
        for trace in self.trace:
            rule = rules[trace.task_name][trace.rule_index]
            entry = _rule_entry(trace, describe(rule.condition), rule.action.value)
            if trace.met:
                outcome, reason, run = self._acted[trace.task_name]
                entry.update(outcome=outcome.value, reason=reason, task_execution_id=run)
            if trace.skipped_by is None:
                scope = rule_scope(self.view.id, trace.task_name, trace.rule_index)
                state = render_state(self.batch.state.loaded(scope))
                if state is not None:
                    entry["state"] = state
                before = self._before.get((trace.task_name, trace.rule_index)) if full else None
                if before is not None:
                    entry["state_before"] = before
            by_task.setdefault(trace.task_name, []).append(entry)
        for task_name, entries in by_task.items():
            self.recorder.add(self.batch, self.event, entries, workflow_execution_id=self.view.id,
                              workflow_name=self.view.meta.workflow_name, task_name=task_name)


class TriggersNote:
    """The evaluations of the workflow triggers of a namespace for one event."""

    def __init__(self, recorder: ExplanationRecorder, batch: Batch, event: Event) -> None:
        self.recorder = recorder
        self.batch = batch
        self.event = event
        #: Filled by :meth:`~aiflow_core.scheduler.triggers.TriggerEvaluator.evaluate`; None when nothing is recorded.
        self.trace: list[TriggerTrace] | None = []
        self._launched: dict[int, ExecutionView | None] = {}

    def launched(self, workflow_id: int, view: ExecutionView | None) -> None:
        """Note the execution a trigger of ``workflow_id`` started (None: none was)."""
        self._launched[workflow_id] = view

    def done(self) -> None:
        """Turn what was noted into one row per workflow."""
        assert self.trace is not None
        by_workflow: dict[int, list[dict[str, Any]]] = {}
        for trace in self.trace:
            entry: dict[str, Any] = {"trigger_id": trace.trigger_id, "condition": describe(trace.condition)}
            if trace.skipped:
                entry.update(outcome=Outcome.EARLIER_TRIGGER_FIRED.value,
                             reason="an earlier trigger of the workflow fired first")
            elif trace.error is not None:
                entry.update(outcome=Outcome.ERROR.value, reason="the condition raised; it counts as not met",
                             error=error_text(trace.error))
            elif not trace.met:
                entry.update(met=False, outcome=Outcome.NOT_MET.value, reason="the condition is not met")
            else:
                entry["met"] = True
                entry.update(self._launch_outcome(trace.workflow_id))
            state = render_state(self.batch.state.loaded(trigger_scope(trace.trigger_id)))
            if state is not None:
                entry["state"] = state
            by_workflow.setdefault(trace.workflow_id, []).append(entry)
        for workflow_id, entries in by_workflow.items():
            view = self._launched.get(workflow_id)
            meta = self.batch.workflow_meta(workflow_id)
            self.recorder.add(
                self.batch, self.event, entries, workflow_id=workflow_id,
                workflow_execution_id=view.id if view is not None else None,
                workflow_name=meta.name if meta is not None else None,
            )

    def _launch_outcome(self, workflow_id: int) -> dict[str, Any]:
        view = self._launched.get(workflow_id)
        if view is not None:
            return {"outcome": Outcome.EXECUTION_STARTED.value, "workflow_execution_id": view.id,
                    "reason": f"started workflow execution {view.id}"}
        meta = self.batch.workflow_meta(workflow_id)
        if meta is None or meta.snapshot_id is None:
            return {"outcome": Outcome.WORKFLOW_MISSING.value, "reason": f"workflow {workflow_id} no longer exists"}
        return {"outcome": Outcome.WORKFLOW_DISABLED.value,
                "reason": f"workflow {meta.namespace}.{meta.name} is disabled: no execution started"}


class _Off:
    """What the recorder hands out at level ``off``: notes nothing."""

    trace = None

    def contexts(self, context_for: Callable[[str, int], Context]) -> Callable[[str, int], Context]:
        return context_for

    def acted(self, decision: TaskDecision, before: TaskExecutionMeta | None, after: TaskExecutionMeta | None) -> None:
        pass

    def launched(self, workflow_id: int, view: ExecutionView | None) -> None:
        pass

    def done(self) -> None:
        pass


_OFF = _Off()


class ExplanationRecorder:
    """Collects explanation rows during a scheduler step, at ``level`` (see :class:`ExplainLevel`).

    :meth:`begin` starts a step (dropping what a failed one left),
    :meth:`flush` writes the rows in the step's transaction.
    """

    def __init__(self, level: ExplainLevel | str = ExplainLevel.DECISIONS) -> None:
        self.level = ExplainLevel(level)
        self._rows: list[ExplanationRecord] = []

    def begin(self) -> None:
        """Start a step: forget rows of a step that failed."""
        self._rows.clear()

    def flush(self, tx: StoreTx) -> int:
        """Write the rows collected since :meth:`begin` through ``tx``; returns how many."""
        count = len(self._rows)
        if count:
            tx.add_explanations(self._rows)
            self._rows = []
        return count

    def task_rules(self, batch: Batch, view: ExecutionView, event: Event) -> TaskRulesNote | _Off:
        """A note for the task rules of ``view`` meeting ``event``."""
        if self.level is ExplainLevel.OFF:
            return _OFF
        return TaskRulesNote(self, batch, view, event)

    def triggers(self, batch: Batch, event: Event) -> TriggersNote | _Off:
        """A note for the workflow triggers meeting ``event``."""
        if self.level is ExplainLevel.OFF:
            return _OFF
        return TriggersNote(self, batch, event)

    def not_running(self, batch: Batch, view: ExecutionView, event: Event) -> None:
        """Note that ``event`` reached the rules of an execution that is not running: none is evaluated."""
        if self.level is ExplainLevel.OFF:
            return
        when = "no longer" if view.status.is_final else "not yet"
        reason = f"workflow execution {view.id} is {view.status.value}: its rules are {when} evaluated"
        for task_name in view.index.tasks_expecting(event.key):
            entries = [
                {"rule_index": i, "condition": describe(rule.condition), "action": rule.action.value,
                 "outcome": Outcome.EXECUTION_NOT_RUNNING.value, "reason": reason}
                for i, rule in enumerate(view.workflow.rules.get(task_name, [])) if rule.condition.expects(event.key)
            ]
            self.add(batch, event, entries, workflow_execution_id=view.id,
                     workflow_name=view.meta.workflow_name, task_name=task_name)

    def add(
        self, batch: Batch, event: Event, entries: list[dict[str, Any]], *, workflow_execution_id: int | None = None,
        workflow_id: int | None = None, workflow_name: str | None = None, task_name: str | None = None,
    ) -> None:
        """Collect one row for ``event``."""
        payload: dict[str, Any] = {"key": event.key, "workflow_name": workflow_name, "rules": entries}
        if self.level is ExplainLevel.FULL and event.value is not None:
            payload["value"] = storable_text(event.value, _LONG_TEXT_LIMIT)
        self._rows.append(ExplanationRecord(
            event_offset=event.offset or 0, namespace=event.namespace, workflow_execution_id=workflow_execution_id,
            workflow_id=workflow_id, task_name=task_name, create_time=batch.now, payload=payload,
        ))
