"""Workflow schedules: turning due fire times into SCHEDULE_FIRE events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiflow_core.model.event import Event
from aiflow_core.model.expressions import ScheduleExpression, due_fires, parse_expression
from aiflow_core.model.internal.events import ScheduleFire
from aiflow_core.model.meta import WorkflowMeta
from aiflow_core.ports import UNSET, StoreTx


class ScheduleFirer:
    """Finds due schedules through the next-fire-time index and emits their fires."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self._expressions: dict[str, ScheduleExpression] = {}

    def expression(self, text: str) -> ScheduleExpression:
        """The parsed expression (cron in the configured time zone)."""
        expr = self._expressions.get(text)
        if expr is None:
            expr = parse_expression(text, timezone=self.timezone)
            self._expressions[text] = expr
        return expr

    def fire_due(
        self, tx: StoreTx, now: dt.datetime, limit: int, workflows: Callable[[int], WorkflowMeta | None]
    ) -> list[Event]:
        """Events for every due fire; advances each schedule's next fire time.

        ``workflows`` looks a workflow up by id (the namespace of the fire events).
        """
        events: list[Event] = []
        for schedule in tx.due_schedules(now, limit):
            workflow = workflows(schedule.workflow_id)
            fires, next_fire = due_fires(
                self.expression(schedule.expression), schedule.last_fire_time, schedule.create_time,
                now, schedule.misfire_policy,
            )
            for fire in fires:
                events.append(
                    ScheduleFire(
                        namespace=workflow.namespace if workflow else "default", schedule_id=schedule.id,
                        workflow_id=schedule.workflow_id, expression=schedule.expression, fire_time=fire,
                    ).to_event()
                )
            tx.update_schedule(
                schedule.id, next_fire_time=next_fire, last_fire_time=fires[-1] if fires else UNSET
            )
        return events
