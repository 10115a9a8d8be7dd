"""Human-written durations."""

from __future__ import annotations

import datetime as dt

import pytest

from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.durations import parse_duration

td = dt.timedelta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", td(days=30)),
        ("12h", td(hours=12)),
        ("90m", td(minutes=90)),
        ("45s", td(seconds=45)),
        ("1d12h", td(days=1, hours=12)),
        ("1d 12h", td(days=1, hours=12)),
        ("2w3d", td(days=17)),
        ("500ms", td(milliseconds=500)),
        ("1m30s250ms", td(minutes=1, seconds=30, milliseconds=250)),
        ("1.5h", td(minutes=90)),
        (".5s", td(milliseconds=500)),
        ("0s", td(0)),
        ("30", td(seconds=30)),
        (" 2.25 ", td(seconds=2.25)),
        (30, td(seconds=30)),
        (0.5, td(milliseconds=500)),
        (td(hours=3), td(hours=3)),
    ],
)
def test_parse_duration(text: str | int | float | dt.timedelta, expected: dt.timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("-5m", "negative"),
        ("-5", "negative"),
        (-1, "negative"),
        (td(seconds=-1), "negative"),
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "'abc'"),
        ("5x", "'5x'"),
        ("5min", "'5min'"),
        ("12h30", "'30'"),
        ("1h1d", "'d' after 'h'"),
        ("1h2h", "'h' after 'h'"),
        ("h", "'h'"),
        (float("nan"), "not finite"),
        (float("inf"), "not finite"),
        ("1e9999", "1e9999"),
        ("9999999999d", "too long"),
        (True, "bool"),
        (None, "NoneType"),
        ([1], "list"),
    ],
)
def test_parse_duration_errors(value: object, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        parse_duration(value)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)
    assert "'1d12h'" in str(info.value)
