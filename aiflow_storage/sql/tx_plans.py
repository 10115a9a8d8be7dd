"""Store operations on workflow schedules and triggers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from aiflow_core.model.meta import WorkflowScheduleMeta, WorkflowTriggerMeta
from aiflow_core.ports import UNSET, Unset, given
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.prepared import Prepared
from aiflow_storage.sql.tx_base import TRIGGER_COUNTER, TxBase
from aiflow_storage.sql.tx_meta import page as _page

# Statements of the scheduler's hot path, built once (see tx_log).
_SCHEDULE_BY_ID = sa.select(t.schedules).where(t.schedules.c.id == sa.bindparam("schedule_id"))
_DUE_SCHEDULES = Prepared(
    sa.select(t.schedules)
    .where(t.schedules.c.is_paused == sa.false(), t.schedules.c.next_fire_time <= sa.bindparam("now"))
    .order_by(t.schedules.c.next_fire_time)
    .limit(sa.bindparam("limit"))
)


def _schedule(row: Any) -> WorkflowScheduleMeta:
    return WorkflowScheduleMeta(
        id=row.id, workflow_id=row.workflow_id, expression=row.expression, is_paused=bool(row.is_paused),
        create_time=row.create_time, next_fire_time=row.next_fire_time, misfire_policy=row.misfire_policy,
        last_fire_time=row.last_fire_time,
    )


def _trigger(row: Any) -> WorkflowTriggerMeta:
    return WorkflowTriggerMeta(
        id=row.id, workflow_id=row.workflow_id, rule=bytes(row.rule), is_paused=bool(row.is_paused),
        create_time=row.create_time,
    )


class PlanOps(TxBase):
    """Schedules and triggers."""

    def add_schedule(
        self, workflow_id: int, expression: str, next_fire_time: dt.datetime | None, misfire_policy: str,
        now: dt.datetime,
    ) -> WorkflowScheduleMeta:
        """Insert a schedule."""
        result = self.conn.execute(
            sa.insert(t.schedules).values(
                workflow_id=workflow_id, expression=expression, is_paused=False, misfire_policy=misfire_policy,
                next_fire_time=next_fire_time, create_time=now,
            )
        )
        schedule = self.get_schedule(result.inserted_primary_key[0])  # type: ignore[index]
        assert schedule is not None
        return schedule

    def get_schedule(self, schedule_id: int) -> WorkflowScheduleMeta | None:
        """Return a schedule."""
        row = self.conn.execute(_SCHEDULE_BY_ID, {"schedule_id": schedule_id}).first()
        return None if row is None else _schedule(row)

    def list_schedules(self, workflow_id: int, limit: int | None, offset: int | None) -> list[WorkflowScheduleMeta]:
        """Return a workflow's schedules."""
        query = sa.select(t.schedules).where(t.schedules.c.workflow_id == workflow_id).order_by(t.schedules.c.id)
        return [_schedule(r) for r in self.conn.execute(_page(query, limit, offset))]

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
        self._update_row(t.schedules, schedule_id, fields)

    def delete_schedules(self, schedule_ids: Sequence[int] = (), workflow_id: int | None = None) -> int:
        """Delete schedules by id or of a workflow."""
        count = 0
        if schedule_ids:
            count += self.conn.execute(sa.delete(t.schedules).where(t.schedules.c.id.in_(list(schedule_ids)))).rowcount
        if workflow_id is not None:
            count += self.conn.execute(sa.delete(t.schedules).where(t.schedules.c.workflow_id == workflow_id)).rowcount
        return count

    def due_schedules(self, now: dt.datetime, limit: int) -> list[WorkflowScheduleMeta]:
        """Unpaused schedules due at ``now``, through the (is_paused, next_fire_time) index."""
        return [_schedule(r) for r in _DUE_SCHEDULES.execute(self.conn, {"now": now, "limit": limit})]

    def add_trigger(self, workflow_id: int, rule: bytes, now: dt.datetime) -> WorkflowTriggerMeta:
        """Insert a trigger."""
        result = self.conn.execute(
            sa.insert(t.triggers).values(workflow_id=workflow_id, rule=rule, is_paused=False, create_time=now)
        )
        self._bump_counter(TRIGGER_COUNTER)
        trigger = self.get_trigger(result.inserted_primary_key[0])  # type: ignore[index]
        assert trigger is not None
        return trigger

    def get_trigger(self, trigger_id: int) -> WorkflowTriggerMeta | None:
        """Return a trigger."""
        row = self.conn.execute(sa.select(t.triggers).where(t.triggers.c.id == trigger_id)).first()
        return None if row is None else _trigger(row)

    def list_triggers(
        self, workflow_id: int | None, limit: int | None, offset: int | None, namespace: str | None = None
    ) -> list[WorkflowTriggerMeta]:
        """Return triggers of a workflow, or of a namespace."""
        query = sa.select(t.triggers).order_by(t.triggers.c.id)
        if workflow_id is not None:
            query = query.where(t.triggers.c.workflow_id == workflow_id)
        if namespace is not None:
            query = query.join(t.workflows, t.workflows.c.id == t.triggers.c.workflow_id).where(
                t.workflows.c.namespace == namespace
            )
        return [_trigger(r) for r in self.conn.execute(_page(query, limit, offset))]

    def update_trigger(self, trigger_id: int, is_paused: bool) -> None:
        """Pause or resume a trigger."""
        self.conn.execute(sa.update(t.triggers).where(t.triggers.c.id == trigger_id).values(is_paused=is_paused))
        self._bump_counter(TRIGGER_COUNTER)

    def delete_triggers(self, trigger_ids: Sequence[int] = (), workflow_id: int | None = None) -> int:
        """Delete triggers by id or of a workflow, with their state."""
        ids = list(trigger_ids)
        if workflow_id is not None:
            query = sa.select(t.triggers.c.id).where(t.triggers.c.workflow_id == workflow_id)
            ids += [r.id for r in self.conn.execute(query)]
        for trigger_id in ids:
            self.conn.execute(sa.delete(t.states).where(t.states.c.scope.like(f"trigger:{trigger_id}:%")))
        if not ids:
            return 0
        self._bump_counter(TRIGGER_COUNTER)
        return self.conn.execute(sa.delete(t.triggers).where(t.triggers.c.id.in_(ids))).rowcount
