"""Client operations on the event log.

Times given here (``begin_time``, ``time_to_offset``) are taken as local time
when naive, as in the original AIFlow; aware times are taken as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from aiflow_core.api.base import ClientBase, check_limit_offset
from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.clock import local_to_utc
from aiflow_core.model.event import Event, EventKind, validate_event
from aiflow_core.ports import EventFilter, StoreTx


def _event_time(value: object, name: str) -> dt.datetime:
    """``value`` as aware UTC: a naive datetime is local time."""
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError(f"{name} must be a datetime, got {value!r}")
    return local_to_utc(value)


def _filter(
    key: str | Sequence[str] | None, namespace: str | None, begin_offset: int | None,
    begin_time: dt.datetime | None, sender: str | None, workflow_execution_id: int | None = None,
) -> EventFilter:
    keys = [key] if isinstance(key, str) else (list(key) if key is not None else None)
    if begin_offset is not None and (isinstance(begin_offset, bool) or not isinstance(begin_offset, int)):
        raise InvalidArgumentError(f"begin_offset must be an integer, got {begin_offset!r}")
    return EventFilter(
        keys=keys, namespace=namespace, begin_offset=begin_offset,
        begin_time=None if begin_time is None else _event_time(begin_time, "begin_time"), sender=sender,
        workflow_execution_id=workflow_execution_id,
    )


class EventOps(ClientBase):
    """Sending and reading events."""

    def send_event(
        self,
        key: str,
        value: str | None = None,
        namespace: str = "default",
        sender: str | None = None,
        context: dict[str, Any] | None = None,
        workflow_execution_id: int | None = None,
        idempotency_key: str | None = None,
    ) -> Event:
        """Append a user event; returns it with its offset.

        With ``workflow_execution_id`` only that execution's task rules see it
        (workflow triggers see every event of the namespace). With an
        ``idempotency_key``, sending again returns the stored event instead of
        appending a second one.
        """
        return self._append_event(self._user_event(
            key, value, namespace=namespace, sender=sender, context=context,
            workflow_execution_id=workflow_execution_id, idempotency_key=idempotency_key,
        ))

    @staticmethod
    def _user_event(key: str, value: str | None = None, namespace: str = "default", **fields: Any) -> Event:
        """The event :meth:`send_event` appends, checked (``fields``: its other keyword arguments)."""
        validate_event(key, value, namespace)
        context = fields.get("context")
        if context is not None and not isinstance(context, dict):
            raise InvalidArgumentError(f"event context must be a dict, got {context!r}")
        return Event(key, value, namespace=namespace, **fields)

    def _append_event(self, event: Event, check: Callable[[StoreTx], None] | None = None) -> Event:
        """Append a checked user event; ``check(tx)`` runs in the same transaction, after the append
        (an engine proves there that it still holds the scheduler lease), and rolls it back by raising."""
        with self._tx() as tx:
            self._namespace_exists(tx, event.namespace)
            stored = tx.append_events([event], self.now())[0]
            if check is not None:
                check(tx)
        self._written()
        return stored

    def list_events(
        self,
        key: str | Sequence[str] | None = None,
        namespace: str | None = None,
        begin_offset: int | None = None,
        begin_time: dt.datetime | None = None,
        sender: str | None = None,
        limit: int | None = None,
        workflow_execution_id: int | None = None,
        include_internal: bool = False,
        end_offset: int | None = None,
        end_time: dt.datetime | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        """Return user events matching the filters.

        With ``include_internal`` status changes and notices (such as skipped
        starts) are included too.

        ``begin_offset`` is exclusive (events after it); ``begin_time``
        inclusive, local time when naive (``datetime.now()`` is now).
        ``end_offset`` and ``end_time`` bound them from above (exclusive).
        ``newest_first`` lists the latest events first: passing the last
        offset of a page as ``end_offset`` gives the page before it.
        """
        check_limit_offset(limit, None)
        if end_offset is not None and (isinstance(end_offset, bool) or not isinstance(end_offset, int)):
            raise InvalidArgumentError(f"end_offset must be an integer, got {end_offset!r}")
        flt = attrs.evolve(
            _filter(key, namespace, begin_offset, begin_time, sender, workflow_execution_id),
            end_offset=end_offset, end_time=None if end_time is None else _event_time(end_time, "end_time"),
            newest_first=bool(newest_first),
        )
        if include_internal:
            flt = attrs.evolve(flt, kinds=(EventKind.USER, EventKind.TASK_STATUS, EventKind.NOTICE))
        with self._tx(readonly=True) as tx:
            return tx.list_events(flt, limit)

    def count_events(
        self,
        key: str | Sequence[str] | None = None,
        namespace: str | None = None,
        begin_offset: int | None = None,
        begin_time: dt.datetime | None = None,
        sender: str | None = None,
    ) -> int:
        """Count user events matching the filters (``begin_time`` as in :meth:`list_events`)."""
        with self._tx(readonly=True) as tx:
            return tx.count_events(_filter(key, namespace, begin_offset, begin_time, sender))

    def time_to_offset(self, time: dt.datetime) -> int:
        """The offset of the last event created at or before ``time`` (0 if none).

        Listening or listing after this offset yields the events created after
        ``time``. A naive ``time`` is local time, as ``datetime.now()`` gives
        it; an aware one is taken as it is. Every kind of event counts, as
        offsets are shared by all of them.
        """
        after = _event_time(time, "time") + dt.timedelta(microseconds=1)
        with self._tx(readonly=True) as tx:
            first_later = tx.list_events(EventFilter(begin_time=after, kinds=None), 1)
            if first_later and first_later[0].offset is not None:
                return first_later[0].offset - 1
            return tx.max_offset()

    def latest_offset(self) -> int:
        """The offset of the newest event in the log."""
        with self._tx(readonly=True) as tx:
            return tx.max_offset()
