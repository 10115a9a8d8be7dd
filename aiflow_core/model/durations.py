"""Durations written by people: ``30d``, ``12h``, ``90m``, ``45s``, ``1d12h``, ``500ms``.

Used for settings such as history retention and timeouts.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from aiflow_core.errors import InvalidArgumentError

__all__ = ["parse_duration", "parse_horizon", "positive_seconds"]

# Largest unit first; a duration lists its units in this order, each at most once.
_UNITS = {
    "w": dt.timedelta(weeks=1),
    "d": dt.timedelta(days=1),
    "h": dt.timedelta(hours=1),
    "m": dt.timedelta(minutes=1),
    "s": dt.timedelta(seconds=1),
    "ms": dt.timedelta(milliseconds=1),
}
_RANK = {unit: rank for rank, unit in enumerate(_UNITS)}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|[wdhms])(?![a-z])", re.ASCII)
_PLAIN = re.compile(rf"\s*{_NUMBER}\s*", re.ASCII)
_EXPECTED = (
    "expected a number of seconds or amounts with the units w, d, h, m, s, ms "
    "from largest to smallest, e.g. '30d', '12h', '90m', '1d12h', '500ms'"
)


def _amount(number: str) -> int | float:
    """Return ``number`` as an int when it is whole, otherwise as a float."""
    return int(number) if number.isdigit() else float(number)


def _scaled(unit: dt.timedelta, amount: float, text: object) -> dt.timedelta:
    """Return ``unit * amount``, turning an overflow into a clear error."""
    try:
        return unit * amount
    except OverflowError as exc:
        raise InvalidArgumentError(f"duration {text!r} is too long; {_EXPECTED}") from exc


def _from_number(value: float) -> dt.timedelta:
    """Return ``value`` seconds as a timedelta."""
    if not math.isfinite(value) or value < 0:
        problem = "negative" if value < 0 else "not finite"
        raise InvalidArgumentError(f"duration {value!r} is {problem}; {_EXPECTED}")
    return _scaled(_UNITS["s"], value, value)


def _from_text(text: str) -> dt.timedelta:
    """Parse a duration string (see :func:`parse_duration`)."""
    if _PLAIN.fullmatch(text):
        return _from_number(_amount(text.strip()))
    if text.strip().startswith("-"):
        raise InvalidArgumentError(f"duration {text!r} is negative; {_EXPECTED}")
    total = dt.timedelta(0)
    position, previous = 0, ""
    stripped = text.rstrip()
    while position < len(stripped):
        match = _PART.match(stripped, position)
        if match is None:
            raise InvalidArgumentError(
                f"duration {text!r} cannot be read at {stripped[position:].strip()!r}; {_EXPECTED}"
            )
        number, unit = match.groups()
        if previous and _RANK[unit] <= _RANK[previous]:
            raise InvalidArgumentError(
                f"duration {text!r} has the unit {unit!r} after {previous!r}; "
                f"each unit may appear once, largest first; {_EXPECTED}"
            )
        total += _scaled(_UNITS[unit], _amount(number), text)
        position, previous = match.end(), unit
    if not previous:
        raise InvalidArgumentError(f"duration {text!r} is empty; {_EXPECTED}")
    return total


def parse_duration(text: str | int | float | dt.timedelta) -> dt.timedelta:
    """Return the non-negative duration that ``text`` describes.

    Accepts a :class:`datetime.timedelta`, a number of seconds (``int``,
    ``float`` or a numeric string such as ``"90"``), or amounts with units:
    ``w`` (weeks), ``d`` (days), ``h`` (hours), ``m`` (minutes), ``s``
    (seconds) and ``ms`` (milliseconds), largest first, each at most once,
    optionally separated by spaces (``"1d12h"``, ``"1d 12h"``, ``"1.5h"``).
    Results are rounded to microseconds. Raises
    :class:`~aiflow_core.errors.InvalidArgumentError` for anything else,
    including negative durations.
    """
    if isinstance(text, dt.timedelta):
        if text < dt.timedelta(0):
            raise InvalidArgumentError(f"duration {text!r} is negative; {_EXPECTED}")
        return text
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise InvalidArgumentError(
            f"a duration must be a str, number or timedelta, got {type(text).__name__} "
            f"{text!r}; {_EXPECTED}"
        )
    if isinstance(text, str):
        return _from_text(text)
    return _from_number(text)


def positive_seconds(name: str, value: object, error: type[Exception] = InvalidArgumentError) -> float:
    """Return the setting ``name`` as a number of seconds above zero, or raise ``error`` naming it.

    ``value`` is a number of seconds, a :class:`datetime.timedelta` or a
    duration string (``"10s"``, ``"1m"``). Zero and negative values are
    refused: a heartbeat or timeout of zero would spin or fail at once.
    """
    fix = "use a number of seconds above zero, e.g. 10, or a duration such as '1m'"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
        raise error(f"{name} {value!r} must be above zero; {fix}")
    try:
        seconds = parse_duration(value).total_seconds()  # type: ignore[arg-type]
    except InvalidArgumentError as exc:
        raise error(f"{name} {value!r} is not a duration: {exc}; {fix}") from None
    if seconds <= 0:
        raise error(f"{name} {value!r} must be above zero; {fix}")
    return seconds


def parse_horizon(value: object) -> dt.timedelta | None:
    """Return how long history is kept, or ``None`` to keep everything.

    ``None``, ``0``, ``""``, ``"0"``, ``"off"`` and ``"none"`` keep everything;
    anything else is read by :func:`parse_duration`.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "0", "none", "off")):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return None
    return parse_duration(value)  # type: ignore[arg-type]
