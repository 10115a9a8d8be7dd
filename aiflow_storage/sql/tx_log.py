"""Store operations of the scheduler's spine: event log, state, checkpoints, leases, timers.

Statements on the scheduler's hot path are built once, at import, with bound
parameters: SQLAlchemy then reuses their compiled form instead of building
and compiling a new statement per call.

Once a transaction holds the event counter (see ``tx_base``) nobody else can
append, so the events it appended itself are read back from memory.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from aiflow_core.leases import Lease, lease_lost
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.internal.events import UnreadableEvent
from aiflow_core.ports import EventFilter, LogHead, Timer
from aiflow_core.storable import check_json, check_storable
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.prepared import Prepared
from aiflow_storage.sql.tx_base import EVENT_COUNTER, TRIGGER_COUNTER, TxBase, event_row, in_list, in_params

#: The columns of an event row; the context comes as text and is decoded row by row (see :func:`_event`).
_EVENT_COLUMNS = (
    *[c for c in t.events.c if c.name != "context"],
    sa.cast(t.events.c.context, sa.Text).label("context"),
)
_EVENTS_AFTER = Prepared(
    sa.select(*_EVENT_COLUMNS)
    .where(t.events.c.offset > sa.bindparam("after"))
    .order_by(t.events.c.offset)
    .limit(sa.bindparam("limit"))
)
_MAX_OFFSET = sa.select(sa.func.coalesce(sa.func.max(t.events.c.offset), 0))
_LOAD_STATE = sa.select(t.states.c.name, t.states.c.value).where(t.states.c.scope == sa.bindparam("scope"))
_DELETE_STATE = sa.delete(t.states).where(
    t.states.c.scope == sa.bindparam("scope"), t.states.c.name == sa.bindparam("state_name")
)
_INSERT_STATE = sa.insert(t.states)
_DUE_TIMERS = Prepared(
    sa.select(t.timers)
    .where(t.timers.c.fire_time <= sa.bindparam("now"))
    .order_by(t.timers.c.fire_time, t.timers.c.id)
    .limit(sa.bindparam("limit"))
)
_TIMER_BY_KEY = sa.select(t.timers.c.id).where(t.timers.c.dedup_key == sa.bindparam("dedup_key"))
_INSERT_TIMER = sa.insert(t.timers)
_DELETE_TIMERS_PREFIXED = sa.delete(t.timers).where(t.timers.c.dedup_key.like(sa.bindparam("pattern"), escape="/"))
_LOG_HEAD = Prepared(
    sa.select(
        sa.select(sa.func.coalesce(sa.func.max(t.events.c.offset), 0)).scalar_subquery().label("end"),
        sa.select(sa.func.min(t.timers.c.fire_time)).scalar_subquery().label("timer"),
        sa.select(sa.func.min(t.schedules.c.next_fire_time))
        .where(t.schedules.c.is_paused == sa.false())
        .scalar_subquery()
        .label("schedule"),
    )
)

#: Idempotency keys looked up per statement; one statement is kept per count up to this.
_KEYS_PER_LOOKUP = 50


@functools.cache
def _events_by_keys(count: int) -> Prepared:
    """The events whose idempotency key is one of ``count`` parameters ``key0``, ``key1``, ..."""
    return Prepared(sa.select(*_EVENT_COLUMNS).where(in_list(t.events.c.idempotency_key, count, "key")))


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape character ``/``) matching strings that start with ``prefix``."""
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _db_now(dialect: str) -> sa.ColumnElement[Any]:
    """The database server's current time, labelled ``now`` (read it with :func:`_db_time`).

    PostgreSQL: ``clock_timestamp()`` (``now()`` would be the start of the
    transaction, stale in a long one); MySQL/MariaDB: ``UTC_TIMESTAMP(6)``;
    SQLite: ``strftime`` with milliseconds, in UTC. Each is naive UTC in the
    form the dialect keeps times of ``UtcDateTime`` columns, so the database
    compares them itself.
    """
    if dialect == "postgresql":
        return sa.func.timezone("UTC", sa.func.clock_timestamp()).label("now")
    if dialect in ("mysql", "mariadb"):
        return sa.func.utc_timestamp(6).label("now")
    return sa.func.strftime("%Y-%m-%d %H:%M:%f", "now").label("now")


class _WithDbNow(Prepared):
    """A statement that reads the database's time (see :func:`_db_now`), built for each dialect."""

    def __init__(self, build: Callable[[sa.ColumnElement[Any]], sa.Select[Any]]) -> None:
        self._build = build
        super().__init__(build(_db_now("sqlite")))

    def _statement_for(self, dialect: sa.Dialect) -> sa.ClauseElement:
        return self._build(_db_now(dialect.name))


def _lease_select(now: sa.ColumnElement[Any]) -> sa.Select[Any]:
    c = t.leases.c
    return sa.select(c.owner, c.epoch, c.expires, now).where(c.name == sa.bindparam("name"))


def _lease_held(now: sa.ColumnElement[Any]) -> sa.Select[Any]:
    c = t.leases.c
    return (
        sa.select(c.epoch)
        .where(
            c.name == sa.bindparam("name"), c.owner == sa.bindparam("owner"), c.epoch == sa.bindparam("epoch"),
            c.expires > now,
        )
        .with_for_update()
    )


_DB_NOW = _WithDbNow(lambda now: sa.select(now))
#: The fencing check: one locking read that the database answers with its own clock.
_LEASE_HELD = _WithDbNow(_lease_held)
_LEASE = _WithDbNow(_lease_select)
_LEASE_LOCKED = _WithDbNow(lambda now: _lease_select(now).with_for_update())


def _db_time(value: Any) -> dt.datetime:
    """A time read with :func:`_db_now` as an aware UTC datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.timezone.utc)


def _event(row: Any) -> Event:
    """The event of a row read with :data:`_EVENT_COLUMNS`; an UnreadableEvent if it cannot be decoded.

    Decoding row by row keeps one bad row from hiding the good rows read with it.
    """
    fields: dict[str, Any] = {
        "namespace": row.namespace, "sender": row.sender, "workflow_execution_id": row.workflow_execution_id,
        "offset": row.offset, "create_time": row.create_time, "idempotency_key": row.idempotency_key,
    }
    problems = []
    kind = EventKind.NOTICE
    try:
        kind = EventKind(row.kind)
    except ValueError:
        problems.append(f"kind {row.kind!r} is not one of {[k.value for k in EventKind]}")
    context = None
    try:
        context = None if row.context is None else json.loads(row.context)
    except (ValueError, RecursionError) as exc:
        problems.append(f"context {row.context!r:.200} is not JSON ({exc})")
    if context is not None and not isinstance(context, dict):
        problems.append(f"context {row.context!r:.200} is not a JSON object")
        context = None
    if problems:
        error = f"row @ offset {row.offset} of table {t.events.name} cannot be read: {'; '.join(problems)}"
        return UnreadableEvent(row.key, row.value, kind=kind, error=error, **fields)
    return Event(row.key, row.value, kind=kind, context=context, **fields)


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
    if flt.end_offset is not None:
        query = query.where(c.offset < flt.end_offset)
    if flt.end_time is not None:
        query = query.where(c.create_time < flt.end_time)
    return query


class LogOps(TxBase):
    """Event log, condition state, checkpoints, leases and timers."""

    # -- state --
    def load_state(self, scope: str) -> dict[str, bytes]:
        """Return a scope's state values by name."""
        return {r.name: bytes(r.value) for r in self.conn.execute(_LOAD_STATE, {"scope": scope})}

    def save_state(self, scope: str, values: dict[str, bytes | None]) -> None:
        """Write (or with ``None`` delete) state values of a scope."""
        self.conn.execute(_DELETE_STATE, [{"scope": scope, "state_name": name} for name in values])
        rows = [{"scope": scope, "name": name, "value": value} for name, value in values.items() if value is not None]
        if rows:
            self.conn.execute(_INSERT_STATE, rows)

    # -- events --
    def append_events(self, events: Sequence[Event], now: dt.datetime) -> list[Event]:
        """Append events with consecutive offsets; idempotency keys dedupe."""
        contexts = [check_storable(event) for event in events]
        if not events:
            return []
        # Look keys up only once the counter is locked: a concurrent append of the same key
        # has committed by then, so it is found instead of violating the unique index.
        offset = self._counter(EVENT_COUNTER)
        keys = {e.idempotency_key for e in events if e.idempotency_key}
        existing = {e.idempotency_key: e for e in self._tail if e.idempotency_key in keys}
        stored_keys = [k for k in keys if k not in existing]
        for start in range(0, len(stored_keys), _KEYS_PER_LOOKUP):
            chunk = stored_keys[start : start + _KEYS_PER_LOOKUP]
            for found in _events_by_keys(len(chunk)).execute(self.conn, in_params(chunk, "key")):
                existing[found.idempotency_key] = _event(found)
        stored: list[Event] = []
        appended = 0
        for event, context in zip(events, contexts, strict=True):
            if event.idempotency_key and event.idempotency_key in existing:
                stored.append(existing[event.idempotency_key])
                continue
            offset += 1
            appended += 1
            stored.append(attrs.evolve(event, offset=offset, create_time=now))
            self._tail.append(stored[-1])
            self._unwritten_events.append(event_row(stored[-1], context))
            if event.idempotency_key:
                existing[event.idempotency_key] = stored[-1]
        if appended:
            self._set_counter(EVENT_COUNTER, offset)
        return stored

    def read_events(self, after_offset: int, limit: int) -> list[Event]:
        """Return events after ``after_offset`` in order."""
        end = self._counters.get(EVENT_COUNTER)
        if end is not None:  # the counter is locked: the log cannot grow under this transaction
            if after_offset >= end:
                return []
            tail = self._tail
            if tail and tail[0].offset is not None and tail[0].offset <= after_offset + 1:
                start = after_offset + 1 - tail[0].offset
                return tail[start : start + limit]
        self._write_events()
        return [_event(r) for r in _EVENTS_AFTER.execute(self.conn, {"after": after_offset, "limit": limit})]

    def list_events(self, flt: EventFilter, limit: int | None = None) -> list[Event]:
        """Return events matching ``flt``."""
        order = t.events.c.offset.desc() if flt.newest_first else t.events.c.offset
        query = _filtered(sa.select(*_EVENT_COLUMNS), flt).order_by(order)
        if limit is not None:
            query = query.limit(limit)
        self._write_events()
        return [_event(r) for r in self.conn.execute(query)]

    def count_events(self, flt: EventFilter) -> int:
        """Count events matching ``flt``."""
        self._write_events()
        return int(self.conn.execute(_filtered(sa.select(sa.func.count()).select_from(t.events), flt)).scalar_one())

    def max_offset(self) -> int:
        """The highest offset in the log."""
        if EVENT_COUNTER in self._counters:
            return self._counters[EVENT_COUNTER]
        return int(self.conn.execute(_MAX_OFFSET).scalar_one())

    def delete_events_before(self, offset: int, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` old events at or below ``offset``."""
        self._write_events()
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
            self._tail.clear()
        return len(ids)

    # -- checkpoints and leases --
    def get_checkpoint(self, name: str) -> int:
        """The last processed offset of scheduler ``name``.

        Locks, in one statement, its row and the other counters a scheduler
        step reads: the event counter and the trigger version.
        """
        checkpoint = f"checkpoint:{name}"
        self._lock_counters(checkpoint, EVENT_COUNTER, TRIGGER_COUNTER)
        return self._counters[checkpoint]

    def triggers_version(self) -> int:
        """A number that changes whenever a trigger is added, paused, resumed or deleted."""
        return self._counter(TRIGGER_COUNTER)

    def set_checkpoint(self, name: str, offset: int) -> None:
        """Advance scheduler ``name``'s checkpoint (written when the transaction finishes)."""
        self._set_counter(f"checkpoint:{name}", offset)

    def store_now(self) -> dt.datetime:
        """The database server's current time."""
        return _db_time(_DB_NOW.execute(self.conn)[0].now)

    def _lease_row(self, name: str) -> Any:
        """The lease row with the database's time, locked until the transaction ends."""
        rows = _LEASE_LOCKED.execute(self.conn, {"name": name})
        return rows[0] if rows else None

    def acquire_lease(self, name: str, owner: str, ttl: float) -> Lease | None:
        """Take or renew a lease on the database's clock; the epoch grows with every taking."""
        row = self._lease_row(name)
        if row is None:
            now = self.store_now()
            expires = now + dt.timedelta(seconds=ttl)
            try:
                with self.conn.begin_nested():
                    self.conn.execute(sa.insert(t.leases).values(name=name, owner=owner, expires=expires, epoch=1))
            except SqlIntegrityError:
                return self.acquire_lease(name, owner, ttl)
            return Lease(name=name, owner=owner, epoch=1, expires=expires, now=now)
        now = _db_time(row.now)
        live = row.expires > now
        if live and row.owner != owner:
            return None
        epoch = int(row.epoch) if live else int(row.epoch) + 1
        expires = now + dt.timedelta(seconds=ttl)
        self.conn.execute(
            sa.update(t.leases).where(t.leases.c.name == name).values(owner=owner, expires=expires, epoch=epoch)
        )
        return Lease(name=name, owner=owner, epoch=epoch, expires=expires, now=now)

    def check_lease(self, name: str, owner: str, epoch: int) -> None:
        """Raise LeaseLostError unless ``owner`` holds the lease at ``epoch``, unexpired; locks it."""
        if _LEASE_HELD.execute(self.conn, {"name": name, "owner": owner, "epoch": epoch}):
            return
        row = self._lease_row(name)
        lease = None if row is None else Lease(
            name=name, owner=row.owner, epoch=int(row.epoch), expires=row.expires, now=_db_time(row.now)
        )
        lease_lost(lease, name, owner, epoch)

    def get_lease(self, name: str) -> Lease | None:
        """A lease as held, with the database's time."""
        rows = _LEASE.execute(self.conn, {"name": name})
        if not rows:
            return None
        row = rows[0]
        return Lease(name=name, owner=row.owner, epoch=int(row.epoch), expires=row.expires, now=_db_time(row.now))

    def release_lease(self, name: str, owner: str) -> None:
        """Expire a lease held by ``owner`` now, keeping its epoch."""
        row = self._lease_row(name)
        if row is not None and row.owner == owner:
            now = _db_time(row.now)
            self.conn.execute(
                sa.update(t.leases).where(t.leases.c.name == name).values(expires=min(now, row.expires))
            )

    def beat_task_executions(self, task_execution_ids: Sequence[int]) -> None:
        """Record heartbeats at the database's time."""
        if task_execution_ids:
            now = self.store_now()
            self.conn.execute(
                sa.update(t.task_executions)
                .where(t.task_executions.c.id.in_(list(task_execution_ids)))
                .values(heartbeat=now)
            )

    def task_execution_heartbeats(self, task_execution_ids: Sequence[int]) -> dict[int, dt.datetime]:
        """The recorded heartbeats of these task executions."""
        if not task_execution_ids:
            return {}
        c = t.task_executions.c
        rows = self.conn.execute(
            sa.select(c.id, c.heartbeat).where(c.id.in_(list(task_execution_ids)), c.heartbeat.is_not(None))
        )
        return {int(r.id): r.heartbeat for r in rows}

    # -- timers --
    def add_timer(self, fire_time: dt.datetime, kind: EventKind, dedup_key: str, payload: dict[str, Any]) -> bool:
        """Store a timer unless its dedup key exists."""
        check_json(payload, f"payload of timer {dedup_key!r}")
        if self.conn.execute(_TIMER_BY_KEY, {"dedup_key": dedup_key}).first() is not None:
            return False
        self.conn.execute(
            _INSERT_TIMER, {"fire_time": fire_time, "kind": kind.value, "dedup_key": dedup_key, "payload": payload}
        )
        return True

    def due_timers(self, now: dt.datetime, limit: int) -> list[Timer]:
        """Timers due at ``now``, earliest first."""
        return [
            Timer(
                id=r.id, fire_time=r.fire_time, kind=EventKind(r.kind), dedup_key=r.dedup_key,
                payload=r.payload or {},
            )
            for r in _DUE_TIMERS.execute(self.conn, {"now": now, "limit": limit})
        ]

    def log_head(self) -> LogHead:
        """The highest offset in the log, the earliest timer and the earliest unpaused schedule fire (one query)."""
        self._write_events()
        (row,) = _LOG_HEAD.execute(self.conn)
        return LogHead(end=int(row.end), next_timer=_utc(row.timer), next_schedule=_utc(row.schedule))

    def delete_timers(self, timer_ids: Sequence[int] = (), dedup_prefix: str | None = None) -> None:
        """Delete timers by id or dedup-key prefix."""
        if timer_ids:
            self.conn.execute(sa.delete(t.timers).where(t.timers.c.id.in_(list(timer_ids))))
        if dedup_prefix is not None:
            self.conn.execute(_DELETE_TIMERS_PREFIXED, {"pattern": like_prefix(dedup_prefix)})
