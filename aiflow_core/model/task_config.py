"""Per-task settings given as operator keyword arguments."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs

from aiflow_core.errors import InvalidArgumentError


def _seconds(task_name: str, name: str, value: Any, *, zero: bool = True) -> float | None:
    """``value`` in seconds; zero only where ``zero`` allows it (a delay may be zero, a timeout may not)."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if (
        isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds)
        or seconds < 0 or (seconds == 0 and not zero)
    ):
        least = "zero or more" if zero else "above zero"
        raise InvalidArgumentError(
            f"task {task_name!r}: {name} must be a number of seconds {least} or a timedelta, got {value!r}; "
            f"e.g. {name}=30"
        )
    return float(seconds)


#: What a queue name may hold (the ``queue`` option, for executors of remote workers such as Celery's).
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def check_queue(queue: Any, where: str) -> str:
    """``queue`` if it is a usable queue name; raises InvalidArgumentError naming ``where`` and ``queue``."""
    if not isinstance(queue, str) or not QUEUE_NAME.match(queue):
        raise InvalidArgumentError(f"{where}: queue must be 1 to 200 letters, digits or '_.:-', got {queue!r}")
    return queue


@attrs.frozen(kw_only=True)
class TaskConfig:
    """Scheduling settings of one task.

    ``retries``: how many times a failed run is tried again (0 = never).
    ``retry_delay``: seconds before the first retry; with
    ``retry_exponential_backoff`` each further retry waits twice as long, capped
    by ``max_retry_delay``. ``execution_timeout``: seconds after which a running
    attempt is failed. ``periodic_expression``: ``cron@...`` or ``interval@...``;
    each fire restarts the task while its execution runs. ``queue``: the
    queue of remote workers the task runs on (executors such as ``celery``;
    None: the executor's default queue).
    """

    periodic_expression: str | None = None
    queue: str | None = None
    retries: int = 0
    retry_delay: float = 0.0
    retry_exponential_backoff: bool = False
    max_retry_delay: float | None = None
    execution_timeout: float | None = None

    @classmethod
    def from_kwargs(cls, task_name: str, kwargs: Mapping[str, Any]) -> TaskConfig:
        """Build the config from operator keyword arguments, validating each."""
        retries = kwargs.get("retries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidArgumentError(
                f"task {task_name!r}: retries must be a non-negative integer, got {retries!r}"
            )
        periodic = kwargs.get("periodic_expression")
        if periodic is not None:
            from aiflow_core.model.expressions import parse_expression

            parse_expression(periodic)
        queue = kwargs.get("queue")
        return cls(
            periodic_expression=periodic,
            queue=None if queue is None else check_queue(queue, f"task {task_name!r}"),
            retries=retries,
            retry_delay=_seconds(task_name, "retry_delay", kwargs.get("retry_delay", 0.0)) or 0.0,
            retry_exponential_backoff=bool(kwargs.get("retry_exponential_backoff", False)),
            max_retry_delay=_seconds(task_name, "max_retry_delay", kwargs.get("max_retry_delay")),
            execution_timeout=_seconds(task_name, "execution_timeout", kwargs.get("execution_timeout"), zero=False),
        )

    def delay_before_try(self, try_number: int) -> float:
        """Seconds to wait before attempt ``try_number`` (2 = first retry)."""
        delay = self.retry_delay
        if self.retry_exponential_backoff:
            delay = self.retry_delay * (2 ** max(0, try_number - 2))
        if self.max_retry_delay is not None:
            delay = min(delay, self.max_retry_delay)
        return delay
