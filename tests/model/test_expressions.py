"""Schedule expressions: parsing, fire times (DST included) and misfire policies."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from aiflow_core.errors import InvalidArgumentError, InvalidExpressionError
from aiflow_core.model.expressions import (
    CronExpression,
    IntervalExpression,
    MisfirePolicy,
    due_fires,
    parse_expression,
)

UTC = dt.timezone.utc


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# --- parsing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cron@0 * * * *", "cron@0 * * * *"),
        ("  cron@*/5   1-3 * JAN MON  ", "cron@*/5 1-3 * JAN MON"),
        ("interval@0 1 0 0", "interval@0 1 0 0"),
        ("interval@0 0 10 0", "interval@0 0 10 0"),
        ("interval@0 0 90 0", "interval@0 1 30 0"),
        ("interval@2 25 0 61", "interval@3 1 1 1"),
    ],
)
def test_parse_gives_canonical_text(text: str, canonical: str) -> None:
    expr = parse_expression(text)
    assert expr.text == canonical
    assert str(expr) == canonical
    assert parse_expression(canonical) == expr


def test_parse_builds_the_right_classes() -> None:
    cron = parse_expression("cron@*/1 * * * *", timezone="Europe/Berlin")
    assert cron == CronExpression(cron="*/1 * * * *", timezone="Europe/Berlin")
    assert parse_expression("interval@0 1 0 0") == IntervalExpression(
        interval=dt.timedelta(hours=1)
    )
    assert parse_expression("interval@1 2 3 4").interval == dt.timedelta(  # type: ignore[attr-defined]
        days=1, hours=2, minutes=3, seconds=4
    )


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("interval0 0 10 0", ["'interval0 0 10 0'", "'interval@0 0 10 0'"]),
        ("cron0 * * * *", ["lacks the '@'", "'cron@0 * * * *'"]),
        ("every@5m", ["'every@5m'", "unknown prefix", "cron@0 * * * *", "interval@0 1 0 0"]),
        ("", ["unknown prefix", "interval@0 1 0 0"]),
        ("interval@0 1 0", ["3 fields", "expected 4", "interval@0 1 0 0"]),
        ("interval@0 1 0 0 0", ["5 fields", "interval@0 1 0 0"]),
        ("interval@0 -1 0 0", ["hours", "'-1'", "negative", "interval@0 1 0 0"]),
        ("interval@0 0 1.5 0", ["minutes", "'1.5'", "whole number", "interval@0 1 0 0"]),
        ("interval@0 0 ten 0", ["'ten'", "whole number"]),
        ("interval@0 0 0 0", ["'interval@0 0 0 0'", "zero", "interval@0 1 0 0"]),
        ("cron@61 * * * *", ["61", "cron@0 * * * *"]),
        ("cron@0 25 * * *", ["25", "cron@0 * * * *"]),
        ("cron@0 * * * * *", ["6 fields", "only the 5", "seconds", "cron@0 * * * *"]),
        ("cron@0 * * *", ["4 fields", "expected 5", "cron@0 * * * *"]),
        ("cron@0 0 31 2 *", ["'0 0 31 2 *'", "never matches"]),
        ("cron@H * * * *", ["'H * * * *'", "cron@0 * * * *"]),
        ("cron@@daily", ["'@daily'", "has 1 field;", "cron@0 * * * *"]),
    ],
)
def test_parse_errors_name_the_problem_and_show_the_form(text: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidExpressionError) as info:
        parse_expression(text)
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize("value", [None, 5, b"cron@0 * * * *", ["interval@0 1 0 0"]])
def test_parse_refuses_non_strings(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match=type(value).__name__):
        parse_expression(value)  # type: ignore[arg-type]


def test_unknown_time_zone_is_named() -> None:
    with pytest.raises(InvalidExpressionError, match="'Mars/Olympus'"):
        parse_expression("cron@0 * * * *", timezone="Mars/Olympus")
    expr = parse_expression("cron@0 * * * *")
    with pytest.raises(InvalidExpressionError, match="'Nowhere/City'"):
        expr.with_timezone("Nowhere/City")  # type: ignore[attr-defined]


def test_with_timezone_changes_only_the_zone() -> None:
    expr = CronExpression(cron="0 9 * * *")
    berlin = expr.with_timezone("Europe/Berlin")
    assert berlin.cron == expr.cron
    assert berlin.timezone == "Europe/Berlin"
    assert expr.next_fire(utc(2024, 1, 1)) == utc(2024, 1, 1, 9)
    assert berlin.next_fire(utc(2024, 1, 1)) == utc(2024, 1, 1, 8)
    assert berlin.next_fire(utc(2024, 7, 1)) == utc(2024, 7, 1, 7)


def test_interval_must_be_positive_whole_seconds() -> None:
    for bad in (dt.timedelta(0), dt.timedelta(seconds=-1), dt.timedelta(seconds=1.5)):
        with pytest.raises(InvalidExpressionError, match="interval@0 1 0 0"):
            IntervalExpression(interval=bad)


# --- cron fire times ---------------------------------------------------------


def test_hourly_cron_over_three_days_fires_72_times() -> None:
    expr = parse_expression("cron@0 * * * *")
    fires = expr.fires_between(utc(2024, 1, 1), utc(2024, 1, 4))
    assert len(fires) == 72
    assert fires[0] == utc(2024, 1, 1, 1)
    assert fires[-1] == utc(2024, 1, 4)
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(fires))


def test_next_fire_is_strictly_after() -> None:
    expr = parse_expression("cron@*/15 * * * *")
    assert expr.next_fire(utc(2024, 1, 1, 10, 15)) == utc(2024, 1, 1, 10, 30)
    assert expr.next_fire(utc(2024, 1, 1, 10, 14, 59, 999999)) == utc(2024, 1, 1, 10, 15)
    fire = expr.next_fire(dt.datetime(2024, 1, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert fire == utc(2024, 1, 1, 11, 15)
    assert fire.tzinfo is UTC
    # Naive input is taken as UTC.
    assert expr.next_fire(dt.datetime(2024, 1, 1, 10, 15)) == utc(2024, 1, 1, 10, 30)


def test_cron_start_bounds_fires_from_below() -> None:
    expr = parse_expression("cron@0 * * * *")
    start = utc(2024, 1, 1, 5, 30)
    assert expr.next_fire(utc(2024, 1, 1), start=start) == utc(2024, 1, 1, 6)
    assert expr.fires_between(utc(2024, 1, 1), utc(2024, 1, 1, 8), start=start) == [
        utc(2024, 1, 1, 6),
        utc(2024, 1, 1, 7),
        utc(2024, 1, 1, 8),
    ]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "Australia/Sydney"])
def test_daily_cron_in_the_skipped_hour_fires_once_per_local_day(zone: str) -> None:
    expr = parse_expression("cron@30 2 * * *", timezone=zone)
    tz = ZoneInfo(zone)
    begin = dt.datetime(2024, 1, 1, tzinfo=tz)
    end = dt.datetime(2024, 12, 31, 12, tzinfo=tz)
    fires = expr.fires_between(begin, end)
    local_days = [fire.astimezone(tz).date() for fire in fires]
    expected = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(366)]
    assert local_days == expected
    assert len(set(fires)) == len(fires) == 366
    assert fires == sorted(fires)
    walls = Counter(fire.astimezone(tz).strftime("%H:%M") for fire in fires)
    # Every day at 02:30, except the spring-forward day: the first instant after the gap.
    assert walls == {"02:30": 365, "03:00": 1}


def test_spring_forward_day_fires_at_the_end_of_the_gap() -> None:
    new_york = parse_expression("cron@30 2 * * *", timezone="America/New_York")
    # 2024-03-10: clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
    assert new_york.next_fire(utc(2024, 3, 10)) == utc(2024, 3, 10, 7)
    assert new_york.next_fire(utc(2024, 3, 10, 7)) == utc(2024, 3, 11, 6, 30)
    berlin = parse_expression("cron@30 2 * * *", timezone="Europe/Berlin")
    # 2024-03-31: 02:00 CET -> 03:00 CEST (01:00 UTC).
    assert berlin.next_fire(utc(2024, 3, 30, 12)) == utc(2024, 3, 31, 1)


def test_fall_back_day_fires_a_repeated_wall_time_once() -> None:
    berlin = parse_expression("cron@30 2 * * *", timezone="Europe/Berlin")
    # 2024-10-27: 02:00-03:00 happens twice (CEST, then CET); only the first fires.
    fires = berlin.fires_between(utc(2024, 10, 26, 12), utc(2024, 10, 28, 12))
    assert fires == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]
    # Asking from inside the repeated hour does not fire the second 02:30.
    assert berlin.next_fire(utc(2024, 10, 27, 1, 0)) == utc(2024, 10, 28, 1, 30)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
def test_hourly_cron_follows_real_time_across_dst(zone: str) -> None:
    expr = parse_expression("cron@0 * * * *", timezone=zone)
    tz = ZoneInfo(zone)
    fires = expr.fires_between(utc(2023, 12, 31, 23, 59), utc(2024, 12, 31, 23, 59))
    assert len(fires) == 366 * 24
    assert all(b - a == dt.timedelta(hours=1) for a, b in itertools.pairwise(fires))
    per_utc_day = Counter(fire.date() for fire in fires)
    assert set(per_utc_day.values()) == {24}
    per_local_day = Counter(fire.astimezone(tz).date() for fire in fires)
    # The first and last local days are cut by the UTC range; count only full ones.
    inner = Counter(
        count
        for day, count in per_local_day.items()
        if dt.date(2024, 1, 1) < day < dt.date(2024, 12, 31)
    )
    assert inner == {24: 362, 23: 1, 25: 1}


def test_half_past_every_hour_skips_only_the_missing_wall_time() -> None:
    expr = parse_expression("cron@30 * * * *", timezone="America/New_York")
    tz = ZoneInfo("America/New_York")
    spring = expr.fires_between(utc(2024, 3, 10, 5), utc(2024, 3, 10, 9))
    assert [fire.astimezone(tz).strftime("%H:%M") for fire in spring] == [
        "00:30",
        "01:30",
        "03:30",
        "04:30",
    ]
    fall = expr.fires_between(utc(2024, 11, 3, 4), utc(2024, 11, 3, 8))
    assert fall == [
        utc(2024, 11, 3, 4, 30),
        utc(2024, 11, 3, 5, 30),
        utc(2024, 11, 3, 6, 30),
        utc(2024, 11, 3, 7, 30),
    ]
    assert [fire.astimezone(tz).strftime("%H:%M") for fire in fall] == [
        "00:30",
        "01:30",
        "01:30",
        "02:30",
    ]


def test_next_fire_inside_the_repeated_hour() -> None:
    expr = parse_expression("cron@*/20 * * * *", timezone="America/New_York")
    # 05:30 UTC is 01:30 EDT (first pass); 06:30 UTC is 01:30 EST (second pass).
    assert expr.next_fire(utc(2024, 11, 3, 5, 30)) == utc(2024, 11, 3, 5, 40)
    assert expr.next_fire(utc(2024, 11, 3, 5, 50)) == utc(2024, 11, 3, 6, 0)
    assert expr.next_fire(utc(2024, 11, 3, 6, 30)) == utc(2024, 11, 3, 6, 40)


def test_fixed_hour_minutes_in_the_gap_fire_once() -> None:
    expr = parse_expression("cron@*/15 2 * * *", timezone="America/New_York")
    fires = expr.fires_between(utc(2024, 3, 10), utc(2024, 3, 11))
    assert fires == [utc(2024, 3, 10, 7)]
    fall = expr.fires_between(utc(2024, 11, 3), utc(2024, 11, 4))
    assert len(fall) == 4


def test_fires_between_respects_limit_and_empty_ranges() -> None:
    expr = parse_expression("cron@* * * * *")
    assert len(expr.fires_between(utc(2024, 1, 1), utc(2024, 1, 2), limit=10)) == 10
    assert expr.fires_between(utc(2024, 1, 1), utc(2024, 1, 2), limit=0) == []
    assert expr.fires_between(utc(2024, 1, 2), utc(2024, 1, 1)) == []
    with pytest.raises(InvalidArgumentError, match="-1"):
        expr.fires_between(utc(2024, 1, 1), utc(2024, 1, 2), limit=-1)
    with pytest.raises(InvalidArgumentError, match="after"):
        expr.next_fire("2024-01-01")  # type: ignore[arg-type]


def test_rare_cron_finds_leap_days() -> None:
    expr = parse_expression("cron@0 12 29 2 *")
    assert expr.next_fire(utc(2024, 3, 1)) == utc(2028, 2, 29, 12)


# --- interval fire times -----------------------------------------------------


def test_interval_fires_at_start_plus_multiples() -> None:
    expr = parse_expression("interval@0 0 10 0")
    start = utc(2024, 1, 1, 0, 3, 7)
    assert expr.next_fire(start, start=start) == utc(2024, 1, 1, 0, 13, 7)
    assert expr.next_fire(utc(2024, 1, 1, 0, 13, 7), start=start) == utc(2024, 1, 1, 0, 23, 7)
    assert expr.next_fire(utc(2024, 1, 1, 0, 13, 6), start=start) == utc(2024, 1, 1, 0, 13, 7)
    # Before the start, the first fire is one interval after it.
    assert expr.next_fire(utc(2023, 1, 1), start=start) == utc(2024, 1, 1, 0, 13, 7)
    assert expr.fires_between(start, utc(2024, 1, 1, 1), start=start) == [
        start + k * dt.timedelta(minutes=10) for k in range(1, 6)
    ]


def test_interval_without_start_counts_from_after() -> None:
    expr = parse_expression("interval@0 1 0 0")
    assert expr.next_fire(utc(2024, 5, 5, 5, 5)) == utc(2024, 5, 5, 6, 5)


def test_interval_with_huge_k_is_exact() -> None:
    expr = parse_expression("interval@0 0 0 7")
    start = utc(2000, 1, 1)
    after = utc(2999, 6, 1, 3, 4, 5)
    fire = expr.next_fire(after, start=start)
    k = (fire - start) // dt.timedelta(seconds=7)
    assert k > 4_000_000_000
    assert fire == start + k * dt.timedelta(seconds=7)
    assert after < fire <= after + dt.timedelta(seconds=7)
    assert expr.fires_between(after, after + dt.timedelta(seconds=21), start=start) == [
        fire,
        fire + dt.timedelta(seconds=7),
        fire + dt.timedelta(seconds=14),
    ]


# --- misfire policies --------------------------------------------------------

HOURLY = parse_expression("cron@0 * * * *")
CREATED = utc(2024, 1, 1, 0, 30)


def test_nothing_due_before_the_first_fire() -> None:
    for policy in MisfirePolicy:
        assert due_fires(HOURLY, None, CREATED, utc(2024, 1, 1, 0, 59), policy) == (
            [],
            utc(2024, 1, 1, 1),
        )


def test_on_time_fire_runs_under_every_policy() -> None:
    now = utc(2024, 1, 1, 1, 0, 0, 5000)
    for policy in MisfirePolicy:
        assert due_fires(HOURLY, None, CREATED, now, policy) == (
            [utc(2024, 1, 1, 1)],
            utc(2024, 1, 1, 2),
        )


def test_coalesce_runs_the_latest_missed_fire_once() -> None:
    now = utc(2024, 1, 3, 5, 10)
    fires, upcoming = due_fires(HOURLY, utc(2024, 1, 1, 3), CREATED, now, MisfirePolicy.COALESCE)
    assert fires == [utc(2024, 1, 3, 5)]
    assert upcoming == utc(2024, 1, 3, 6)
    # The default policy is COALESCE.
    assert due_fires(HOURLY, utc(2024, 1, 1, 3), CREATED, now) == (fires, upcoming)


def test_catch_up_runs_every_missed_fire() -> None:
    now = utc(2024, 1, 3, 5, 10)
    fires, upcoming = due_fires(HOURLY, utc(2024, 1, 1, 3), CREATED, now, "catch_up")
    assert fires == [utc(2024, 1, 1, 4) + dt.timedelta(hours=k) for k in range(50)]
    assert upcoming == utc(2024, 1, 3, 6)


def test_catch_up_keeps_the_most_recent_max_catch_up() -> None:
    now = utc(2024, 3, 1, 0, 10)
    fires, _ = due_fires(HOURLY, None, CREATED, now, MisfirePolicy.CATCH_UP, max_catch_up=3)
    assert fires == [utc(2024, 2, 29, 22), utc(2024, 2, 29, 23), utc(2024, 3, 1)]


def test_skip_drops_late_fires() -> None:
    now = utc(2024, 1, 3, 5, 10)
    assert due_fires(HOURLY, utc(2024, 1, 1, 3), CREATED, now, MisfirePolicy.SKIP) == (
        [],
        utc(2024, 1, 3, 6),
    )
    assert due_fires(
        HOURLY, utc(2024, 1, 1, 3), CREATED, now, "skip", grace=dt.timedelta(minutes=15)
    ) == ([utc(2024, 1, 3, 5)], utc(2024, 1, 3, 6))


def test_due_fires_for_intervals_counts_from_created() -> None:
    expr = parse_expression("interval@0 0 10 0")
    created = utc(2024, 1, 1, 0, 0, 30)
    fires, upcoming = due_fires(expr, None, created, utc(2024, 1, 1, 0, 35), "catch_up")
    assert fires == [
        utc(2024, 1, 1, 0, 10, 30),
        utc(2024, 1, 1, 0, 20, 30),
        utc(2024, 1, 1, 0, 30, 30),
    ]
    assert upcoming == utc(2024, 1, 1, 0, 40, 30)
    fires, upcoming = due_fires(expr, fires[-1], created, utc(2024, 1, 1, 0, 35), "catch_up")
    assert fires == []
    assert upcoming == utc(2024, 1, 1, 0, 40, 30)


def test_due_fires_after_years_offline_stays_bounded() -> None:
    minutely = parse_expression("cron@* * * * *")
    now = utc(2034, 1, 1, 0, 0, 30)
    fires, upcoming = due_fires(minutely, None, CREATED, now, "catch_up", max_catch_up=5)
    assert fires == [utc(2033, 12, 31, 23, 56) + dt.timedelta(minutes=k) for k in range(5)]
    assert upcoming == utc(2034, 1, 1, 0, 1)


def test_due_fires_validates_arguments() -> None:
    now = utc(2024, 1, 2)
    with pytest.raises(InvalidArgumentError, match=r"'sometimes'.*'coalesce'"):
        due_fires(HOURLY, None, CREATED, now, "sometimes")
    with pytest.raises(InvalidArgumentError, match=r"max_catch_up.*0"):
        due_fires(HOURLY, None, CREATED, now, MisfirePolicy.CATCH_UP, max_catch_up=0)
    with pytest.raises(InvalidArgumentError, match="grace"):
        due_fires(HOURLY, None, CREATED, now, grace=dt.timedelta(seconds=-1))


@pytest.mark.parametrize("text", ["cron@*/20 1-3 * * *", "cron@* * * * *", "cron@30 1 * * *", "cron@0 * * * *"])
@pytest.mark.parametrize("created", [utc(2026, 3, 7), utc(2026, 10, 31)])
def test_schedule_windows_one_after_another_give_the_fires_of_the_whole_span(text: str, created: dt.datetime) -> None:
    # Each window starts at the last fire of the one before (as a schedule's do), across a DST change.
    expr = parse_expression(text, timezone="America/New_York")
    seen: list[dt.datetime] = []
    last: dt.datetime | None = None
    for hours in range(1, 73, 1):
        now = created + dt.timedelta(hours=hours, minutes=hours % 7)
        fires, upcoming = due_fires(expr, last, created, now, MisfirePolicy.CATCH_UP, max_catch_up=10**6)
        assert upcoming == expr.next_fire(now, start=created)
        seen += fires
        last = fires[-1] if fires else last
    assert seen == expr.fires_between(created, now, start=created)
