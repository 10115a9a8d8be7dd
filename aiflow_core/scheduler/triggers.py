"""Workflow triggers: rules that start a workflow execution when their condition is met."""

from __future__ import annotations

from typing import Any

import attrs

from aiflow_core import serialization
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import RuleContext
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import TRIGGER_TABLE
from aiflow_core.model.meta import StartCause, StartKind
from aiflow_core.model.rule import WorkflowRule
from aiflow_core.scheduler.batch import Batch, trigger_scope


@attrs.frozen(kw_only=True)
class TriggerDecision:
    """Start an execution of ``workflow_id`` because a trigger fired (``cause`` names it)."""

    workflow_id: int
    cause: StartCause


@attrs.frozen(kw_only=True)
class TriggerTrace:
    """How one trigger met an event: whether its condition held, what it raised, or that its workflow
    was started by an earlier trigger (``skipped``)."""

    trigger_id: int
    workflow_id: int
    condition: Condition
    met: bool | None
    error: BaseException | None = None
    skipped: bool = False


class TriggerEvaluator:
    """Evaluates the unpaused triggers of an event's namespace.

    The triggers of each namespace are kept, unpickled, until the store's
    trigger version says that some trigger was added, paused, resumed or
    deleted.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._active_by_namespace: dict[str, list[tuple[int, int, WorkflowRule]]] = {}

    def forget(self) -> None:
        """Drop the triggers kept (a failed transaction may not have recorded what loading them found)."""
        self._version = None
        self._active_by_namespace.clear()

    def _active(self, batch: Batch, namespace: str) -> list[tuple[int, int, WorkflowRule]]:
        if "triggers_version" not in batch.cache:
            version = batch.cache["triggers_version"] = batch.tx.triggers_version()
            if version != self._version:
                self._version = version
                self._active_by_namespace.clear()
        active = self._active_by_namespace.get(namespace)
        if active is None:
            active = []
            for meta in batch.tx.list_triggers(None, None, None, namespace=namespace):
                if meta.is_paused:
                    continue
                try:
                    rule = serialization.loads(meta.rule)
                except Exception as exc:
                    batch.on_rule_error(f"cannot load workflow trigger {meta.id}", exc)
                    batch.quarantine(
                        TRIGGER_TABLE, meta.id, exc, namespace, f"workflow trigger {meta.id} is not evaluated"
                    )
                    continue
                active.append((meta.id, meta.workflow_id, rule))
            self._active_by_namespace[namespace] = active
        return active

    def evaluate(
        self, batch: Batch, event: Event, trace: list[TriggerTrace] | None = None
    ) -> list[TriggerDecision]:
        """The executions ``event`` starts: at most one per workflow.

        A workflow's triggers act as one, as in AIFlow: they are evaluated in
        the order they were added and the first that fires wins; the others
        of that workflow are not evaluated for this event. With ``trace``,
        every trigger that expects the event is noted in it.
        """
        decisions: list[TriggerDecision] = []
        started: set[int] = set()
        for trigger_id, workflow_id, rule in self._active(batch, event.namespace):
            if not rule.condition.expects(event.key):
                continue
            if workflow_id in started:
                if trace is not None:
                    trace.append(TriggerTrace(
                        trigger_id=trigger_id, workflow_id=workflow_id, condition=rule.condition,
                        met=None, skipped=True,
                    ))
                continue
            cell: dict[str, Any] = batch.state.cell(trigger_scope(trigger_id))
            try:
                fired = rule.trigger(event, RuleContext(cell))
            except Exception as exc:
                batch.on_rule_error(
                    f"condition of workflow trigger {trigger_id} raised on event {event.key!r} "
                    f"@ offset {event.offset}",
                    exc,
                )
                if trace is not None:
                    trace.append(TriggerTrace(
                        trigger_id=trigger_id, workflow_id=workflow_id, condition=rule.condition,
                        met=None, error=exc,
                    ))
                continue
            if trace is not None:
                trace.append(TriggerTrace(
                    trigger_id=trigger_id, workflow_id=workflow_id, condition=rule.condition, met=fired,
                ))
            if fired:
                started.add(workflow_id)
                cause = StartCause(
                    kind=StartKind.TRIGGER, event_offset=event.offset, event_key=event.key,
                    rule=rule.condition.describe(),
                )
                decisions.append(TriggerDecision(workflow_id=workflow_id, cause=cause))
        return decisions
