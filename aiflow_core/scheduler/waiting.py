"""What a condition still waits for, read from its state and the task statuses (for "why has it not started?")."""

from __future__ import annotations

from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context, scoped
from aiflow_core.model.internal.conditions import (
    MeetAllCondition,
    MeetAnyCondition,
    SingleEventCondition,
    TaskStatusAllMetCondition,
    TaskStatusCondition,
)
from aiflow_core.model.state import ValueStateDescriptor


def waiting_for(condition: Condition, context: Context) -> list[str]:
    """Readable parts of ``condition`` that are not met yet, as of ``context`` (its state and task statuses).

    For a :class:`MeetAllCondition` these are the children still missing
    (the events it has not seen, the task statuses not reached); for a
    :class:`MeetAnyCondition` any one of its children; for the condition of
    ``action_on_task_status`` the task statuses not reached; for a condition of
    another kind, an event it expects that meets it (its state tells how far
    it got).
    """
    if isinstance(condition, MeetAllCondition):
        return _missing_of_all(condition, context)
    if isinstance(condition, TaskStatusAllMetCondition):
        return [part for child in condition.condition_list if not child.live_value(context)
                for part in waiting_for(child, context)]
    if isinstance(condition, MeetAnyCondition):
        parts = [" and ".join(waiting_for(child, scoped(context, str(i))) or [child.describe()])
                 for i, child in enumerate(condition.conditions)]
        return [" or ".join(parts)]
    if isinstance(condition, SingleEventCondition):
        return [f"event {condition.expect_event_keys[0]!r}"]
    if isinstance(condition, TaskStatusCondition):
        now = context.get_task_status(condition.task_name) if condition.is_about(context.workflow) else None
        state = now.value if now is not None else "never ran"
        return [f"task {condition.task_name} to become {condition.expect_status.value} (now: {state})"]
    keys = ", ".join(repr(key) for key in condition.expect_event_keys)
    return [f"an event {keys} for which {type(condition).__name__} is met"]


def _missing_of_all(condition: MeetAllCondition, context: Context) -> list[str]:
    """The children of a MeetAllCondition that are not met: live ones by their value, the others as remembered."""
    stored = context.get_state(ValueStateDescriptor(name=condition.name or "meet_all")).value()  # type: ignore[attr-defined]
    count = len(condition.conditions)
    remembered = list(stored) if isinstance(stored, list) and len(stored) == count else [False] * count
    missing: list[str] = []
    for index, child in enumerate(condition.conditions):
        child_context = scoped(context, str(index))
        live = child.live_value(child_context)
        if not (remembered[index] if live is None else live):
            missing.extend(waiting_for(child, child_context))
    return missing
