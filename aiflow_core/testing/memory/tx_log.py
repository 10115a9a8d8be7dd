"""Memory store operations of the scheduler's spine: event log, state, checkpoints, leases, timers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from aiflow_core.leases import Lease, lease_lost
from aiflow_core.model.clock import ensure_utc
from aiflow_core.model.event import Event, EventKind
from aiflow_core.ports import EventFilter, LogHead, Timer
from aiflow_core.storable import check_storable
from aiflow_core.testing.memory.tx_base import (
    EVENT_COUNTER,
    EVENT_TIME_FLOOR,
    TRIGGER_COUNTER,
    TxBase,
    from_json,
    to_json,
)


def _matches(event: Event, flt: EventFilter) -> bool:
    return (
        (flt.keys is None or event.key in flt.keys)
        and (flt.namespace is None or event.namespace == flt.namespace)
        and (flt.begin_offset is None or (event.offset or 0) > flt.begin_offset)
        and (flt.begin_time is None or (event.create_time is not None and event.create_time >= flt.begin_time))
        and (flt.sender is None or event.sender == flt.sender)
        and (flt.workflow_execution_id is None or event.workflow_execution_id == flt.workflow_execution_id)
        and (flt.kinds is None or event.kind in flt.kinds)
        and (flt.end_offset is None or (event.offset or 0) < flt.end_offset)
        and (flt.end_time is None or (event.create_time is not None and event.create_time < flt.end_time))
    )


class LogOps(TxBase):
    """Event log, condition state, checkpoints, leases and timers."""

    # -- state --
    def load_state(self, scope: str) -> dict[str, bytes]:
        """Return a scope's state values by name."""
        return dict(self.t.states.get(scope, {}))

    def save_state(self, scope: str, values: dict[str, bytes | None]) -> None:
        """Write (or with ``None`` delete) state values of a scope."""
        for name, value in values.items():
            if value is None:
                self._pop_in(self.t.states, scope, name)
            else:
                self._put_in(self.t.states, scope, name, bytes(value))

    def _event(self, offset: int) -> Event:
        new = self._new_events.get(offset)
        if new is not None:
            return new  # appended by this transaction: its context is the appender's, as on the SQL stores
        event, context = self.t.events[offset]
        return event if context is None else attrs.evolve(event, context=from_json(context))

    def _offsets(self) -> list[int]:
        return sorted(self.t.events)

    def append_events(self, events: Sequence[Event], now: dt.datetime) -> list[Event]:
        """Append events with consecutive offsets; idempotency keys dedupe."""
        contexts = [check_storable(event) for event in events]
        now = ensure_utc(now)
        offset = self._counter(EVENT_COUNTER)
        stored: list[Event] = []
        for event, context in zip(events, contexts, strict=True):
            key = event.idempotency_key
            if key and key in self.t.event_keys:
                stored.append(self._event(self.t.event_keys[key]))
                continue
            offset += 1
            row = attrs.evolve(event, offset=offset, create_time=now)
            # Kept with the appender's context object, which readers of the log never see: they decode the JSON.
            self._put(self.t.events, offset, (row, context))
            if key:
                self._put(self.t.event_keys, key, offset)
            stored.append(row)
            self._new_events[offset] = row
        if offset != self._counter(EVENT_COUNTER):
            self._lower_floor(EVENT_TIME_FLOOR, now)
            self._set_counter(EVENT_COUNTER, offset)
            self.appended = True
        return stored

    def read_events(self, after_offset: int, limit: int) -> list[Event]:
        """Return events after ``after_offset`` in order."""
        found: list[Event] = []
        offset, end = after_offset + 1, self._counter(EVENT_COUNTER)
        while offset <= end and len(found) < limit:
            if offset in self.t.events:
                found.append(self._event(offset))
            offset += 1
        return found

    def _matching(self, flt: EventFilter) -> Iterator[Event]:
        offsets = self._offsets()
        for offset in reversed(offsets) if flt.newest_first else offsets:
            if _matches(self.t.events[offset][0], flt):
                yield self._event(offset)

    def list_events(self, flt: EventFilter, limit: int | None = None) -> list[Event]:
        """Return events matching ``flt``."""
        found: list[Event] = []
        for event in self._matching(flt):
            if limit is not None and len(found) >= limit:
                break
            found.append(event)
        return found

    def count_events(self, flt: EventFilter) -> int:
        """Count events matching ``flt``."""
        return sum(1 for _ in self._matching(flt))

    def max_offset(self) -> int:
        """The highest offset in the log."""
        return self._counter(EVENT_COUNTER)

    def delete_events_before(self, offset: int, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` old events at or below ``offset``."""
        before = ensure_utc(before)
        if self._nothing_before(EVENT_TIME_FLOOR, before):
            return 0
        doomed = [
            o for o in self._offsets()
            if o <= offset and (self.t.events[o][0].create_time or before) < before
        ][:limit]
        for o in doomed:
            self._drop_event(o)
        times = [event.create_time for event, _ in self.t.events.values() if event.create_time is not None]
        self._reset_floor(EVENT_TIME_FLOOR, times, before)
        return len(doomed)

    # -- checkpoints and leases --
    def get_checkpoint(self, name: str) -> int:
        """The last processed offset of scheduler ``name``."""
        return self._counter(f"checkpoint:{name}")

    def triggers_version(self) -> int:
        """A number that changes whenever a trigger is added, paused, resumed or deleted."""
        return self._counter(TRIGGER_COUNTER)

    def set_checkpoint(self, name: str, offset: int) -> None:
        """Advance scheduler ``name``'s checkpoint."""
        self._set_counter(f"checkpoint:{name}", offset)

    def store_now(self) -> dt.datetime:
        """The store clock's time."""
        return ensure_utc(self.clock.now())

    def acquire_lease(self, name: str, owner: str, ttl: float) -> Lease | None:
        """Take or renew a lease on the store's clock; the epoch grows with every taking."""
        now = self.store_now()
        held = self.t.leases.get(name)
        if held is not None and held[1] > now and held[0] != owner:
            return None
        epoch = held[2] if held is not None and held[1] > now else (held[2] if held is not None else 0) + 1
        expires = now + dt.timedelta(seconds=ttl)
        self._put(self.t.leases, name, (owner, expires, epoch))
        return Lease(name=name, owner=owner, epoch=epoch, expires=expires, now=now)

    def check_lease(self, name: str, owner: str, epoch: int) -> None:
        """Raise LeaseLostError unless ``owner`` holds the lease at ``epoch``, unexpired."""
        lease_lost(self.get_lease(name), name, owner, epoch)

    def get_lease(self, name: str) -> Lease | None:
        """A lease as held, with the store's time."""
        held = self.t.leases.get(name)
        if held is None:
            return None
        return Lease(name=name, owner=held[0], epoch=held[2], expires=held[1], now=self.store_now())

    def release_lease(self, name: str, owner: str) -> None:
        """Expire a lease held by ``owner``, keeping its epoch."""
        held = self.t.leases.get(name)
        if held is not None and held[0] == owner:
            self._put(self.t.leases, name, (owner, min(held[1], self.store_now()), held[2]))

    def beat_task_executions(self, task_execution_ids: Sequence[int]) -> None:
        """Record heartbeats at the store's time."""
        now = self.store_now()
        for te_id in task_execution_ids:
            if te_id in self.t.task_executions:
                self._put(self.t.heartbeats, te_id, now)

    def task_execution_heartbeats(self, task_execution_ids: Sequence[int]) -> dict[int, dt.datetime]:
        """The recorded heartbeats of these task executions."""
        return {i: self.t.heartbeats[i] for i in task_execution_ids if i in self.t.heartbeats}

    # -- timers --
    def add_timer(self, fire_time: dt.datetime, kind: EventKind, dedup_key: str, payload: dict[str, Any]) -> bool:
        """Store a timer unless its dedup key exists."""
        if dedup_key in self.t.timer_keys:
            return False
        payload_text = to_json(payload, f"payload of timer {dedup_key!r}")
        timer = Timer(
            id=self._next_id("timer"), fire_time=ensure_utc(fire_time), kind=EventKind(kind), dedup_key=dedup_key
        )
        self._put(self.t.timers, timer.id, (timer, payload_text))
        self._put(self.t.timer_keys, dedup_key, timer.id)
        return True

    def due_timers(self, now: dt.datetime, limit: int) -> list[Timer]:
        """Timers due at ``now``, earliest first."""
        now = ensure_utc(now)
        due = sorted(
            ((timer, payload) for timer, payload in self.t.timers.values() if timer.fire_time <= now),
            key=lambda row: (row[0].fire_time, row[0].id),
        )
        return [attrs.evolve(timer, payload=from_json(payload) or {}) for timer, payload in due[:limit]]

    def log_head(self) -> LogHead:
        """The highest offset in the log, the earliest timer and the earliest unpaused schedule fire."""
        timers = [timer.fire_time for timer, _ in self.t.timers.values()]
        schedules = [
            s.next_fire_time for s in self.t.schedules.values() if not s.is_paused and s.next_fire_time is not None
        ]
        return LogHead(
            end=self._counter(EVENT_COUNTER),
            next_timer=min(timers, default=None),
            next_schedule=min(schedules, default=None),
        )

    def delete_timers(self, timer_ids: Sequence[int] = (), dedup_prefix: str | None = None) -> None:
        """Delete timers by id or dedup-key prefix."""
        doomed = set(timer_ids)
        if dedup_prefix is not None:
            doomed.update(i for i, (timer, _) in self.t.timers.items() if timer.dedup_key.startswith(dedup_prefix))
        for timer_id in doomed:
            row = self._pop(self.t.timers, timer_id)
            if row is not None:
                self._pop(self.t.timer_keys, row[0].dedup_key)
