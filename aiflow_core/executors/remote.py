"""The worker's end of the network attempt channel (see :mod:`aiflow_core.executors.endpoint`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import aiflow_core
from aiflow_core.errors import AIFlowError, InvalidStateError
from aiflow_core.executors import wire
from aiflow_core.executors.attempt import AttemptClient, AttemptEndedError
from aiflow_core.executors.endpoint import PROTOCOL


class ChannelUnreachableError(AIFlowError, ConnectionError):
    """The engine's attempt channel did not answer (engine gone, network cut)."""


class RemoteChannel:
    """Calls of one attempt to its engine's endpoint at ``url``, carrying the attempt's ``token``."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/") + "/v1/call"
        self.token = token
        self.timeout = timeout

    def call(self, op: str, timeout: float | None = None, **args: Any) -> Any:
        """Carry out ``op``; raises AttemptEndedError when the engine refuses the attempt."""
        body = json.dumps({"protocol": PROTOCOL, "version": aiflow_core.__version__, "token": self.token,
                           "op": op, "args": wire.encode(args)}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read())
            except ValueError:
                answer = {"error": f"HTTP {exc.code} {exc.reason}"}
        except (OSError, ValueError) as exc:
            raise ChannelUnreachableError(f"the engine's attempt channel {self.url} did not answer {op!r}: "
                                          f"{type(exc).__name__}: {exc}") from None
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
