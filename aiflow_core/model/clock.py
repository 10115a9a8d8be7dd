"""Clocks: the only source of time for scheduling decisions.

Nothing in aiflow reads the wall clock for scheduling except through a
:class:`Clock`. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of the current time.

    ``now()`` returns an aware UTC datetime. ``is_fake`` tells the engine
    whether waiting for real time makes sense (a fake clock only moves when a
    test moves it).
    """

    is_fake: bool

    def now(self) -> dt.datetime:
        """Return the current time as an aware UTC datetime."""
        ...


class SystemClock:
    """The real wall clock."""

    is_fake = False

    def now(self) -> dt.datetime:
        """Return the current UTC time."""
        return dt.datetime.now(dt.timezone.utc)


def ensure_utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)
