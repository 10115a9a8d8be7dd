"""Client operations on workflow schedules and workflow triggers."""

from __future__ import annotations

from aiflow_core import serialization
from aiflow_core.api.base import ClientBase, check_id, check_limit_offset
from aiflow_core.errors import InvalidArgumentError, NotFoundError
from aiflow_core.model.expressions import MisfirePolicy, parse_expression
from aiflow_core.model.meta import WorkflowScheduleMeta, WorkflowTriggerMeta
from aiflow_core.model.rule import WorkflowRule


def _trigger_meta(meta: WorkflowTriggerMeta) -> WorkflowTriggerMeta:
    import attrs

    return attrs.evolve(meta, rule=serialization.loads(meta.rule))


class PlanOps(ClientBase):
    """Schedules (cron@/interval@) and event triggers of workflows."""

    timezone: str = "UTC"

    # -- schedules --
    def add_workflow_schedule(
        self, expression: str, workflow_name: str, namespace: str = "default",
        misfire_policy: MisfirePolicy | str = MisfirePolicy.COALESCE,
    ) -> WorkflowScheduleMeta:
        """Add a schedule (``cron@<5 fields>`` or ``interval@days hours minutes seconds``).

        ``misfire_policy`` says what happens to fires missed while no engine
        ran: ``coalesce`` (default, one run), ``catch_up`` (every missed fire
        runs) or ``skip``.
        """
        expr = parse_expression(expression, timezone=self.timezone)
        try:
            policy = MisfirePolicy(misfire_policy)
        except ValueError:
            raise InvalidArgumentError(
                f"misfire_policy {misfire_policy!r} is unknown; expected one of {[p.value for p in MisfirePolicy]}"
            ) from None
        now = self.now()
        with self._tx() as tx:
            workflow = self._workflow(tx, workflow_name, namespace)
            return tx.add_schedule(workflow.id, expr.text, expr.next_fire(now, start=now), policy.value, now)

    def _schedule(self, schedule_id: int) -> WorkflowScheduleMeta:
        with self._tx(readonly=True) as tx:
            schedule = tx.get_schedule(check_id("workflow schedule", schedule_id))
        if schedule is None:
            raise NotFoundError("workflow schedule", schedule_id)
        return schedule

    def get_workflow_schedule(self, schedule_id: int) -> WorkflowScheduleMeta | None:
        """Return the schedule, or None."""
        with self._tx(readonly=True) as tx:
            return tx.get_schedule(check_id("workflow schedule", schedule_id))

    def list_workflow_schedules(
        self, workflow_name: str, namespace: str = "default", limit: int | None = None, offset: int | None = None
    ) -> list[WorkflowScheduleMeta]:
        """Return the schedules of a workflow, oldest first."""
        check_limit_offset(limit, offset)
        with self._tx(readonly=True) as tx:
            return tx.list_schedules(self._workflow(tx, workflow_name, namespace).id, limit, offset)

    def pause_workflow_schedule(self, schedule_id: int) -> None:
        """Stop a schedule from firing until it is resumed."""
        self._schedule(schedule_id)
        with self._tx() as tx:
            tx.update_schedule(schedule_id, is_paused=True)

    def resume_workflow_schedule(self, schedule_id: int) -> None:
        """Resume a paused schedule from its next due time after now (missed fires are skipped)."""
        schedule = self._schedule(schedule_id)
        now = self.now()
        next_fire = parse_expression(schedule.expression, timezone=self.timezone).next_fire(
            now, start=schedule.create_time
        )
        with self._tx() as tx:
            tx.update_schedule(schedule_id, is_paused=False, next_fire_time=next_fire, last_fire_time=now)

    def delete_workflow_schedule(self, schedule_id: int) -> None:
        """Delete a schedule."""
        self._schedule(schedule_id)
        with self._tx() as tx:
            tx.delete_schedules([schedule_id])

    def delete_workflow_schedules(self, workflow_name: str, namespace: str = "default") -> None:
        """Delete every schedule of a workflow."""
        with self._tx() as tx:
            tx.delete_schedules(workflow_id=self._workflow(tx, workflow_name, namespace).id)

    # -- triggers --
    def add_workflow_trigger(
        self, rule: WorkflowRule, workflow_name: str, namespace: str = "default"
    ) -> WorkflowTriggerMeta:
        """Start an execution (type EVENT) whenever ``rule``'s condition is met by an event of the namespace."""
        if not isinstance(rule, WorkflowRule):
            raise InvalidArgumentError(f"rule must be a WorkflowRule, got {rule!r}")
        frame = serialization.dumps(rule)
        with self._tx() as tx:
            workflow = self._workflow(tx, workflow_name, namespace)
            return _trigger_meta(tx.add_trigger(workflow.id, frame, self.now()))

    def _trigger(self, trigger_id: int) -> WorkflowTriggerMeta:
        with self._tx(readonly=True) as tx:
            trigger = tx.get_trigger(check_id("workflow trigger", trigger_id))
        if trigger is None:
            raise NotFoundError("workflow trigger", trigger_id)
        return trigger

    def get_workflow_trigger(self, trigger_id: int) -> WorkflowTriggerMeta | None:
        """Return the trigger (its ``rule`` unpickled), or None."""
        with self._tx(readonly=True) as tx:
            trigger = tx.get_trigger(check_id("workflow trigger", trigger_id))
        return None if trigger is None else _trigger_meta(trigger)

    def list_workflow_triggers(
        self, workflow_name: str, namespace: str = "default", limit: int | None = None, offset: int | None = None
    ) -> list[WorkflowTriggerMeta]:
        """Return the triggers of a workflow, oldest first."""
        check_limit_offset(limit, offset)
        with self._tx(readonly=True) as tx:
            triggers = tx.list_triggers(self._workflow(tx, workflow_name, namespace).id, limit, offset)
        return [_trigger_meta(t) for t in triggers]

    def pause_workflow_trigger(self, trigger_id: int) -> None:
        """Stop a trigger from starting executions until resumed."""
        self._trigger(trigger_id)
        with self._tx() as tx:
            tx.update_trigger(trigger_id, True)

    def resume_workflow_trigger(self, trigger_id: int) -> None:
        """Resume a paused trigger."""
        self._trigger(trigger_id)
        with self._tx() as tx:
            tx.update_trigger(trigger_id, False)

    def delete_workflow_trigger(self, trigger_id: int) -> None:
        """Delete a trigger and its condition state."""
        self._trigger(trigger_id)
        with self._tx() as tx:
            tx.delete_triggers([trigger_id])

    def delete_workflow_triggers(self, workflow_name: str, namespace: str = "default") -> None:
        """Delete every trigger of a workflow."""
        with self._tx() as tx:
            tx.delete_triggers(workflow_id=self._workflow(tx, workflow_name, namespace).id)


__all__ = ["PlanOps"]
