"""Rules: a condition plus what to do when it is met."""

from __future__ import annotations

import attrs

from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition, evaluate
from aiflow_core.model.context import Context
from aiflow_core.model.event import Event


def _check_condition(condition: object) -> None:
    if not isinstance(condition, Condition):
        raise InvalidArgumentError(f"a rule needs a Condition, got {condition!r}")


class TaskRule:
    """A rule of a task: when ``condition`` is met, take ``action``."""

    def __init__(self, condition: Condition, action: TaskAction | str) -> None:
        _check_condition(condition)
        try:
            self.action = TaskAction(action)
        except ValueError:
            raise InvalidArgumentError(
                f"action {action!r} is not a TaskAction; expected START, STOP or RESTART"
            ) from None
        self.condition = condition

    def trigger(self, event: Event, context: Context) -> TaskAction | None:
        """Return the action if ``event`` satisfies the condition, else ``None``."""
        if self.condition.expects(event.key) and evaluate(self.condition, event, context):
            return self.action
        return None

    def __repr__(self) -> str:
        return f"TaskRule({self.condition.describe()} -> {self.action.value})"


class WorkflowRule:
    """A workflow trigger's rule: when ``condition`` is met, start an execution."""

    def __init__(self, condition: Condition) -> None:
        _check_condition(condition)
        self.condition = condition

    def trigger(self, event: Event, context: Context) -> bool:
        """True if ``event`` satisfies the condition."""
        return self.condition.expects(event.key) and evaluate(self.condition, event, context)

    def __repr__(self) -> str:
        return f"WorkflowRule({self.condition.describe()})"


@attrs.frozen(kw_only=True)
class FiredRule:
    """Which rule of a task fired: its index in the task's rules and its description."""

    index: int
    description: str
