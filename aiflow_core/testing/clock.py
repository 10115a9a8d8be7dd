"""A clock that only moves when a test moves it."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
from collections.abc import Callable

from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.clock import ensure_utc

__all__ = ["DEFAULT_START", "FakeClock"]

DEFAULT_START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
"""Where a :class:`FakeClock` starts when no start time is given."""


def _instant(value: object, name: str) -> dt.datetime:
    """Return ``value`` (a datetime or an ISO 8601 string) as an aware UTC datetime."""
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise InvalidArgumentError(
                f"{name} {value!r} is not an ISO 8601 date-time; "
                "expected e.g. '2024-01-01T00:00:00Z'"
            ) from exc
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError(
            f"{name} must be a datetime or an ISO 8601 string, got {type(value).__name__} {value!r}"
        )
    return ensure_utc(value)


class FakeClock:
    """A :class:`~aiflow_core.model.clock.Clock` for tests.

    Time stands still until :meth:`advance` or :meth:`set` moves it forward;
    it never moves backwards. ``start`` is a datetime (naive values are taken
    as UTC) or an ISO 8601 string, by default 2024-01-01T00:00:00Z. All
    methods are thread-safe. Code that waits for time to pass (such as an
    engine's loop) registers with :meth:`subscribe` to learn when it moved.
    """

    is_fake = True

    def __init__(self, start: dt.datetime | str | None = None) -> None:
        self._now = DEFAULT_START if start is None else _instant(start, "start")
        self._lock = threading.Lock()
        self._subscribers: dict[int, Callable[[], None]] = {}
        self._tokens = itertools.count()

    def now(self) -> dt.datetime:
        """Return the clock's current time as an aware UTC datetime."""
        with self._lock:
            return self._now

    def advance(self, delta: dt.timedelta | float) -> dt.datetime:
        """Move the clock forward by ``delta`` (a timedelta or seconds); return the new time."""
        if isinstance(delta, bool) or not isinstance(delta, (dt.timedelta, int, float)):
            raise InvalidArgumentError(
                f"delta must be a timedelta or a number of seconds, got "
                f"{type(delta).__name__} {delta!r}"
            )
        if not isinstance(delta, dt.timedelta):
            if not math.isfinite(delta):
                raise InvalidArgumentError(
                    f"delta must be a finite number of seconds, got {delta!r}"
                )
            delta = dt.timedelta(seconds=delta)
        if delta < dt.timedelta(0):
            raise InvalidArgumentError(
                f"delta {delta!r} is negative; a FakeClock only moves forward"
            )
        with self._lock:
            self._now += delta
            now = self._now
        if delta:
            self._notify()
        return now

    def set(self, when: dt.datetime | str) -> dt.datetime:
        """Move the clock to ``when`` (a datetime or ISO 8601 string); return the new time.

        Moving to an earlier time than the current one raises
        :class:`~aiflow_core.errors.InvalidArgumentError`.
        """
        target = _instant(when, "when")
        with self._lock:
            if target < self._now:
                raise InvalidArgumentError(
                    f"cannot set the clock back from {self._now.isoformat()} to "
                    f"{target.isoformat()}; a FakeClock only moves forward"
                )
            moved = target != self._now
            self._now = target
        if moved:
            self._notify()
        return target

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every move of the clock; return a function that unsubscribes.

        Callbacks run in the thread that moved the clock, after the move and
        without any lock held, so they may read or move the clock themselves.
        Unsubscribing twice is harmless.
        """
        if not callable(callback):
            raise InvalidArgumentError(f"callback must be callable, got {callback!r}")
        with self._lock:
            token = next(self._tokens)
            self._subscribers[token] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(token, None)

        return unsubscribe

    def _notify(self) -> None:
        """Call every subscriber; the first exception is raised once all have run."""
        with self._lock:
            callbacks = list(self._subscribers.values())
        error: BaseException | None = None
        for callback in callbacks:
            try:
                callback()
            except Exception as exc:
                if error is None:
                    error = exc
        if error is not None:
            raise error

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()!r})"
