"""What every part of a SQL transaction shares: the connection and the counter rows it locked.

Counters are single rows of ``aiflow_counter``: the event log's last offset,
each scheduler's checkpoint and the trigger version. A transaction locks the
rows it needs (all in one statement where it can) and remembers their
values; the ones it changed are written once, when it finishes. While a
transaction holds the event counter nobody else can append events, so it
knows where the log ends without asking, and the events it appends are
inserted together: before it next reads the event table, or when it finishes.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from aiflow_core.model.event import Event
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.notify import notify
from aiflow_storage.sql.prepared import JsonTextInsert, Prepared

#: The counter holding the last offset of the event log.
EVENT_COUNTER = "event_offset"
#: The counter that changes whenever a trigger is added, paused, resumed or deleted.
TRIGGER_COUNTER = "triggers"

_counter = t.counters.c
_INSERT_COUNTER = sa.insert(t.counters)
#: Binds the context as the JSON text check_storable made of it.
_INSERT_EVENTS = JsonTextInsert(t.events, "context")
_WRITE_COUNTER = Prepared(
    sa.update(t.counters).where(_counter.name == sa.bindparam("counter")).values(value=sa.bindparam("new_value"))
)


def in_list(column: sa.ColumnElement[Any], count: int, prefix: str) -> sa.ColumnElement[bool]:
    """``column IN (:prefix0, :prefix1, ...)`` with ``count`` bound parameters.

    Unlike an expanding parameter, this compiles once per count and is then
    taken from SQLAlchemy's statement cache as is.
    """
    return column.in_([sa.bindparam(f"{prefix}{i}") for i in range(count)])


def in_params(values: Any, prefix: str) -> dict[str, Any]:
    """The parameters of :func:`in_list` for ``values``."""
    return {f"{prefix}{i}": value for i, value in enumerate(values)}


@functools.cache
def _lock_statement(count: int) -> Prepared:
    rows: sa.Select[Any] = sa.select(_counter.name, _counter.value)
    return Prepared(rows.where(in_list(_counter.name, count, "name")).with_for_update())


@functools.cache
def _row_update(table: sa.Table, names: tuple[str, ...]) -> Prepared:
    return Prepared(
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in names})
    )


def event_row(event: Event, context: str | None) -> dict[str, Any]:
    """The row of an appended event whose context is the JSON text ``context`` (None: no context)."""
    return {
        "offset": event.offset, "key": event.key, "value": event.value, "namespace": event.namespace,
        "sender": event.sender, "kind": event.kind.value, "workflow_execution_id": event.workflow_execution_id,
        "context": "null" if context is None else context,  # as the JSON type stored a missing context
        "create_time": event.create_time, "idempotency_key": event.idempotency_key,
    }


class TxBase:
    """The connection of one transaction and the counters it locked."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._counters: dict[str, int] = {}
        self._changed_counters: set[str] = set()
        #: Events this transaction appended, in offset order (contiguous: it held the counter);
        #: emptied when it deletes events.
        self._tail: list[Event] = []
        #: The rows of the events at the end of ``_tail`` not inserted yet.
        self._unwritten_events: list[dict[str, Any]] = []

    def _lock_counters(self, *names: str) -> None:
        """Lock the counter rows ``names`` (creating missing ones at 0) and remember their values."""
        missing = [n for n in names if n not in self._counters]
        if not missing:
            return
        for name, value in _lock_statement(len(missing)).execute(self.conn, in_params(missing, "name")):
            self._counters[name] = int(value)
        for name in missing:
            if name not in self._counters:
                try:
                    with self.conn.begin_nested():
                        self.conn.execute(_INSERT_COUNTER, {"name": name, "value": 0})
                except SqlIntegrityError:
                    pass  # created concurrently: locked below all the same
                self._lock_counters(name)

    def _update_row(self, table: sa.Table, row_id: int, fields: dict[str, Any]) -> None:
        """Update ``fields`` of the row of ``table`` whose id is ``row_id`` (a statement kept per field set)."""
        names = tuple(sorted(fields))
        _row_update(table, names).execute(
            self.conn, {"row_id": row_id, **{f"new_{name}": fields[name] for name in names}}
        )

    def _counter(self, name: str) -> int:
        """The value of counter ``name``, locking its row."""
        self._lock_counters(name)
        return self._counters[name]

    def _set_counter(self, name: str, value: int) -> None:
        """Set counter ``name`` (written when the transaction finishes)."""
        self._lock_counters(name)
        self._counters[name] = value
        self._changed_counters.add(name)

    def _bump_counter(self, name: str) -> None:
        """Add one to counter ``name``."""
        self._set_counter(name, self._counter(name) + 1)

    def _write_events(self) -> None:
        """Insert the appended events not inserted yet; call before reading the event table."""
        if self._unwritten_events:
            _INSERT_EVENTS.executemany(self.conn, self._unwritten_events)
            self._unwritten_events = []

    def finish(self) -> None:
        """Write the events and counters this transaction changed; called once, just before commit."""
        self._write_events()
        if not self._changed_counters:
            return
        changed = sorted(self._changed_counters)
        _WRITE_COUNTER.executemany(self.conn, [{"counter": n, "new_value": self._counters[n]} for n in changed])
        if EVENT_COUNTER in self._changed_counters:
            notify(self.conn)
        self._changed_counters.clear()
