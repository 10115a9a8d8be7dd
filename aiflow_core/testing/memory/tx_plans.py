"""Memory store operations on workflow schedules and triggers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from aiflow_core.model.clock import ensure_utc
from aiflow_core.model.meta import WorkflowScheduleMeta, WorkflowTriggerMeta
from aiflow_core.ports import UNSET, Unset, given
from aiflow_core.testing.memory.tx_base import TRIGGER_COUNTER, TxBase, page, utc


class PlanOps(TxBase):
    """Schedules and triggers."""

    def add_schedule(
        self, workflow_id: int, expression: str, next_fire_time: dt.datetime | None, misfire_policy: str,
        now: dt.datetime,
    ) -> WorkflowScheduleMeta:
        """Insert a schedule."""
        self._workflow_row(workflow_id)
        schedule = WorkflowScheduleMeta(
            id=self._next_id("schedule"), workflow_id=workflow_id, expression=expression, is_paused=False,
            create_time=ensure_utc(now), next_fire_time=utc(next_fire_time), misfire_policy=misfire_policy,
        )
        self._put(self.t.schedules, schedule.id, schedule)
        return schedule

    def get_schedule(self, schedule_id: int) -> WorkflowScheduleMeta | None:
        """Return a schedule."""
        return self.t.schedules.get(schedule_id)

    def list_schedules(self, workflow_id: int, limit: int | None, offset: int | None) -> list[WorkflowScheduleMeta]:
        """Return a workflow's schedules."""
        ids = sorted(s.id for s in self.t.schedules.values() if s.workflow_id == workflow_id)
        return [self.t.schedules[i] for i in page(ids, limit, offset)]

    def update_schedule(
        self,
        schedule_id: int,
        *,
        is_paused: bool | Unset = UNSET,
        next_fire_time: dt.datetime | Unset | None = UNSET,
        last_fire_time: dt.datetime | Unset | None = UNSET,
    ) -> None:
        """Update the fields given."""
        fields = given(is_paused=is_paused, next_fire_time=next_fire_time, last_fire_time=last_fire_time)
        for name in ("next_fire_time", "last_fire_time"):
            if name in fields:
                fields[name] = utc(fields[name])
        if "is_paused" in fields:
            fields["is_paused"] = bool(fields["is_paused"])
        schedule = self.t.schedules.get(schedule_id)
        if schedule is not None:
            self._put(self.t.schedules, schedule_id, attrs.evolve(schedule, **fields))

    def delete_schedules(self, schedule_ids: Sequence[int] = (), workflow_id: int | None = None) -> int:
        """Delete schedules by id or of a workflow."""
        ids = set(schedule_ids)
        return self._delete_where(
            self.t.schedules, lambda i, s: i not in ids and (workflow_id is None or s.workflow_id != workflow_id)
        )

    def due_schedules(self, now: dt.datetime, limit: int) -> list[WorkflowScheduleMeta]:
        """Unpaused schedules due at ``now``, earliest first."""
        now = ensure_utc(now)
        due = [
            s for s in self.t.schedules.values()
            if not s.is_paused and s.next_fire_time is not None and s.next_fire_time <= now
        ]
        due.sort(key=lambda s: (s.next_fire_time, s.id))
        return due[:limit]

    def add_trigger(self, workflow_id: int, rule: bytes, now: dt.datetime) -> WorkflowTriggerMeta:
        """Insert a trigger."""
        self._workflow_row(workflow_id)
        trigger = WorkflowTriggerMeta(
            id=self._next_id("trigger"), workflow_id=workflow_id, rule=bytes(rule), is_paused=False,
            create_time=ensure_utc(now),
        )
        self._put(self.t.triggers, trigger.id, trigger)
        self._bump_counter(TRIGGER_COUNTER)
        return trigger

    def get_trigger(self, trigger_id: int) -> WorkflowTriggerMeta | None:
        """Return a trigger."""
        return self.t.triggers.get(trigger_id)

    def list_triggers(
        self, workflow_id: int | None, limit: int | None, offset: int | None, namespace: str | None = None
    ) -> list[WorkflowTriggerMeta]:
        """Return triggers of a workflow, or of a namespace."""
        rows = [
            t for t in (self.t.triggers[i] for i in sorted(self.t.triggers))
            if (workflow_id is None or t.workflow_id == workflow_id)
            and (namespace is None or self.t.workflows[t.workflow_id].namespace == namespace)
        ]
        return page(rows, limit, offset)

    def update_trigger(self, trigger_id: int, is_paused: bool) -> None:
        """Pause or resume a trigger."""
        trigger = self.t.triggers.get(trigger_id)
        if trigger is not None:
            self._put(self.t.triggers, trigger_id, attrs.evolve(trigger, is_paused=bool(is_paused)))
        self._bump_counter(TRIGGER_COUNTER)

    def delete_triggers(self, trigger_ids: Sequence[int] = (), workflow_id: int | None = None) -> int:
        """Delete triggers by id or of a workflow, with their state."""
        ids = list(dict.fromkeys(trigger_ids))
        if workflow_id is not None:
            ids += [t.id for t in self.t.triggers.values() if t.workflow_id == workflow_id and t.id not in ids]
        if not ids:
            return 0
        self._bump_counter(TRIGGER_COUNTER)
        deleted = 0
        for trigger_id in ids:
            self._delete_scopes(f"trigger:{trigger_id}:")
            deleted += self._pop(self.t.triggers, trigger_id) is not None
        return deleted
