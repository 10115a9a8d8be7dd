"""The built-in conditions."""

from __future__ import annotations

from collections.abc import Sequence

from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context, scoped
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import task_status_event_key
from aiflow_core.model.state import MapStateDescriptor
from aiflow_core.model.status import TaskStatus


class SingleEventCondition(Condition):
    """Met by every event with the expected key."""

    def __init__(self, expect_event_key: str) -> None:
        super().__init__([expect_event_key])

    def is_met(self, event: Event, context: Context) -> bool:
        """Always True: the key already matched."""
        return True

    def describe(self) -> str:
        """Name the expected key."""
        return f"event {self.expect_event_keys[0]!r}"


class TaskStatusCondition(Condition):
    """Met when ``task_name`` of ``workflow_name`` reaches ``expect_status``.

    On its own status event it compares the event's status; inside a composite,
    on other events, it reads the task's current status in the execution.
    """

    def __init__(
        self, task_name: str, expect_status: TaskStatus | str, workflow_name: str
    ) -> None:
        try:
            status = TaskStatus(expect_status)
        except ValueError:
            raise InvalidArgumentError(
                f"expect_status {expect_status!r} is not a task status; "
                f"expected one of {[s.value for s in TaskStatus]}"
            ) from None
        super().__init__([task_status_event_key(workflow_name, task_name)])
        self.task_name = task_name
        self.workflow_name = workflow_name
        self.expect_status = status

    def is_met(self, event: Event, context: Context) -> bool:
        """True if the event reports the expected status."""
        return event.value == self.expect_status.value

    def live_value(self, context: Context) -> bool | None:
        """The task's current status in the execution, when there is one."""
        if context.workflow_execution_id is None:
            return None
        return context.get_task_status(self.task_name) == self.expect_status

    def describe(self) -> str:
        """Name the task and status."""
        return f"{self.task_name} {self.expect_status.value}"


class _CompositeCondition(Condition):
    def __init__(self, conditions: Sequence[Condition]) -> None:
        conditions = list(conditions)
        if not conditions:
            raise InvalidArgumentError(f"{type(self).__name__} needs at least one condition")
        for child in conditions:
            if not isinstance(child, Condition):
                raise InvalidArgumentError(
                    f"{type(self).__name__} takes Condition objects, got {child!r}"
                )
        keys: list[str] = []
        for child in conditions:
            keys.extend(k for k in child.expect_event_keys if k not in keys)
        super().__init__(keys)
        self.conditions = conditions

    def describe(self) -> str:
        joiner = " and " if isinstance(self, MeetAllCondition) else " or "
        return joiner.join(child.describe() for child in self.conditions)


class MeetAllCondition(_CompositeCondition):
    """Met when every child condition holds.

    A child that expects the current event is evaluated on it; a child that
    does not is taken at its live value (see :meth:`Condition.live_value`) or at
    its last result. Remembered results are cleared when the condition fires,
    so each firing needs fresh events.
    """

    def is_met(self, event: Event, context: Context) -> bool:
        """Evaluate the children that expect the event, then combine."""
        if self._all_live(event, context):
            return all(
                bool(child.is_met(event, scoped(context, str(i)))) if child.expects(event.key)
                else bool(child.live_value(scoped(context, str(i))))
                for i, child in enumerate(self.conditions)
            )
        remembered = context.get_state(MapStateDescriptor(name="meet_all"))
        results: list[bool] = []
        for index, child in enumerate(self.conditions):
            child_context = scoped(context, str(index))
            if child.expects(event.key):
                met = bool(child.is_met(event, child_context))
                remembered.put(str(index), met)  # type: ignore[attr-defined]
                results.append(met)
                continue
            live = child.live_value(child_context)
            results.append(
                live if live is not None else bool(remembered.get(str(index), False))  # type: ignore[attr-defined]
            )
        if all(results):
            remembered.clear()
            return True
        return False

    def _all_live(self, event: Event, context: Context) -> bool:
        """True when no child needs a remembered result (each has a live value, like task statuses)."""
        return all(child.live_value(scoped(context, str(i))) is not None for i, child in enumerate(self.conditions))

    def live_value(self, context: Context) -> bool | None:
        """Live only when every child is live."""
        values = [c.live_value(scoped(context, str(i))) for i, c in enumerate(self.conditions)]
        return None if any(v is None for v in values) else all(values)


class MeetAnyCondition(_CompositeCondition):
    """Met when any child that expects the event is met by it."""

    def is_met(self, event: Event, context: Context) -> bool:
        """Evaluate the children that expect the event; True if one holds."""
        met = False
        for index, child in enumerate(self.conditions):
            if child.expects(event.key) and child.is_met(event, scoped(context, str(index))):
                met = True
        return met
