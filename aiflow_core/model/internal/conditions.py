"""The built-in conditions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.condition import Condition, evaluate
from aiflow_core.model.context import Context, WorkflowIdentity, scoped
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import task_status_event_key
from aiflow_core.model.state import ValueStateDescriptor
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

    The arguments are AIFlow's, in its order. ``namespace`` is the namespace
    of ``workflow_name``; ``None`` (the default) means the namespace of the
    workflow whose rule holds the condition. As in AIFlow, a condition is only
    evaluated for events of that workflow's namespace, so a condition naming
    another namespace is never met.

    On its own status event it compares the event's status; inside a composite,
    on other events, it reads the task's current status in the execution.
    """

    def __init__(
        self,
        workflow_name: str,
        task_name: str,
        namespace: str | None = None,
        expect_status: TaskStatus | str | None = None,
    ) -> None:
        if expect_status is None:
            raise InvalidArgumentError(
                f"TaskStatusCondition for task {task_name!r} needs expect_status; the arguments "
                "are (workflow_name, task_name, namespace, expect_status)"
            )
        try:
            status = TaskStatus(expect_status)
        except ValueError:
            raise InvalidArgumentError(
                f"expect_status {expect_status!r} is not a task status; "
                f"expected one of {[s.value for s in TaskStatus]}"
            ) from None
        if namespace is not None and (not isinstance(namespace, str) or not namespace):
            raise InvalidArgumentError(
                f"namespace must be a non-empty string or None, got {namespace!r}"
            )
        super().__init__([task_status_event_key(workflow_name, task_name)])
        self.workflow_name = workflow_name
        self.task_name = task_name
        self.namespace = namespace
        self.expect_status = status

    def is_met(self, event: Event, context: Context) -> bool:
        """True if the event reports the expected status from the expected namespace."""
        if self.namespace is not None and getattr(event, "namespace", self.namespace) != self.namespace:
            return False
        return event.value == self.expect_status.value

    def live_value(self, context: Context) -> bool | None:
        """The task's current status in the execution, when the condition is about it."""
        if context.workflow_execution_id is None or not self.is_about(context.workflow):
            return None
        return context.get_task_status(self.task_name) == self.expect_status

    def is_about(self, workflow: WorkflowIdentity | None) -> bool:
        """True if the condition names a task of ``workflow`` (or ``workflow`` is unknown)."""
        if workflow is None:
            return True
        return workflow.name == self.workflow_name and self.namespace in (None, workflow.namespace)

    def describe(self) -> str:
        """Name the task and status."""
        return f"{self.task_name} {self.expect_status.value}"


def _checked_children(kind: str, conditions: object) -> list[Condition]:
    """The child conditions of a composite, checked."""
    if isinstance(conditions, (str, Condition)) or not isinstance(conditions, Iterable):
        raise InvalidArgumentError(f"{kind} takes a list of conditions, got {conditions!r}")
    children = list(conditions)
    if not children:
        raise InvalidArgumentError(f"{kind} needs at least one condition")
    for child in children:
        if not isinstance(child, Condition):
            raise InvalidArgumentError(f"{kind} takes Condition objects, got {child!r}")
    return children


def _keys_of(children: Sequence[Condition]) -> list[str]:
    """The event keys expected by any of ``children``, without repeats."""
    keys: list[str] = []
    for child in children:
        keys.extend(k for k in child.expect_event_keys if k not in keys)
    return keys


class _CompositeCondition(Condition):
    def __init__(self, conditions: Sequence[Condition]) -> None:
        self.conditions = _checked_children(type(self).__name__, conditions)
        super().__init__(_keys_of(self.conditions))

    def describe(self) -> str:
        joiner = " and " if isinstance(self, MeetAllCondition) else " or "
        return joiner.join(child.describe() for child in self.conditions)


class MeetAllCondition(_CompositeCondition):
    """Met when every child condition holds.

    ``MeetAllCondition(name, conditions)`` as in AIFlow; ``name`` names the
    state that remembers the children's results (state is kept per rule, so it
    need not be unique) and may be left out: ``MeetAllCondition([c1, c2])`` and
    ``MeetAllCondition(conditions=[c1, c2])`` work too.

    A child that expects the current event is evaluated on it; a child that
    does not is taken at its live value (see :meth:`Condition.live_value`) or at
    its last result. Remembered results are cleared when the condition fires,
    so each firing needs fresh events.
    """

    def __init__(
        self,
        name: str | Sequence[Condition] | None = None,
        conditions: Sequence[Condition] | None = None,
    ) -> None:
        if conditions is None and name is not None and not isinstance(name, str):
            name, conditions = None, name
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidArgumentError(f"MeetAllCondition name must be a non-empty string, got {name!r}")
        if conditions is None:
            raise InvalidArgumentError("MeetAllCondition needs conditions: MeetAllCondition(name, conditions)")
        super().__init__(conditions)
        self.name: str | None = name

    def is_met(self, event: Event, context: Context) -> bool:
        """Evaluate the children that expect the event, then combine."""
        if self._all_live(context):
            return all(
                evaluate(child, event, scoped(context, str(i))) if child.expects(event.key)
                else bool(child.live_value(scoped(context, str(i))))
                for i, child in enumerate(self.conditions)
            )
        state = context.get_state(ValueStateDescriptor(name=self.name or "meet_all"))
        stored = state.value()  # type: ignore[attr-defined]
        remembered = list(stored) if isinstance(stored, list) and len(stored) == len(self.conditions) \
            else [False] * len(self.conditions)
        results: list[bool] = []
        for index, child in enumerate(self.conditions):
            child_context = scoped(context, str(index))
            if child.expects(event.key):
                remembered[index] = evaluate(child, event, child_context)
                results.append(remembered[index])
                continue
            live = child.live_value(child_context)
            results.append(remembered[index] if live is None else live)
        if all(results):
            state.clear()
            return True
        state.update(remembered)  # type: ignore[attr-defined]
        return False

    def _all_live(self, context: Context) -> bool:
        """True when no child needs a remembered result (each has a live value, like task statuses)."""
        return all(child.live_value(scoped(context, str(i))) is not None for i, child in enumerate(self.conditions))

    def live_value(self, context: Context) -> bool | None:
        """Live only when every child is live."""
        values = [c.live_value(scoped(context, str(i))) for i, c in enumerate(self.conditions)]
        return None if any(v is None for v in values) else all(values)


class MeetAnyCondition(_CompositeCondition):
    """Met when any child that expects the event is met by it: ``MeetAnyCondition(conditions)``."""

    def is_met(self, event: Event, context: Context) -> bool:
        """Evaluate the children that expect the event; True if one holds."""
        met = False
        for index, child in enumerate(self.conditions):
            if child.expects(event.key) and evaluate(child, event, scoped(context, str(index))):
                met = True
        return met


class TaskStatusAllMetCondition(Condition):
    """Met when every task named by ``condition_list`` has its expected status.

    AIFlow's condition behind ``action_on_task_status``. The task whose status
    event arrives is judged by the event; the others by their current status
    in the same workflow execution (a task that never ran, or one of another
    workflow, does not count as met).
    """

    def __init__(self, condition_list: Sequence[TaskStatusCondition]) -> None:
        children = _checked_children("TaskStatusAllMetCondition", condition_list)
        for child in children:
            if not isinstance(child, TaskStatusCondition):
                raise InvalidArgumentError(
                    f"TaskStatusAllMetCondition takes TaskStatusCondition objects, got {child!r}"
                )
        super().__init__(_keys_of(children))
        self.condition_list: list[TaskStatusCondition] = children  # type: ignore[assignment]

    def is_met(self, event: Event, context: Context) -> bool:
        """True if every listed task has its expected status after ``event``."""
        return all(
            evaluate(c, event, context) if c.expects(event.key) else bool(c.live_value(context))
            for c in self.condition_list
        )

    def live_value(self, context: Context) -> bool | None:
        """Live when every listed task's status can be read."""
        values = [c.live_value(context) for c in self.condition_list]
        return None if any(v is None for v in values) else all(values)

    def describe(self) -> str:
        """Name the tasks and statuses."""
        return " and ".join(c.describe() for c in self.condition_list)


def _children(condition: Condition) -> list[Condition]:
    """The conditions a composite is made of, recognised by AIFlow's attribute names.

    ``conditions`` (MeetAll/MeetAny) and ``condition_list`` (TaskStatusAllMet).
    """
    for attribute in ("conditions", "condition_list"):
        children = getattr(condition, attribute, None)
        if isinstance(children, (list, tuple)):
            return [child for child in children if isinstance(child, Condition)]
    return []


def walk_conditions(condition: Condition) -> Iterator[Condition]:
    """Yield ``condition`` and, depth first, the conditions it is made of."""
    yield condition
    for child in _children(condition):
        yield from walk_conditions(child)


def leaf_conditions(condition: Condition) -> Iterator[Condition]:
    """Yield the conditions ``condition`` is made of that are not composites themselves."""
    return (c for c in walk_conditions(condition) if not _children(c))
