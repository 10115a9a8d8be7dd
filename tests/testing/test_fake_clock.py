"""The fake clock used by tests and by engines under test."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.clock import Clock
from aiflow_core.testing.clock import FakeClock

UTC = dt.timezone.utc


def test_defaults_and_protocol() -> None:
    clock = FakeClock()
    assert clock.is_fake is True
    assert isinstance(clock, Clock)
    assert clock.now() == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert clock.now() == clock.now()
    assert "2024-01-01T00:00:00+00:00" in repr(clock)


@pytest.mark.parametrize(
    "start",
    [
        dt.datetime(2030, 5, 6, 7, 8, 9),
        dt.datetime(2030, 5, 6, 9, 8, 9, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "2030-05-06T07:08:09Z",
        "2030-05-06T07:08:09",
        "2030-05-06T09:08:09+02:00",
    ],
)
def test_start_forms_are_utc(start: dt.datetime | str) -> None:
    now = FakeClock(start).now()
    assert now == dt.datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert now.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(("start", "fragment"), [("yesterday", "'yesterday'"), (42, "int")])
def test_bad_start_is_refused(start: object, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError, match=fragment):
        FakeClock(start)  # type: ignore[arg-type]


def test_advance_and_set_move_forward() -> None:
    clock = FakeClock("2024-01-01T00:00:00Z")
    assert clock.advance(dt.timedelta(hours=1)) == dt.datetime(2024, 1, 1, 1, tzinfo=UTC)
    assert clock.advance(30) == dt.datetime(2024, 1, 1, 1, 0, 30, tzinfo=UTC)
    assert clock.advance(0.25) == dt.datetime(2024, 1, 1, 1, 0, 30, 250000, tzinfo=UTC)
    assert clock.set("2024-02-01T00:00:00Z") == dt.datetime(2024, 2, 1, tzinfo=UTC)
    assert clock.now() == dt.datetime(2024, 2, 1, tzinfo=UTC)
    clock.set(dt.datetime(2024, 2, 1))  # same instant, naive = UTC
    assert clock.now() == dt.datetime(2024, 2, 1, tzinfo=UTC)


def test_moving_backwards_is_refused() -> None:
    clock = FakeClock("2024-06-01T12:00:00Z")
    with pytest.raises(InvalidArgumentError, match="negative"):
        clock.advance(-1)
    with pytest.raises(InvalidArgumentError, match="negative"):
        clock.advance(dt.timedelta(microseconds=-1))
    with pytest.raises(InvalidArgumentError, match=r"2024-06-01T12:00:00\+00:00.*2024-06-01T11"):
        clock.set("2024-06-01T11:59:59Z")
    with pytest.raises(InvalidArgumentError, match="finite"):
        clock.advance(float("nan"))
    with pytest.raises(InvalidArgumentError, match="bool"):
        clock.advance(True)
    assert clock.now() == dt.datetime(2024, 6, 1, 12, tzinfo=UTC)


def test_subscribers_are_told_after_the_move() -> None:
    clock = FakeClock()
    seen: list[dt.datetime] = []
    unsubscribe = clock.subscribe(lambda: seen.append(clock.now()))
    clock.advance(10)
    clock.advance(0)  # no move, no call
    clock.set(clock.now())
    clock.set("2024-01-02T00:00:00Z")
    assert seen == [
        dt.datetime(2024, 1, 1, 0, 0, 10, tzinfo=UTC),
        dt.datetime(2024, 1, 2, tzinfo=UTC),
    ]
    unsubscribe()
    unsubscribe()
    clock.advance(10)
    assert len(seen) == 2


def test_callback_may_move_the_clock_and_errors_surface_after_all_ran() -> None:
    clock = FakeClock()
    calls: list[str] = []

    def first() -> None:
        calls.append("first")
        if clock.now() < dt.datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC):
            clock.advance(1)  # must not deadlock: no lock is held here

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("listener failed")

    clock.subscribe(first)
    clock.subscribe(broken)
    with pytest.raises(RuntimeError, match="listener failed"):
        clock.advance(1)
    assert clock.now() == dt.datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC)
    assert calls.count("broken") == 2
    with pytest.raises(InvalidArgumentError, match="callable"):
        clock.subscribe("not a function")  # type: ignore[arg-type]


def test_concurrent_advances_lose_nothing() -> None:
    clock = FakeClock()
    moves: list[int] = []
    lock = threading.Lock()

    def count() -> None:
        with lock:
            moves.append(1)

    clock.subscribe(count)
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(500):
            clock.advance(dt.timedelta(milliseconds=1))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.now() == dt.datetime(2024, 1, 1, 0, 0, 4, tzinfo=UTC)
    assert len(moves) == 4000
