"""Client operations on the event log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from aiflow_core.api.base import ClientBase, check_limit_offset
from aiflow_core.errors import InvalidArgumentError
from aiflow_core.model.clock import ensure_utc
from aiflow_core.model.event import Event, EventKind, validate_event
from aiflow_core.ports import EventFilter


def _filter(
    key: str | Sequence[str] | None, namespace: str | None, begin_offset: int | None,
    begin_time: dt.datetime | None, sender: str | None, workflow_execution_id: int | None = None,
) -> EventFilter:
    keys = [key] if isinstance(key, str) else (list(key) if key is not None else None)
    if begin_offset is not None and (isinstance(begin_offset, bool) or not isinstance(begin_offset, int)):
        raise InvalidArgumentError(f"begin_offset must be an integer, got {begin_offset!r}")
    if begin_time is not None and not isinstance(begin_time, dt.datetime):
        raise InvalidArgumentError(f"begin_time must be a datetime, got {begin_time!r}")
    return EventFilter(
        keys=keys, namespace=namespace, begin_offset=begin_offset,
        begin_time=ensure_utc(begin_time) if begin_time else None, sender=sender,
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
        validate_event(key, value, namespace)
        if context is not None and not isinstance(context, dict):
            raise InvalidArgumentError(f"event context must be a dict, got {context!r}")
        event = Event(
            key, value, namespace=namespace, sender=sender, context=context,
            workflow_execution_id=workflow_execution_id, idempotency_key=idempotency_key,
        )
        with self._tx() as tx:
            self._namespace_exists(tx, namespace)
            stored = tx.append_events([event], self.now())[0]
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
    ) -> list[Event]:
        """Return user events matching the filters.

        With ``include_internal`` status changes and notices (such as skipped
        starts) are included too.

        ``begin_offset`` is exclusive (events after it); ``begin_time`` inclusive.
        """
        check_limit_offset(limit, None)
        flt = _filter(key, namespace, begin_offset, begin_time, sender, workflow_execution_id)
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
        """Count user events matching the filters."""
        with self._tx(readonly=True) as tx:
            return tx.count_events(_filter(key, namespace, begin_offset, begin_time, sender))

    def latest_offset(self) -> int:
        """The offset of the newest event in the log."""
        with self._tx(readonly=True) as tx:
            return tx.max_offset()
