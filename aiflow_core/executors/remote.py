"""The worker's end of the network attempt channel (see :mod:`aiflow_core.executors.endpoint`)."""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.parse
from typing import Any

import aiflow_core
from aiflow_core.errors import AIFlowError, InvalidArgumentError, InvalidStateError
from aiflow_core.executors import wire
from aiflow_core.executors.attempt import AttemptClient, AttemptEndedError
from aiflow_core.executors.endpoint import PROTOCOL


class ChannelUnreachableError(AIFlowError, ConnectionError):
    """The engine's attempt channel did not answer (engine gone, network cut)."""


#: Connections to engines kept open between calls, by process, scheme, host and port: a worker process reuses
#: them across its attempts (a forked child makes its own).
_KEPT: dict[tuple[int, str, str, int | None], list[_Connection]] = {}
_KEPT_LOCK = threading.Lock()


class _Connection(http.client.HTTPConnection):
    """An HTTP connection that writes a call's request line, headers and body at once: written in two parts (as
    ``request`` does), each part costs the loopback's or network's work and wakes the engine's reader."""

    _held: list[bytes] | None = None

    def send(self, data: Any) -> None:
        """Send ``data``, or hold it while a call's request is being written."""
        if self._held is not None:
            self._held.append(bytes(data))
            return
        super().send(data)

    def post(self, path: str, body: bytes) -> None:
        """Write the request of one call (a JSON POST to ``path``) in one piece."""
        self._held = []
        try:
            self.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            request = b"".join(self._held)
        finally:
            self._held = None
        self.send(request)


class _TLSConnection(_Connection, http.client.HTTPSConnection):
    """:class:`_Connection` over TLS."""


class RemoteChannel:
    """Calls of one attempt to its engine's endpoint at ``url``, carrying the attempt's ``token``.

    Connections stay open between calls and are shared by the attempts of
    a process (one per concurrent call); a call that fails on a kept
    connection is tried once on a fresh one.
    """

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgumentError(f"attempt channel URL must be http(s)://host:port, got {url!r}")
        self.url = url.rstrip("/") + "/v1/call"
        self._parts = parts
        self.token = token
        self.timeout = timeout

    def _key(self) -> tuple[int, str, str, int | None]:
        return os.getpid(), self._parts.scheme, self._parts.hostname or "", self._parts.port

    def _connection(self, timeout: float) -> _Connection:
        with _KEPT_LOCK:
            kept = _KEPT.get(self._key())
            connection = kept.pop() if kept else None
        if connection is not None:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            return connection
        factory = _TLSConnection if self._parts.scheme == "https" else _Connection
        return factory(self._parts.hostname or "", self._parts.port, timeout=timeout)

    def _post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        for attempt in (1, 2):
            connection = self._connection(timeout)
            reused = connection.sock is not None
            try:
                connection.post(self._parts.path.rstrip("/") + "/v1/call", body)
                response = connection.getresponse()
                answer = response.status, response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                if attempt == 2 or not reused:
                    raise
                continue
            with _KEPT_LOCK:
                _KEPT.setdefault(self._key(), []).append(connection)
            return answer
        raise AssertionError("unreachable")

    def call(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        """Carry out ``op``; raises AttemptEndedError when the engine refuses the attempt."""
        body = json.dumps({"protocol": PROTOCOL, "version": aiflow_core.__version__, "token": self.token,
                           "op": op, "args": wire.encode(args)}).encode()
        try:
            status, data = self._post(body, timeout or self.timeout)
            answer = json.loads(data)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise ChannelUnreachableError(f"the engine's attempt channel {self.url} did not answer {op!r}: "
                                          f"{type(exc).__name__}: {exc}") from None
        if not isinstance(answer, dict):
            answer = {"error": f"HTTP {status}: {answer!r}"}
        if "error" in answer:
            error = f"{op}: {answer['error']}"
            raise AttemptEndedError(error) if answer.get("ended") else InvalidStateError(error)
        return wire.decode(answer.get("result"))


class RemoteAttemptClient(AttemptClient):
    """What a task on a remote worker gets as its client: its attempt's calls over the network."""

    def __init__(self, channel: RemoteChannel) -> None:
        self._channel = channel

    def _call(self, op: str, **args: Any) -> Any:
        return self._channel.call(op, **args)
