"""AIFlowNotificationClient: events from inside a running task.

Events sent here carry the task's workflow execution id, so they drive only
that execution's task rules (workflow triggers of the namespace see them all).
Listeners receive events of the task's namespace with the given keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Sequence

from aiflow_core.model.event import Event
from aiflow_core.runtime.context import TaskRuntime, current_runtime
from aiflow_core.storable import storable_event

__all__ = ["AIFlowNotificationClient", "Event", "ListenerProcessor", "ListenerRegistrationId"]

log = logging.getLogger("aiflow.notification")

ListenerRegistrationId = str


class ListenerProcessor:
    """Receives events; subclass it and implement :meth:`process`."""

    def process(self, events: list[Event]) -> None:
        """Handle a batch of events (in offset order)."""
        raise NotImplementedError(f"{type(self).__name__} must implement process(events)")


class _Listener(threading.Thread):
    def __init__(
        self, runtime: TaskRuntime, processor: ListenerProcessor, keys: list[str] | None,
        begin_offset: int, begin_time: dt.datetime | None, interval: float,
    ) -> None:
        super().__init__(name="aiflow-listener", daemon=True)
        self.runtime = runtime
        self.processor = processor
        self.keys = keys
        self.offset = begin_offset
        self.begin_time = begin_time
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        delay = 0.01
        while not self.stopped.is_set():
            try:
                events = self.runtime.client.list_events(
                    key=self.keys, namespace=self.runtime.namespace, begin_offset=self.offset,
                    begin_time=self.begin_time, limit=500,
                )
            except Exception:
                log.exception("listener could not read events")
                events = []
            if events:
                self.offset = events[-1].offset or self.offset
                try:
                    self.processor.process(events)
                except Exception:
                    log.exception("listener processor %r raised", self.processor)
                delay = 0.01
                continue
            self.stopped.wait(delay)
            delay = min(delay * 2, self.interval)


class AIFlowNotificationClient:
    """Sends and listens to events from inside a task.

    ``server_uri`` is accepted for compatibility with the original API and
    ignored: events go through the engine's database. Creating the client
    outside a running task raises
    :class:`~aiflow_core.errors.NotInTaskRuntimeError`.
    """

    def __init__(self, server_uri: str | None = None, poll_interval: float = 0.2) -> None:
        self._runtime = current_runtime()
        self._listeners: dict[str, _Listener] = {}
        self._poll_interval = poll_interval

    @property
    def namespace(self) -> str:
        """The namespace of the task's workflow."""
        return self._runtime.namespace

    def send_event(self, key: str, value: str | None = None) -> Event:
        """Send an event scoped to the current workflow execution; returns it with its offset.

        NUL characters and over-long text in the key, the value and the sender
        (the task's ``workflow.task`` name) are made storable, as in
        :func:`~aiflow_core.storable.storable_text`; a key or value that is not a
        string is refused with InvalidArgumentError.
        """
        runtime = self._runtime
        sender = f"{runtime.workflow_name}.{runtime.task_name}"
        if isinstance(key, str) and (value is None or isinstance(value, str)):
            event = storable_event(Event(key, value, sender=sender))
            key, value, sender = event.key, event.value, event.sender or sender
        return runtime.client.send_event(
            key, value, namespace=runtime.namespace, sender=sender,
            workflow_execution_id=runtime.workflow_execution_id,
            context={"task_execution_id": runtime.task_execution_id},
        )

    def register_listener(
        self,
        listener_processor: ListenerProcessor,
        event_keys: Sequence[str] | None = None,
        begin_time: dt.datetime | None = None,
    ) -> ListenerRegistrationId:
        """Call ``listener_processor.process`` with new events of the namespace in a thread.

        Without ``begin_time`` only events sent after registration arrive;
        with it, events created from ``begin_time`` on (a naive ``begin_time``
        is local time, so ``datetime.now()`` means now; an aware one is taken
        as it is). Call :meth:`unregister_listener` (or :meth:`close`) to stop it.
        """
        keys = list(event_keys) if event_keys is not None else None
        begin_offset = 0 if begin_time is not None else self._runtime.client.latest_offset()
        listener = _Listener(self._runtime, listener_processor, keys, begin_offset, begin_time, self._poll_interval)
        registration = uuid.uuid4().hex
        self._listeners[registration] = listener
        listener.start()
        return registration

    def unregister_listener(self, registration_id: ListenerRegistrationId) -> None:
        """Stop a listener."""
        listener = self._listeners.pop(registration_id, None)
        if listener is not None:
            listener.stopped.set()
            listener.join(5)

    def list_events(
        self, key: str | Sequence[str] | None = None, begin_offset: int | None = None,
        begin_time: dt.datetime | None = None, sender: str | None = None, limit: int | None = None,
    ) -> list[Event]:
        """Events of the task's namespace matching the filters (a naive ``begin_time`` is local time)."""
        return self._runtime.client.list_events(
            key=key, namespace=self._runtime.namespace, begin_offset=begin_offset, begin_time=begin_time,
            sender=sender, limit=limit,
        )

    def count_events(
        self, key: str | Sequence[str] | None = None, begin_offset: int | None = None,
        begin_time: dt.datetime | None = None, sender: str | None = None,
    ) -> int:
        """Count events of the task's namespace matching the filters."""
        return self._runtime.client.count_events(
            key=key, namespace=self._runtime.namespace, begin_offset=begin_offset, begin_time=begin_time,
            sender=sender,
        )

    def time_to_offset(self, time: dt.datetime) -> int:
        """The offset of the last event created at or before ``time`` (a naive ``time`` is local time)."""
        return self._runtime.client.time_to_offset(time)

    def close(self) -> None:
        """Stop every listener of this client."""
        for registration in list(self._listeners):
            self.unregister_listener(registration)
