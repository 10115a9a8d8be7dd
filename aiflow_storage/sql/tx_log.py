"""Store operations of the scheduler's spine: event log, state, checkpoints, leases, outbox, timers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from aiflow_core.model.event import Event, EventKind
from aiflow_core.ports import Command, EventFilter, Timer
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.notify import notify

_EVENT_COUNTER = "event_offset"


def _event(row: Any) -> Event:
    return Event(
        row.key,
        row.value,
        namespace=row.namespace,
        sender=row.sender,
        context=row.context,
        kind=EventKind(row.kind),
        workflow_execution_id=row.workflow_execution_id,
        offset=row.offset,
        create_time=row.create_time,
        idempotency_key=row.idempotency_key,
    )


def _filtered(query: sa.Select[Any], flt: EventFilter) -> sa.Select[Any]:
    c = t.events.c
    if flt.keys is not None:
        query = query.where(c.key.in_(list(flt.keys)))
    if flt.namespace is not None:
        query = query.where(c.namespace == flt.namespace)
    if flt.begin_offset is not None:
        query = query.where(c.offset > flt.begin_offset)
    if flt.begin_time is not None:
        query = query.where(c.create_time >= flt.begin_time)
    if flt.sender is not None:
        query = query.where(c.sender == flt.sender)
    if flt.workflow_execution_id is not None:
        query = query.where(c.workflow_execution_id == flt.workflow_execution_id)
    if flt.kinds is not None:
        query = query.where(c.kind.in_([k.value for k in flt.kinds]))
    return query


class LogOps:
    """Event log, condition state, checkpoints, leases, the executor outbox and timers."""

    conn: sa.Connection

    # -- state --
    def load_state(self, scope: str) -> dict[str, bytes]:
        """Return a scope's state values by name."""
        rows = self.conn.execute(sa.select(t.states.c.name, t.states.c.value).where(t.states.c.scope == scope))
        return {r.name: bytes(r.value) for r in rows}

    def save_state(self, scope: str, values: dict[str, bytes | None]) -> None:
        """Write (or with ``None`` delete) state values of a scope."""
        for name, value in values.items():
            self.conn.execute(sa.delete(t.states).where(t.states.c.scope == scope, t.states.c.name == name))
            if value is not None:
                self.conn.execute(sa.insert(t.states).values(scope=scope, name=name, value=value))

    def delete_state(self, scope_prefix: str) -> None:
        """Delete every state whose scope starts with ``scope_prefix``."""
        prefixed = t.states.c.scope.startswith(scope_prefix, autoescape=True)
        self.conn.execute(sa.delete(t.states).where(prefixed))

    # -- events --
    def _lock_counter(self, name: str) -> int:
        row = self.conn.execute(
            sa.select(t.counters.c.value).where(t.counters.c.name == name).with_for_update()
        ).first()
        if row is not None:
            return int(row.value)
        try:
            with self.conn.begin_nested():
                self.conn.execute(sa.insert(t.counters).values(name=name, value=0))
        except SqlIntegrityError:
            pass
        return self._lock_counter(name)

    def append_events(self, events: Sequence[Event], now: dt.datetime) -> list[Event]:
        """Append events with consecutive offsets; idempotency keys dedupe."""
        if not events:
            return []
        # Look keys up only once the counter is locked: a concurrent append of the same key
        # has committed by then, so it is found instead of violating the unique index.
        offset = self._lock_counter(_EVENT_COUNTER)
        keys = [e.idempotency_key for e in events if e.idempotency_key]
        existing: dict[str, Event] = {}
        if keys:
            rows = self.conn.execute(sa.select(t.events).where(t.events.c.idempotency_key.in_(keys)))
            existing = {r.idempotency_key: _event(r) for r in rows}
        stored: list[Event] = []
        rows_to_insert: list[dict[str, Any]] = []
        for event in events:
            if event.idempotency_key and event.idempotency_key in existing:
                stored.append(existing[event.idempotency_key])
                continue
            offset += 1
            row = {
                "offset": offset,
                "key": event.key,
                "value": event.value,
                "namespace": event.namespace,
                "sender": event.sender,
                "kind": EventKind(event.kind).value,
                "workflow_execution_id": event.workflow_execution_id,
                "context": event.context,
                "create_time": now,
                "idempotency_key": event.idempotency_key,
            }
            rows_to_insert.append(row)
            stored.append(_event(_RowView(row)))
            if event.idempotency_key:
                existing[event.idempotency_key] = stored[-1]
        if rows_to_insert:
            self.conn.execute(sa.insert(t.events), rows_to_insert)
            notify(self.conn)
            self.conn.execute(
                sa.update(t.counters).where(t.counters.c.name == _EVENT_COUNTER).values(value=offset)
            )
        return stored

    def read_events(self, after_offset: int, limit: int) -> list[Event]:
        """Return events after ``after_offset`` in order."""
        query = sa.select(t.events).where(t.events.c.offset > after_offset).order_by(t.events.c.offset).limit(limit)
        return [_event(r) for r in self.conn.execute(query)]

    def list_events(self, flt: EventFilter, limit: int | None = None) -> list[Event]:
        """Return events matching ``flt``."""
        query = _filtered(sa.select(t.events), flt).order_by(t.events.c.offset)
        if limit is not None:
            query = query.limit(limit)
        return [_event(r) for r in self.conn.execute(query)]

    def count_events(self, flt: EventFilter) -> int:
        """Count events matching ``flt``."""
        return int(self.conn.execute(_filtered(sa.select(sa.func.count()).select_from(t.events), flt)).scalar_one())

    def max_offset(self) -> int:
        """The highest offset in the log."""
        return int(self.conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.events.c.offset), 0))).scalar_one())

    def delete_events_before(self, offset: int, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` old events at or below ``offset``."""
        ids = [
            r.offset
            for r in self.conn.execute(
                sa.select(t.events.c.offset)
                .where(t.events.c.offset <= offset, t.events.c.create_time < before)
                .order_by(t.events.c.offset)
                .limit(limit)
            )
        ]
        if ids:
            self.conn.execute(sa.delete(t.events).where(t.events.c.offset.in_(ids)))
        return len(ids)

    # -- checkpoints and leases --
    def get_checkpoint(self, name: str) -> int:
        """The last processed offset of scheduler ``name``, locking its row."""
        return self._lock_counter(f"checkpoint:{name}")

    def set_checkpoint(self, name: str, offset: int) -> None:
        """Advance scheduler ``name``'s checkpoint."""
        row = t.counters.c.name == f"checkpoint:{name}"
        if self.conn.execute(sa.update(t.counters).where(row).values(value=offset)).rowcount == 0:
            self._lock_counter(f"checkpoint:{name}")
            self.conn.execute(sa.update(t.counters).where(row).values(value=offset))

    def acquire_lease(self, name: str, owner: str, now: dt.datetime, ttl: float) -> bool:
        """Take or renew a lease."""
        expires = now + dt.timedelta(seconds=ttl)
        row = self.conn.execute(sa.select(t.leases).where(t.leases.c.name == name).with_for_update()).first()
        if row is None:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(sa.insert(t.leases).values(name=name, owner=owner, expires=expires))
                return True
            except SqlIntegrityError:
                return self.acquire_lease(name, owner, now, ttl)
        if row.owner != owner and row.expires > now:
            return False
        self.conn.execute(sa.update(t.leases).where(t.leases.c.name == name).values(owner=owner, expires=expires))
        return True

    def get_lease_owner(self, name: str) -> str | None:
        """The owner of a lease, or None."""
        row = self.conn.execute(sa.select(t.leases.c.owner).where(t.leases.c.name == name)).first()
        return None if row is None else str(row.owner)

    def release_lease(self, name: str, owner: str) -> None:
        """Give up a lease held by ``owner``."""
        self.conn.execute(sa.delete(t.leases).where(t.leases.c.name == name, t.leases.c.owner == owner))

    # -- outbox --
    def add_command(self, task_execution_id: int, action: str, payload: dict[str, Any]) -> Command:
        """Queue an executor command and return it."""
        result = self.conn.execute(
            sa.insert(t.commands).values(task_execution_id=task_execution_id, action=action, payload=payload)
        )
        command_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return Command(id=command_id, task_execution_id=task_execution_id, action=action, payload=payload)

    def pending_commands(self, limit: int) -> list[Command]:
        """Return queued commands in order."""
        rows = self.conn.execute(sa.select(t.commands).order_by(t.commands.c.id).limit(limit))
        return [
            Command(id=r.id, task_execution_id=r.task_execution_id, action=r.action, payload=r.payload or {})
            for r in rows
        ]

    def complete_commands(self, command_ids: Sequence[int]) -> None:
        """Remove carried-out commands."""
        if command_ids:
            self.conn.execute(sa.delete(t.commands).where(t.commands.c.id.in_(list(command_ids))))

    # -- timers --
    def add_timer(self, fire_time: dt.datetime, kind: EventKind, dedup_key: str, payload: dict[str, Any]) -> bool:
        """Store a timer unless its dedup key exists."""
        exists = self.conn.execute(sa.select(t.timers.c.id).where(t.timers.c.dedup_key == dedup_key)).first()
        if exists is not None:
            return False
        self.conn.execute(
            sa.insert(t.timers).values(fire_time=fire_time, kind=kind.value, dedup_key=dedup_key, payload=payload)
        )
        return True

    def due_timers(self, now: dt.datetime, limit: int) -> list[Timer]:
        """Timers due at ``now``, earliest first."""
        rows = self.conn.execute(
            sa.select(t.timers)
            .where(t.timers.c.fire_time <= now)
            .order_by(t.timers.c.fire_time, t.timers.c.id)
            .limit(limit)
        )
        return [
            Timer(
                id=r.id, fire_time=r.fire_time, kind=EventKind(r.kind), dedup_key=r.dedup_key,
                payload=r.payload or {},
            )
            for r in rows
        ]

    def next_timer_time(self) -> dt.datetime | None:
        """The earliest timer's fire time."""
        value: dt.datetime | None = self.conn.execute(sa.select(sa.func.min(t.timers.c.fire_time))).scalar_one()
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)

    def delete_timers(self, timer_ids: Sequence[int] = (), dedup_prefix: str | None = None) -> None:
        """Delete timers by id or dedup-key prefix."""
        if timer_ids:
            self.conn.execute(sa.delete(t.timers).where(t.timers.c.id.in_(list(timer_ids))))
        if dedup_prefix is not None:
            prefixed = t.timers.c.dedup_key.startswith(dedup_prefix, autoescape=True)
            self.conn.execute(sa.delete(t.timers).where(prefixed))


class _RowView:
    """Attribute access over an inserted row dict, so inserted events convert like fetched ones."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.__dict__.update(row)
