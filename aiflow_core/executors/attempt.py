"""The channel of one task attempt to its engine: what a task in a worker process can reach.

A task holds no keys: no database URL, no pickle secret, no blob credentials. A worker process
reaches its engine only through its pipe, and a task's calls carry the
per-attempt token the engine sent with the job (over the pipe, never in the
environment or argv). The engine answers a call only while that attempt
runs, and scopes it to the attempt: events are sent in the task's namespace,
for its workflow execution, by the task as sender; listing and counting see
the task's namespace; blobs are read and written by the engine, in the
namespace's files (:mod:`aiflow_core.runtime.attempt_blob`). Once the attempt
ends its token is refused.

Messages are plain values (names, numbers, strings, times and events), so
the same calls can later travel as JSON over an authenticated network
endpoint of the engine for workers on other machines:

========================  ====================================================
``call`` (worker→engine)  ``{type: "call", id, token, op, args}``
``reply`` (engine→worker)  ``{type: "reply", id, result}`` or ``{..., error}``
========================  ====================================================

``op`` is one of :data:`OPERATIONS`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from aiflow_core.errors import InvalidStateError
from aiflow_core.model.event import Event

#: The operations a task attempt may call, with the arguments each accepts.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "send_event": ("key", "value"),
    "list_events": ("key", "begin_offset", "begin_time", "sender", "limit"),
    "count_events": ("key", "begin_offset", "begin_time", "sender"),
    "time_to_offset": ("time",),
    "latest_offset": (),
    "blob_upload": ("name", "tree"),
    "blob_download": ("name",),
    "blob_list": ("prefix",),
}


class AttemptEndedError(InvalidStateError):
    """A call came with a token the engine does not accept: its attempt ended (or never was)."""


def attempt_context(job: Any) -> dict[str, Any]:
    """The context of an event a task attempt sends: its task execution and its epoch (which names the attempt)."""
    context: dict[str, Any] = {"task_execution_id": job.task_execution_id}
    if job.epoch is not None:
        context["epoch"] = job.epoch
    return context


def serve_call(client: Any, job: Any, op: str, args: dict[str, Any]) -> Any:
    """Carry out one call of the attempt ``job`` on the engine's ``client``, scoped to the attempt."""
    allowed = OPERATIONS.get(op)
    if allowed is None:
        raise InvalidStateError(f"task attempts may call {sorted(OPERATIONS)}, not {op!r}")
    unknown = set(args) - set(allowed)
    if unknown:
        raise InvalidStateError(f"{op} of a task attempt takes {list(allowed)}, not {sorted(unknown)}")
    if op == "send_event":
        return client.send_event(
            args["key"], args.get("value"), namespace=job.namespace,
            sender=f"{job.workflow_name}.{job.task_name}", workflow_execution_id=job.workflow_execution_id,
            context=attempt_context(job),
        )
    if op in ("list_events", "count_events"):
        return getattr(client, op)(namespace=job.namespace, **args)
    if op.startswith("blob_"):
        from aiflow_core.runtime.attempt_blob import serve_blob
        from aiflow_storage.blob import NamespacedBlob, create_blob_manager

        return serve_blob(NamespacedBlob(create_blob_manager(client.blob_spec), job.namespace), op, args)
    return getattr(client, op)(**args)


class AttemptGuard:
    """What a task in the engine's own process (thread, inline) gets as its client: the engine's client,
    whose sends carry the attempt's epoch and go through ``send(job, key, value, **scope)``, which refuses
    those of a stale attempt (the engine appends them fenced)."""

    def __init__(self, client: Any, job: Any, send: Callable[..., Event]) -> None:
        self._client = client
        self._job = job
        self._send = send

    def send_event(self, key: str, value: str | None = None, **scope: Any) -> Event:
        """Send an event of this attempt, unless the attempt is stale."""
        context = scope.pop("context", None)
        if context is not None and context.get("task_execution_id") == self._job.task_execution_id:
            context = {**context, **attempt_context(self._job)}
        return self._send(self._job, key, value, context=context, **scope)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class Replies:
    """Calls waiting for the engine's reply, matched by id; thread-safe."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._closed = False

    def open(self) -> tuple[int, Callable[[float | None], dict[str, Any]]]:
        """Register a call; returns its id and a function waiting for its reply."""
        call_id = next(self._ids)
        done = threading.Event()
        box: list[dict[str, Any]] = []
        with self._lock:
            if self._closed:
                raise AttemptEndedError("the channel to the engine is closed")
            self._waiting[call_id] = (done, box)

        def wait(timeout: float | None) -> dict[str, Any]:
            if not done.wait(timeout):
                with self._lock:
                    self._waiting.pop(call_id, None)
                raise TimeoutError(f"the engine did not answer call {call_id} within {timeout} s")
            return box[0]

        return call_id, wait

    def deliver(self, reply: dict[str, Any]) -> None:
        """Hand a reply to its caller (unknown ids are dropped)."""
        with self._lock:
            entry = self._waiting.pop(int(reply["id"]), None)
        if entry is not None:
            entry[1].append(reply)
            entry[0].set()

    def close(self) -> None:
        """Fail every waiting call: the channel ended."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, {}
        for done, box in waiting.values():
            box.append({"error": "the channel to the engine closed"})
            done.set()


class AttemptClient:
    """What a task in a worker process gets as its client: the calls of its attempt's channel.

    It offers the event calls of :class:`~aiflow_core.client.Client` a task
    uses (``send_event``, ``list_events``, ``count_events``,
    ``time_to_offset``, ``latest_offset``) and the blob calls behind
    :func:`~aiflow_core.runtime.blob.task_blob`; the engine scopes them to
    the attempt, whatever namespace, sender or execution the caller names.
    """

    def __init__(self, send: Callable[[dict[str, Any]], None], replies: Replies, token: str,
                 timeout: float = 60.0) -> None:
        self._send = send
        self._replies = replies
        self._token = token
        self._timeout = timeout

    def _call(self, op: str, **args: Any) -> Any:
        call_id, wait = self._replies.open()
        self._send({"type": "call", "id": call_id, "token": self._token, "op": op, "args": args})
        reply = wait(self._timeout)
        if "error" in reply:
            raise AttemptEndedError(str(reply["error"])) if reply.get("ended") else InvalidStateError(
                str(reply["error"])
            )
        return reply.get("result")

    def send_event(self, key: str, value: str | None = None, **_scope: Any) -> Event:
        """Send an event of this attempt (namespace, sender and execution are the attempt's)."""
        result: Event = self._call("send_event", key=key, value=value)
        return result

    def list_events(
        self, key: str | Sequence[str] | None = None, begin_offset: int | None = None,
        begin_time: dt.datetime | None = None, sender: str | None = None, limit: int | None = None,
        **_scope: Any,
    ) -> list[Event]:
        """Events of the task's namespace matching the filters."""
        result: list[Event] = self._call(
            "list_events", key=key, begin_offset=begin_offset, begin_time=begin_time, sender=sender, limit=limit
        )
        return result

    def count_events(
        self, key: str | Sequence[str] | None = None, begin_offset: int | None = None,
        begin_time: dt.datetime | None = None, sender: str | None = None, **_scope: Any,
    ) -> int:
        """Count events of the task's namespace matching the filters."""
        return int(self._call("count_events", key=key, begin_offset=begin_offset, begin_time=begin_time,
                              sender=sender))

    def time_to_offset(self, time: dt.datetime) -> int:
        """The offset of the last event created at or before ``time``."""
        return int(self._call("time_to_offset", time=time))

    def latest_offset(self) -> int:
        """The offset of the newest event."""
        return int(self._call("latest_offset"))

    def blob_upload(self, name: str | None, tree: dict[str, Any]) -> str:
        """Store a file tree (see :mod:`aiflow_core.runtime.attempt_blob`) in the task's namespace; its URI."""
        return str(self._call("blob_upload", name=name, tree=tree))

    def blob_download(self, name: str) -> dict[str, Any]:
        """The file tree of the blob ``name`` (a name or URI) of the task's namespace."""
        result: dict[str, Any] = self._call("blob_download", name=name)
        return result

    def blob_list(self, prefix: str = "") -> list[str]:
        """The names of the blobs under ``prefix`` in the task's namespace."""
        result: list[str] = self._call("blob_list", prefix=prefix)
        return result

    def __getattr__(self, name: str) -> Any:
        raise InvalidStateError(
            f"a task in a worker process reaches its engine only through its attempt's channel "
            f"({', '.join(sorted(OPERATIONS))}); {name!r} is not available there: run the task on the "
            "thread executor, or open your own Client with the database URL"
        )
