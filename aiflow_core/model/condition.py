"""Conditions: the logical test of a rule."""

from __future__ import annotations

from collections.abc import Iterable

from aiflow_core.errors import ConditionResultError, InvalidArgumentError
from aiflow_core.model.context import Context
from aiflow_core.model.event import Event


class Condition:
    """A logical test evaluated when an event with an expected key arrives.

    Subclasses implement :meth:`is_met`. A condition is only evaluated for
    events whose key is in ``expect_event_keys`` and whose namespace is the
    workflow's. ``is_met`` returns True or False (see :func:`evaluate`); it
    may raise: the scheduler then records the error, treats the condition as
    not met and keeps running.
    """

    def __init__(self, expect_event_keys: Iterable[str]) -> None:
        if isinstance(expect_event_keys, str) or expect_event_keys is None:
            raise InvalidArgumentError(
                f"expect_event_keys must be a list of strings, got {expect_event_keys!r}"
            )
        keys = list(expect_event_keys)
        for key in keys:
            if not isinstance(key, str) or not key:
                raise InvalidArgumentError(
                    f"expect_event_keys must hold non-empty strings, got {key!r}"
                )
        self.expect_event_keys: list[str] = keys

    def is_met(self, event: Event, context: Context) -> bool:
        """Return True when the condition holds after ``event``."""
        raise NotImplementedError(f"{type(self).__name__} must implement is_met(event, context)")

    def live_value(self, context: Context) -> bool | None:
        """Return the condition's value without an event, if it can be known.

        Composite conditions call this for children that did not expect the
        current event. ``None`` (the default) means "only an event can tell";
        the composite then uses the child's last result.
        """
        return None

    def expects(self, key: str) -> bool:
        """True if an event with ``key`` triggers an evaluation."""
        return key in self.expect_event_keys

    def describe(self) -> str:
        """A short human-readable description, shown as the cause of a start."""
        return f"{type(self).__name__}({', '.join(self.expect_event_keys)})"


def evaluate(condition: Condition, event: Event, context: Context) -> bool:
    """Return ``condition.is_met(event, context)``, refusing a result that is not True or False.

    A string, ``None`` or a number would otherwise count by its truth value
    (``"no"`` as met); :class:`~aiflow_core.errors.ConditionResultError` names
    the condition, the event and the result instead, and the scheduler records
    it like an exception the condition raised.
    """
    result = condition.is_met(event, context)
    if not isinstance(result, bool):
        raise ConditionResultError(
            f"{type(condition).__name__}.is_met returned {result!r} ({type(result).__name__}) for event "
            f"{event.key!r}; it must return True or False, e.g. `return bool(...)`"
        )
    return result
