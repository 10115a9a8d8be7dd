"""Clocks: the only source of time for scheduling decisions.

Nothing in aiflow reads the wall clock for scheduling except through a
:class:`Clock`. Times are timezone-aware UTC datetimes.

Two helpers make a given datetime aware UTC, and they read a naive one
differently: :func:`ensure_utc` takes it as UTC (schedules, clocks and the
store, whose times are UTC throughout), :func:`local_to_utc` takes it as the
host's local time (the event API's ``begin_time`` and ``time_to_offset``, as
in the original AIFlow and ``datetime.timestamp()``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol, runtime_checkable


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


def local_to_utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime, taking a naive value as local time.

    ``datetime.now()`` thus names the present moment whatever the host's time
    zone; aware values keep the instant they name.
    """
    return value.astimezone(dt.timezone.utc)


class ReplayClock:
    """A fake clock as a stepped engine sees it: it can be held at an earlier instant.

    A test that moves a fake clock forward by a day expects the engine to act
    as if the day had passed with the engine running: the engine holds this
    clock at each timer and schedule fire on the way, runs what is due there,
    and then lets it follow ``source`` again. Every other attribute
    (``advance``, ``set``, ``subscribe``) is the source clock's.
    """

    is_fake = True

    def __init__(self, source: Clock) -> None:
        self.source = source
        self._held: dt.datetime | None = None

    def now(self) -> dt.datetime:
        """The held instant while one is held (never later than the source), else the source's time."""
        now = self.source.now()
        held = self._held
        return now if held is None or held >= now else held

    def hold(self, when: dt.datetime) -> None:
        """Show ``when`` as the time until :meth:`release`."""
        self._held = when

    def release(self) -> None:
        """Follow the source clock again."""
        self._held = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def __repr__(self) -> str:
        return f"ReplayClock({self.source!r})"
