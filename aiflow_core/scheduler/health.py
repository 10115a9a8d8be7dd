"""How the scheduler loop fares: its last good step, the failures since, and a log that says so.

The loop survives every error of a step (it retries with a back-off), so a
loop that keeps failing does not stop; :class:`StepHealth` makes it show. It
counts the steps that fail in a row, keeps the last error and when the
failures began, and writes the log: the first failure with its traceback, then
at most one line every ``log_every`` seconds while they go on, and one line
when a step succeeds again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from aiflow_core.model.clock import Clock

log = logging.getLogger("aiflow.scheduler")
T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Health:
    """A snapshot of an engine's scheduler loop (see ``Engine.health``).

    ``leader`` says whether the engine holds the scheduler lease (only the
    leader schedules); ``last_success`` is the clock time of the last step
    that committed; ``consecutive_failures`` counts the steps (or attempts to
    take the lease) that failed since, ``last_error`` is the last one's
    error and ``failing_since`` the time of the first; ``events_behind`` is
    how many events of the log the leader has not applied yet (None when
    not the leader or not known). ``steps`` counts the steps that committed
    and ``step_seconds`` is the time they took together (for metrics).
    """

    leader: bool
    last_success: dt.datetime | None
    consecutive_failures: int
    last_error: str | None
    failing_since: dt.datetime | None
    events_behind: int | None
    steps: int = 0
    step_seconds: float = 0.0

    @property
    def healthy(self) -> bool:
        """True unless the last step failed."""
        return self.consecutive_failures == 0

    def as_dict(self) -> dict[str, Any]:
        """The fields as JSON values (times in ISO 8601), plus ``healthy``."""
        record: dict[str, Any] = attrs.asdict(self)
        for name, value in record.items():
            if isinstance(value, dt.datetime):
                record[name] = value.isoformat()
        record["healthy"] = self.healthy
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Health:
        """The inverse of :meth:`as_dict`."""

        def time(name: str) -> dt.datetime | None:
            value = record[name]
            return None if value is None else dt.datetime.fromisoformat(value)

        return cls(
            leader=bool(record["leader"]), last_success=time("last_success"),
            consecutive_failures=int(record["consecutive_failures"]), last_error=record["last_error"],
            failing_since=time("failing_since"), events_behind=record["events_behind"],
            steps=int(record.get("steps", 0)), step_seconds=float(record.get("step_seconds", 0.0)),
        )

    def describe(self) -> str:
        """One line for people: leader or not, and what fails since when."""
        role = "leader" if self.leader else "standby (another engine holds the scheduler lease)"
        last = self.last_success.isoformat() if self.last_success else "never"
        text = f"{role}; last successful step {last}"
        if self.events_behind is not None:
            text += f"; {self.events_behind} events behind the head of the log"
        if self.consecutive_failures:
            since = self.failing_since.isoformat() if self.failing_since else "?"
            text += f"; FAILING since {since} ({self.consecutive_failures} failures in a row): {self.last_error}"
        return text


class StepHealth:
    """Records the outcome of each step; thread-safe (the loop writes, anyone reads)."""

    def __init__(self, clock: Clock, log_every: float = 60.0) -> None:
        self.clock = clock
        self.log_every = log_every
        self._lock = threading.Lock()
        self._last_success: dt.datetime | None = None
        self._failures = 0
        self._last_error: str | None = None
        self._failing_since: dt.datetime | None = None
        self._next_log: dt.datetime | None = None
        self._steps = 0
        self._step_seconds = 0.0

    def succeeded(self, seconds: float = 0.0) -> None:
        """A step committed (or found nothing to do) after ``seconds``."""
        with self._lock:
            self._steps += 1
            self._step_seconds += seconds
            now = self.clock.now()
            if self._failures:
                log.warning(
                    "scheduler steps succeed again after %d failures since %s",
                    self._failures, self._failing_since.isoformat() if self._failing_since else "?",
                )
            self._last_success = now
            self._failures = 0
            self._last_error = self._failing_since = None

    def timed(self, step: Callable[[], T]) -> T:
        """Run ``step``; when it returns, record a success with the time it took (for metrics)."""
        started = time.perf_counter()
        result = step()
        self.succeeded(time.perf_counter() - started)
        return result

    def failed(self, error: BaseException, retry_in: float) -> None:
        """A step (or taking the lease) raised ``error``; the loop tries again in ``retry_in`` seconds."""
        with self._lock:
            now = self.clock.now()
            self._failures += 1
            self._last_error = f"{type(error).__name__}: {error}"
            if self._failures == 1:
                self._failing_since = now
                self._next_log = now + dt.timedelta(seconds=self.log_every)
                log.error("scheduler step failed; retrying in %.1f s", retry_in, exc_info=error)
            elif self._next_log is None or now >= self._next_log:
                self._next_log = now + dt.timedelta(seconds=self.log_every)
                since = self._failing_since.isoformat() if self._failing_since else "?"
                log.error(
                    "scheduler steps keep failing: %d failures in a row since %s; the last: %s",
                    self._failures, since, self._last_error,
                )

    def health(self, *, leader: bool, events_behind: int | None) -> Health:
        """The current record."""
        with self._lock:
            return Health(
                leader=leader, last_success=self._last_success, consecutive_failures=self._failures,
                last_error=self._last_error, failing_since=self._failing_since, events_behind=events_behind,
                steps=self._steps, step_seconds=self._step_seconds,
            )
