"""The attempt channel over the network: an authenticated JSON-over-HTTP endpoint of the engine.

Workers on other machines (the Celery executor's) reach their engine only
here. Each task attempt gets a random token when the engine hands it over;
every call carries it, and the engine answers only while that attempt may
run. The endpoint binds to a configurable address (default ``127.0.0.1`` on
an ephemeral port); bind it to an interface the workers reach, behind TLS
termination or on a private network, since the token is the only credential.

Protocol (version :data:`PROTOCOL`): one call is one ``POST {url}/v1/call``
with a JSON body and a JSON answer::

    {"protocol": 1, "version": "<aiflow version of the caller>",
     "token": "<attempt token>", "op": "<operation>", "args": {...}}

    200 {"result": ...}                 the call was carried out
    400 {"error": "..."}                 unknown operation or arguments
    403 {"error": "...", "ended": true}  the token names no attempt that may run (ended, superseded, unknown)
    409 {"error": "...", "ended": true}  the caller runs another aiflow version: refused
    500 {"error": "..."}                 the operation failed; the message says why

Values are JSON with times, bytes and events tagged (see
:mod:`aiflow_core.executors.wire`). The operations:

``claim`` ``{worker}``
    The attempt's worker takes it: answers what to run (the job's ids and
    names, the workflow snapshot's blob URI and SHA-256, the workflow file
    inside it, the log's blob key, the heartbeat interval and the stop grace
    period) and reports the attempt RUNNING. Only the first claim of an
    attempt that still waits for a worker succeeds: a message delivered
    again, for an attempt that ran, ended or was stopped meanwhile, is
    refused (403) and its worker drops it.
``heartbeat`` ``{wait}``
    Records that the attempt is alive, then waits up to ``wait`` seconds (at
    most 30) for a stop request; answers ``{"stop": true}`` as soon as the
    engine wants the attempt stopped (a STOP, a RESTART, or an engine that
    lost the scheduler lease: the attempt is stale), else ``{"stop": false}``.
    Workers call it in a loop, so a STOP reaches them within one round trip.
``report`` ``{status, error, log}``
    The attempt's final status (SUCCESS, FAILED or STOPPED); ends the attempt.
    ``log`` says whether the worker uploaded the task's log (false: the task
    wrote nothing; absent: look for it).
``send_event``, ``list_events``, ``count_events``, ``time_to_offset``, ``latest_offset``
    The task's own calls (:data:`~aiflow_core.executors.attempt.OPERATIONS`),
    scoped by the engine to the attempt as on a local worker.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

import aiflow_core
from aiflow_core.config import parse_address
from aiflow_core.errors import ConfigError, InvalidStateError
from aiflow_core.executors import wire
from aiflow_core.executors.attempt import OPERATIONS, AttemptEndedError
from aiflow_core.executors.base import TaskJob

log = logging.getLogger("aiflow.executors.endpoint")

#: The version of the protocol this module speaks.
PROTOCOL = 1
#: The operations of an attempt's worker, besides the task's own :data:`OPERATIONS`.
CONTROL_OPERATIONS = ("claim", "heartbeat", "report")
#: The longest a ``heartbeat`` call waits for a stop request, in seconds.
MAX_WAIT = 30.0
_MAX_BODY = 16 * 1024 * 1024


class CallRefused(InvalidStateError):
    """A call the endpoint refuses; ``status`` is the HTTP status it answers with."""

    def __init__(self, status: HTTPStatus, message: str, *, ended: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.ended = ended


@attrs.define(kw_only=True)
class Attempt:
    """One task attempt handed to remote workers, as the endpoint sees it."""

    job: TaskJob
    token: str
    queue: str
    #: ``waiting`` (for a worker to claim it), ``running`` or ``ended``.
    state: str = "waiting"
    stop: bool = False
    worker: str | None = None
    #: When the attempt was handed over (``time.monotonic()``), and whether the executor said it waits.
    sent_at: float = 0.0
    noted: bool = False
    #: False when the worker's report said the task wrote no log (none was uploaded).
    logged: bool = True
    #: Set when the attempt is asked to stop or ends: wakes its held heartbeat call (and no other).
    changed: threading.Event = attrs.field(factory=threading.Event, repr=False)


class AttemptEndpoint:
    """The HTTP server of the attempt channel; see the module docstring for the protocol.

    ``claimed(attempt, worker)`` returns the answer of a successful claim,
    ``reported(attempt, status, error)`` receives final statuses,
    ``heartbeat(task_execution_id)`` records heartbeats and ``serve(job, op,
    args)`` carries out the task's own calls.
    """

    def __init__(
        self, address: str, *, claimed: Callable[[Attempt, str], dict[str, Any]],
        reported: Callable[[Attempt, str, str | None], None], heartbeat: Callable[[int], object],
        serve: Callable[[TaskJob, str, dict[str, Any]], Any] | None, advertised_url: str | None = None,
    ) -> None:
        host, port = parse_address(address)
        self._claimed = claimed
        self._reported = reported
        self._heartbeat = heartbeat
        self._serve = serve
        self._lock = threading.Lock()
        self._by_token: dict[str, Attempt] = {}
        self._by_id: dict[int, Attempt] = {}
        try:
            self._server = _Server((host, port), _handler(self))
        except OSError as exc:
            raise ConfigError(f"cannot bind the attempt channel to {address!r}: {exc}") from None
        bound = self._server.server_address
        bound_host, bound_port = str(bound[0]), int(bound[1])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        #: The URL workers call; ``advertised_url`` when the bound address is not what they reach.
        self.url = advertised_url or f"http://{shown}:{bound_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="aiflow-attempt-channel", daemon=True)
        self._thread.start()

    # -- the executor's side --
    def add(self, attempt: Attempt) -> None:
        """Accept calls for ``attempt`` (with its token)."""
        with self._lock:
            self._by_token[attempt.token] = attempt
            self._by_id[attempt.job.task_execution_id] = attempt

    def get(self, task_execution_id: int) -> Attempt | None:
        """The attempt of a task execution, while the endpoint knows it."""
        with self._lock:
            return self._by_id.get(task_execution_id)

    def request_stop(self, task_execution_id: int) -> str | None:
        """Ask the attempt to stop; returns its state before (``waiting`` ones end at once), None if unknown."""
        with self._lock:
            attempt = self._by_id.get(task_execution_id)
            if attempt is None:
                return None
            state = attempt.state
            attempt.stop = True
            if state == "waiting":
                self._end(attempt)
        attempt.changed.set()
        return state

    def end(self, attempt: Attempt) -> bool:
        """Refuse the attempt's token from now on; False if it had ended already."""
        with self._lock:
            if attempt.state == "ended":
                return False
            self._end(attempt)
        attempt.changed.set()
        return True

    def _end(self, attempt: Attempt) -> None:
        attempt.state = "ended"
        self._by_token.pop(attempt.token, None)
        self._by_id.pop(attempt.job.task_execution_id, None)

    def active(self) -> list[Attempt]:
        """The attempts that have not ended."""
        with self._lock:
            return list(self._by_id.values())

    def close(self) -> None:
        """Stop serving; later calls fail to connect."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- the workers' side --
    def call(self, body: dict[str, Any]) -> Any:
        """Carry out one call (a decoded request body); raises CallRefused when refused."""
        if body.get("protocol") != PROTOCOL:
            raise CallRefused(HTTPStatus.CONFLICT, f"this engine speaks attempt protocol {PROTOCOL}, "
                              f"the worker {body.get('protocol')!r}", ended=True)
        op = str(body.get("op"))
        args = wire.decode(body.get("args") or {})
        if not isinstance(args, dict):
            raise CallRefused(HTTPStatus.BAD_REQUEST, f"args of {op!r} must be an object, got {args!r}")
        with self._lock:
            attempt = self._by_token.get(str(body.get("token")))
        if attempt is None:
            raise CallRefused(HTTPStatus.FORBIDDEN, "the token of this call names no attempt that may run "
                              "(it ended, was stopped or superseded, or never was)", ended=True)
        version = body.get("version")
        if version != aiflow_core.__version__:
            error = (f"refused a worker running aiflow {version!r}: this engine runs aiflow "
                     f"{aiflow_core.__version__!r}; run workers of the engine's version")
            if self.end(attempt):
                self._reported(attempt, "FAILED", error)
            raise CallRefused(HTTPStatus.CONFLICT, error, ended=True)
        if op == "claim":
            return self._claim(attempt, str(args.get("worker") or "unknown worker"))
        if attempt.state != "running":
            raise CallRefused(HTTPStatus.FORBIDDEN, f"attempt of task execution {attempt.job.task_execution_id} "
                              "is not running: claim it first", ended=attempt.state == "ended")
        if op == "heartbeat":
            return self._beat(attempt, args.get("wait"))
        if op == "report":
            status = str(args.get("status"))
            if status not in ("SUCCESS", "FAILED", "STOPPED"):
                raise CallRefused(HTTPStatus.BAD_REQUEST, f"report takes SUCCESS, FAILED or STOPPED, not {status!r}")
            if self.end(attempt):
                attempt.logged = args.get("log") is not False
                reason = args.get("error")
                self._reported(attempt, status, None if reason is None else str(reason))
            return None
        if op not in OPERATIONS:
            raise CallRefused(HTTPStatus.BAD_REQUEST, f"an attempt may call "
                              f"{sorted([*CONTROL_OPERATIONS, *OPERATIONS])}, not {op!r}")
        if self._serve is None:
            raise CallRefused(HTTPStatus.BAD_REQUEST, "this engine serves no calls of task attempts")
        return self._serve(attempt.job, op, args)

    def _claim(self, attempt: Attempt, worker: str) -> dict[str, Any]:
        with self._lock:
            if attempt.state != "waiting":
                raise CallRefused(HTTPStatus.FORBIDDEN, f"attempt of task execution {attempt.job.task_execution_id} "
                                  f"was claimed already by {attempt.worker}: a message delivered again is dropped",
                                  ended=True)
            attempt.state = "running"
            attempt.worker = worker
        return self._claimed(attempt, worker)

    def _beat(self, attempt: Attempt, wait: Any) -> dict[str, bool]:
        """Record the heartbeat, then wait for a stop request; the engine may answer stop itself (a heartbeat
        answered False: the attempt is stale, its engine lost the scheduler lease)."""
        te_id = attempt.job.task_execution_id
        if self._heartbeat(te_id) is False:
            return {"stop": True}
        seconds = min(float(wait), MAX_WAIT) if isinstance(wait, (int, float)) and wait > 0 else 0.0
        attempt.changed.wait(seconds)
        with self._lock:
            stop, ended = attempt.stop, attempt.state == "ended"
        if ended and not stop:
            raise CallRefused(HTTPStatus.FORBIDDEN, "the attempt ended", ended=True)
        if not stop and self._heartbeat(te_id) is False:
            stop = True
        return {"stop": stop}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that went away (a killed worker) is no error of the engine's."""
        log.debug("attempt channel call from %s failed", client_address, exc_info=True)


def _handler(endpoint: AttemptEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no delayed-ACK stall behind a caller's request written in parts

        def do_POST(self) -> None:
            try:
                if self.path != "/v1/call":
                    raise CallRefused(HTTPStatus.NOT_FOUND, f"no such path {self.path!r}; POST /v1/call")
                size = int(self.headers.get("Content-Length") or 0)
                if size > _MAX_BODY:
                    raise CallRefused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a call is at most {_MAX_BODY} bytes")
                body = json.loads(self.rfile.read(size) or b"{}")
                if not isinstance(body, dict):
                    raise CallRefused(HTTPStatus.BAD_REQUEST, "a call is a JSON object")
                answer: dict[str, Any] = {"result": wire.encode(endpoint.call(body))}
                status = HTTPStatus.OK
            except CallRefused as exc:
                status, answer = exc.status, {"error": str(exc), "ended": exc.ended}
            except AttemptEndedError as exc:  # the engine refused a stale attempt's call
                status, answer = HTTPStatus.FORBIDDEN, {"error": str(exc), "ended": True}
            except ValueError as exc:
                status, answer = HTTPStatus.BAD_REQUEST, {"error": f"{type(exc).__name__}: {exc}"}
            except Exception as exc:
                status, answer = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(answer).encode()
            # One write: a response written in parts gives the GIL away between them (to the scheduler, which a
            # report has just woken) and the caller waits for the rest.
            head = (f"{self.protocol_version} {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n")
            self.wfile.write(head.encode("ascii") + data)

        def log_message(self, format: str, *args: Any) -> None:
            """Calls are not logged: they carry tokens."""

    return Handler
