"""Schedule expressions: when a workflow schedule or a periodic task fires.

Two forms are accepted, as text:

``cron@<minute> <hour> <day-of-month> <month> <day-of-week>``
    A standard five-field crontab line (``cron@0 * * * *`` fires at every full
    hour). Names (``JAN``, ``MON``), ranges, lists and steps work as in cron;
    a sixth (seconds) field is refused.

``interval@<days> <hours> <minutes> <seconds>``
    A fixed period counted from the moment the schedule was created
    (``interval@0 1 0 0`` fires every hour from then on). The four fields are
    non-negative whole numbers, not all zero.

Every time handed in or out is an aware UTC :class:`datetime.datetime` (naive
values are taken as UTC). A cron expression is evaluated on the wall clock of
its IANA time zone (``UTC`` unless set) with these rules on the days the zone
changes its offset:

* Expressions whose hour field is ``*`` (every hour) follow real time. A wall
  time the clock jumps over does not fire (``30 * * * *`` still fires once in
  every real hour), and a wall time the clock repeats fires at both instants.
  ``0 * * * *`` therefore fires 24 times per UTC day, 23 times on the local day
  that springs forward and 25 times on the local day that falls back.
* Every other expression fires once per matching wall time. A wall time the
  clock jumps over fires at the first instant after the jump (``30 2 * * *``
  fires at 03:00 local time on the day 02:00-03:00 is skipped), and a repeated
  wall time fires only at its first occurrence.

Fire instants of any expression strictly increase and never repeat.
"""

from __future__ import annotations

import abc
import copy
import datetime as dt
import enum
import heapq
import itertools
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from croniter import CroniterError, croniter

from aiflow_core.errors import InvalidArgumentError, InvalidExpressionError
from aiflow_core.model.clock import ensure_utc

__all__ = [
    "CronExpression",
    "IntervalExpression",
    "MisfirePolicy",
    "ScheduleExpression",
    "due_fires",
    "parse_expression",
]

_UTC = dt.timezone.utc
_CRON_PREFIX = "cron@"
_INTERVAL_PREFIX = "interval@"
_CRON_FORM = "cron@<minute> <hour> <day-of-month> <month> <day-of-week>, e.g. 'cron@0 * * * *'"
_INTERVAL_FORM = "interval@<days> <hours> <minutes> <seconds>, e.g. 'interval@0 1 0 0' (every hour)"
_INTERVAL_FIELDS = ("days", "hours", "minutes", "seconds")
# Wide enough to hold the largest offset change of any zone (Samoa skipped a day).
_OFFSET_HORIZON = dt.timedelta(hours=25)
_PROBE_BASE = dt.datetime(2000, 1, 1)
_FIRST_WINDOW = dt.timedelta(minutes=1)
_CRONITERS: dict[str, croniter] = {}


#: Walks over fire instants that stopped at the first fire after their window, by where the next walk starts (its
#: window's lower end, strictly before that fire): that fire and the walk positioned just after it. A schedule's
#: next window starts at its last fire, so an every-minute schedule computes one new fire per window instead of
#: starting a new walk (and computing the fire it already knew) each time.
_RESUME: dict[
    tuple[ScheduleExpression, dt.datetime | None, dt.datetime], tuple[dt.datetime, Iterator[dt.datetime]]
] = {}
_RESUME_MAX = 4096


def _croniter(cron: str, start: dt.datetime) -> croniter:
    """A croniter over ``cron`` from ``start``: a copy of a kept one, since parsing the fields is the slow part."""
    prototype = _CRONITERS.get(cron)
    if prototype is None:
        if len(_CRONITERS) >= 1024:
            _CRONITERS.clear()
        prototype = _CRONITERS[cron] = croniter(cron, start)
    iterator = copy.copy(prototype)
    iterator.set_current(start, force=True)
    return iterator


def _utc(value: object, name: str) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime or raise naming ``name``."""
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError(
            f"{name} must be a datetime.datetime, got {type(value).__name__} {value!r}"
        )
    return ensure_utc(value)


def _normalize_cron(cron: object) -> str:
    """Validate a five-field crontab line and return it with single spaces."""
    if not isinstance(cron, str):
        raise InvalidArgumentError(
            f"a cron expression must be a str, got {type(cron).__name__} {cron!r}; "
            f"expected {_CRON_FORM}"
        )
    fields = cron.split()
    if len(fields) == 6:
        raise InvalidExpressionError(
            f"cron expression {cron!r} has 6 fields; only the 5 standard fields are accepted "
            f"(seconds are not supported): {_CRON_FORM}"
        )
    if len(fields) != 5:
        raise InvalidExpressionError(
            f"cron expression {cron!r} has {len(fields)} field{'s' * (len(fields) != 1)}; "
            f"expected 5: {_CRON_FORM}"
        )
    normalized = " ".join(fields)
    try:
        croniter(normalized, _PROBE_BASE).get_next(dt.datetime)
    except CroniterError as exc:
        reason = str(exc) or type(exc).__name__
        if "find next date" in reason:
            reason = "it never matches a calendar date"
        raise InvalidExpressionError(
            f"invalid cron expression {cron!r}: {reason}; expected {_CRON_FORM}"
        ) from exc
    return normalized


def time_zone(name: str) -> ZoneInfo:
    """Return the IANA time zone ``name`` or raise naming it."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"a time zone must be a str, got {type(name).__name__} {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidExpressionError(
            f"unknown time zone {name!r}; expected an IANA name such as 'UTC', "
            "'Europe/Berlin' or 'America/New_York'"
        ) from exc


def _check_zone(instance: object, attribute: object, value: str) -> None:
    """Attrs validator: ``value`` names an IANA time zone."""
    time_zone(value)


def _check_interval(instance: object, attribute: object, value: dt.timedelta) -> None:
    """Attrs validator: ``value`` is a positive whole number of seconds."""
    if not isinstance(value, dt.timedelta):
        raise InvalidArgumentError(
            f"interval must be a datetime.timedelta, got {type(value).__name__} {value!r}"
        )
    if value <= dt.timedelta(0) or value.microseconds:
        raise InvalidExpressionError(
            f"interval {value!r} must be a positive whole number of seconds; "
            f"expected {_INTERVAL_FORM}"
        )


def _transition(earlier: dt.datetime, later: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Return the first instant in ``(earlier, later]`` whose UTC offset differs from ``earlier``'s.

    Offsets change on whole seconds, so a bisection over seconds is exact.
    """
    before = earlier.astimezone(zone).utcoffset()
    low, high = 0, int((later - earlier).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (earlier + dt.timedelta(seconds=middle)).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return earlier + dt.timedelta(seconds=high)


@attrs.frozen(kw_only=True)
class ScheduleExpression(abc.ABC):
    """A parsed schedule expression: the rule that says when something fires.

    ``start`` in the methods below is when the schedule was created: nothing
    fires at or before it. Build instances with :func:`parse_expression`.
    """

    @property
    @abc.abstractmethod
    def text(self) -> str:
        """The canonical text of the expression (``cron@...`` or ``interval@...``)."""

    @abc.abstractmethod
    def _iter_fires(self, after: dt.datetime, start: dt.datetime | None) -> Iterator[dt.datetime]:
        """Yield the fire instants strictly after ``after`` (both UTC) in increasing order."""

    def next_fire(self, after: dt.datetime, *, start: dt.datetime | None = None) -> dt.datetime:
        """Return the first fire instant strictly after ``after`` (and after ``start``)."""
        return next(self._iter_fires(_utc(after, "after"), self._start(start)))

    def fires_between(
        self,
        after: dt.datetime,
        until: dt.datetime,
        *,
        start: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[dt.datetime]:
        """Return the fire instants in ``(after, until]``, oldest first.

        At most ``limit`` instants (the earliest ones) are returned when it is set.
        """
        lower, upper = _utc(after, "after"), _utc(until, "until")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidArgumentError(f"limit must be a non-negative int or None, got {limit!r}")
        if upper <= lower or limit == 0:
            return []
        return self._walk(lower, upper, self._start(start), limit)[0]

    def fires_until(
        self, after: dt.datetime, until: dt.datetime, *, start: dt.datetime | None = None
    ) -> tuple[list[dt.datetime], dt.datetime]:
        """Return the fire instants in ``(after, until]``, oldest first, and the first fire after ``until``."""
        fires, following = self._walk(_utc(after, "after"), _utc(until, "until"), self._start(start), None)
        assert following is not None  # without a limit the walk ends at a fire after ``until``
        return fires, following

    def _walk(
        self, lower: dt.datetime, upper: dt.datetime, start: dt.datetime | None, limit: int | None
    ) -> tuple[list[dt.datetime], dt.datetime | None]:
        """The fires in ``(lower, upper]`` (at most ``limit``) and the fire after them if the walk reached it."""
        fires: list[dt.datetime] = []
        resumed = _RESUME.pop((self, start, lower), None)
        if resumed is None:
            walk = self._iter_fires(lower, start)
            source: Iterator[dt.datetime] = walk
        else:
            first, walk = resumed
            source = itertools.chain((first,), walk)
        for fire in source:
            if fire > upper:
                # The next walk of a schedule usually starts at the last fire of this one: it goes on from here.
                if len(_RESUME) >= _RESUME_MAX:
                    _RESUME.clear()
                _RESUME[(self, start, fires[-1] if fires else lower)] = (fire, walk)
                return fires, fire
            fires.append(fire)
            if len(fires) == limit:
                break
        return fires, None

    @staticmethod
    def _start(start: dt.datetime | None) -> dt.datetime | None:
        return None if start is None else _utc(start, "start")

    def __str__(self) -> str:
        return self.text


@attrs.frozen(kw_only=True)
class CronExpression(ScheduleExpression):
    """A five-field crontab schedule evaluated in the IANA time zone ``timezone``.

    ``cron`` holds the five fields without the ``cron@`` prefix. ``start``
    only bounds the fires from below: fires at or before it are left out. The
    module documentation describes how offset changes (DST) are handled.
    """

    cron: str = attrs.field(converter=_normalize_cron)
    timezone: str = attrs.field(default="UTC", validator=_check_zone)

    @property
    def text(self) -> str:
        """``cron@`` followed by the five fields."""
        return _CRON_PREFIX + self.cron

    def with_timezone(self, tz: str) -> CronExpression:
        """Return the same expression evaluated in the IANA time zone ``tz``."""
        return attrs.evolve(self, timezone=tz)

    def _iter_fires(self, after: dt.datetime, start: dt.datetime | None) -> Iterator[dt.datetime]:
        lower = after if start is None or start < after else start
        zone = time_zone(self.timezone)
        local = lower.astimezone(zone)
        wall = local.replace(tzinfo=None)
        base = _croniter(self.cron, wall)
        every_hour = base.expanded[1] == ["*"]
        if every_hour:
            # Wall times just before ``wall`` may also occur again after ``lower``
            # when the clock is about to be set back: start early enough.
            offset_now = local.utcoffset() or dt.timedelta(0)
            offset_later = (lower + _OFFSET_HORIZON).astimezone(zone).utcoffset()
            setback = offset_now - (offset_later or dt.timedelta(0))
            if setback > dt.timedelta(0):
                base = _croniter(self.cron, wall - setback)
        pending: list[dt.datetime] = []
        last = lower
        while True:
            candidate = base.get_next(dt.datetime)
            floor = self._place(candidate, zone, every_hour, pending)
            # Instants of later wall times are never earlier than ``floor``.
            while pending and pending[0] <= floor:
                fire = heapq.heappop(pending)
                if fire > last:
                    last = fire
                    yield fire

    @staticmethod
    def _place(
        wall: dt.datetime, zone: ZoneInfo, every_hour: bool, pending: list[dt.datetime]
    ) -> dt.datetime:
        """Push the instants of the wall time ``wall`` onto ``pending``.

        Returns a lower bound of the instants of every later wall time.
        """
        first = wall.replace(tzinfo=zone, fold=0).astimezone(_UTC)
        second = wall.replace(tzinfo=zone, fold=1).astimezone(_UTC)
        if first == second:
            heapq.heappush(pending, first)
            return first
        earlier, later = min(first, second), max(first, second)
        if earlier.astimezone(zone).replace(tzinfo=None) == wall:
            # The clock shows ``wall`` twice.
            heapq.heappush(pending, earlier)
            if every_hour:
                heapq.heappush(pending, later)
            return earlier
        # The clock jumps over ``wall``.
        jump = _transition(earlier, later, zone)
        if not every_hour:
            heapq.heappush(pending, jump)
        return jump


@attrs.frozen(kw_only=True)
class IntervalExpression(ScheduleExpression):
    """A fixed period: fires at ``start + k * interval`` for ``k = 1, 2, ...``.

    ``start`` is when the schedule was created; the creation instant itself is
    not a fire. Without a ``start`` the count begins at ``after`` ("every
    ``interval`` from now on"). Fire times are computed arithmetically.
    """

    interval: dt.timedelta = attrs.field(validator=_check_interval)

    @property
    def text(self) -> str:
        """``interval@days hours minutes seconds`` with hours < 24, minutes and seconds < 60."""
        hours, rest = divmod(self.interval.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{_INTERVAL_PREFIX}{self.interval.days} {hours} {minutes} {seconds}"

    def next_fire(self, after: dt.datetime, *, start: dt.datetime | None = None) -> dt.datetime:
        """Return ``start + k * interval`` for the smallest ``k >= 1`` that lies after ``after``."""
        lower = _utc(after, "after")
        anchor = lower if start is None else _utc(start, "start")
        if lower < anchor:
            return anchor + self.interval
        return anchor + ((lower - anchor) // self.interval + 1) * self.interval

    def _iter_fires(self, after: dt.datetime, start: dt.datetime | None) -> Iterator[dt.datetime]:
        fire = self.next_fire(after, start=start)
        while True:
            yield fire
            fire += self.interval


def _parse_interval(body: str, text: str) -> IntervalExpression:
    """Parse the ``days hours minutes seconds`` part of an interval expression."""
    fields = body.split()
    if len(fields) != 4:
        raise InvalidExpressionError(
            f"interval expression {text!r} has {len(fields)} field{'s' * (len(fields) != 1)}; "
            f"expected 4: {_INTERVAL_FORM}"
        )
    amounts: dict[str, int] = {}
    for name, field in zip(_INTERVAL_FIELDS, fields, strict=True):
        if field.startswith("-"):
            problem = "is negative"
        elif field.isascii() and field.isdigit():
            amounts[name] = int(field)
            continue
        else:
            problem = "is not a whole number"
        raise InvalidExpressionError(
            f"the {name} field {field!r} of {text!r} {problem}; "
            f"the fields must be non-negative whole numbers: {_INTERVAL_FORM}"
        )
    if not any(amounts.values()):
        raise InvalidExpressionError(
            f"interval expression {text!r} is zero; it must be longer than zero: {_INTERVAL_FORM}"
        )
    try:
        interval = dt.timedelta(**amounts)
    except OverflowError as exc:
        raise InvalidExpressionError(
            f"interval expression {text!r} is too long; expected {_INTERVAL_FORM}"
        ) from exc
    return IntervalExpression(interval=interval)


def parse_expression(text: str, *, timezone: str = "UTC") -> ScheduleExpression:
    """Parse a ``cron@...`` or ``interval@...`` schedule expression.

    ``timezone`` (an IANA name) is the zone a cron expression is evaluated in;
    interval expressions do not depend on it. Raises
    :class:`~aiflow_core.errors.InvalidExpressionError` naming what is wrong
    and showing the expected form, or
    :class:`~aiflow_core.errors.InvalidArgumentError` when ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise InvalidArgumentError(
            f"a schedule expression must be a str, got {type(text).__name__} {text!r}; "
            f"expected {_CRON_FORM} or {_INTERVAL_FORM}"
        )
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered.startswith(_CRON_PREFIX):
        return CronExpression(cron=stripped[len(_CRON_PREFIX) :], timezone=timezone)
    if lowered.startswith(_INTERVAL_PREFIX):
        return _parse_interval(stripped[len(_INTERVAL_PREFIX) :], text)
    for prefix, form in ((_INTERVAL_PREFIX, _INTERVAL_FORM), (_CRON_PREFIX, _CRON_FORM)):
        word = prefix[:-1]
        if lowered.startswith(word):
            rest = stripped[len(word) :].strip()
            raise InvalidExpressionError(
                f"schedule expression {text!r} lacks the '@' after {word!r}; "
                f"write it as {prefix + rest!r} ({form})"
            )
    raise InvalidExpressionError(
        f"schedule expression {text!r} has an unknown prefix; expected {_CRON_FORM} "
        f"or {_INTERVAL_FORM}"
    )


class MisfirePolicy(str, enum.Enum):
    """What to do with fires that came due while no engine was running.

    ``COALESCE`` (the default) runs all the missed fires as one run, at the
    most recent missed fire time. ``CATCH_UP`` runs every missed fire, oldest
    first. ``SKIP`` runs none of the missed fires: only a fire that came due
    within the grace period runs, and otherwise the next future fire is the
    next run.
    """

    COALESCE = "coalesce"
    CATCH_UP = "catch_up"
    SKIP = "skip"


def _latest_fires(
    expr: ScheduleExpression,
    after: dt.datetime,
    until: dt.datetime,
    start: dt.datetime,
    count: int,
) -> tuple[list[dt.datetime], dt.datetime]:
    """Return the last ``count`` fires in ``(after, until]``, oldest first, and the first fire after ``until``.

    Looks back from ``until`` over windows that double in length, so the cost
    depends on ``count``, not on how long ago ``after`` was.
    """
    window = _FIRST_WINDOW
    while True:
        begin = max(after, until - window)
        fires, following = expr.fires_until(begin, until, start=start)
        if len(fires) >= count or begin == after:
            return fires[-count:], following
        window *= 2


def due_fires(
    expr: ScheduleExpression,
    last_fire: dt.datetime | None,
    created: dt.datetime,
    now: dt.datetime,
    policy: MisfirePolicy | str = MisfirePolicy.COALESCE,
    max_catch_up: int = 1000,
    *,
    grace: dt.timedelta = dt.timedelta(minutes=1),
) -> tuple[list[dt.datetime], dt.datetime]:
    """Decide which fires of a schedule run now.

    ``created`` is when the schedule was created (fires happen only after it),
    ``last_fire`` the fire time of the last run (``None`` before the first)
    and ``now`` the current time. The fires that came due are those in
    ``(last_fire or created, now]``. Returns ``(fires, next_fire)``: the fire
    times to run now, oldest first, and the first fire time after both
    ``now`` and ``last_fire``, when to look again.

    * ``COALESCE``: the most recent due fire, if any (one run for all).
    * ``CATCH_UP``: every due fire; if more than ``max_catch_up`` are due, only
      the ``max_catch_up`` most recent run and the older ones are dropped.
    * ``SKIP``: the most recent due fire if it came due at most ``grace``
      before ``now``; otherwise nothing.

    After running the returned fires, the caller records the last of them as
    ``last_fire``.
    """
    try:
        chosen = MisfirePolicy(policy)
    except ValueError:
        names = ", ".join(repr(member.value) for member in MisfirePolicy)
        raise InvalidArgumentError(
            f"unknown misfire policy {policy!r}; expected one of {names}"
        ) from None
    if isinstance(max_catch_up, bool) or not isinstance(max_catch_up, int) or max_catch_up < 1:
        raise InvalidArgumentError(f"max_catch_up must be an int >= 1, got {max_catch_up!r}")
    if not isinstance(grace, dt.timedelta) or grace < dt.timedelta(0):
        raise InvalidArgumentError(f"grace must be a non-negative timedelta, got {grace!r}")
    begin = _utc(created, "created")
    current = _utc(now, "now")
    reference = begin if last_fire is None else max(_utc(last_fire, "last_fire"), begin)
    if current <= reference:
        return [], expr.next_fire(reference, start=begin)
    count = max_catch_up if chosen is MisfirePolicy.CATCH_UP else 1
    fires, upcoming = _latest_fires(expr, reference, current, begin, count)
    if chosen is MisfirePolicy.SKIP:
        fires = [fire for fire in fires if current - fire <= grace]
    return fires, upcoming
