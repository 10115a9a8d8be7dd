"""The attempt channel over HTTP: tokens checked, claims once, stops through heartbeats, values as JSON."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.request
from typing import Any

import pytest

import aiflow_core
from aiflow_core.errors import ConfigError, InvalidStateError
from aiflow_core.executors import wire
from aiflow_core.executors.attempt import AttemptEndedError
from aiflow_core.executors.base import TaskJob
from aiflow_core.executors.endpoint import Attempt, AttemptEndpoint
from aiflow_core.executors.remote import ChannelUnreachableError, RemoteAttemptClient, RemoteChannel
from aiflow_core.model.event import Event


class Engine:
    """What the endpoint reaches of an engine: records what it is told."""

    def __init__(self) -> None:
        self.claims: list[str] = []
        self.reports: list[tuple[int, str, str | None]] = []
        self.beats: list[int] = []
        self.calls: list[tuple[int, str, dict[str, Any]]] = []

    def claimed(self, attempt: Attempt, worker: str) -> dict[str, Any]:
        self.claims.append(worker)
        return {"job": {"task_execution_id": attempt.job.task_execution_id}}

    def reported(self, attempt: Attempt, status: str, error: str | None) -> None:
        self.reports.append((attempt.job.task_execution_id, status, error))

    def serve(self, job: TaskJob, op: str, args: dict[str, Any]) -> Any:
        self.calls.append((job.task_execution_id, op, args))
        return [Event("k", "v", namespace=job.namespace, offset=7,
                      create_time=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))]


def _job(te_id: int) -> TaskJob:
    return TaskJob(task_execution_id=te_id, workflow_execution_id=1, namespace="ns", workflow_name="wf",
                   task_name="t", sequence_number=1, try_number=1, snapshot_id=1, log_path="/nonexistent",
                   snapshot_frame=b"frame-bytes")


@pytest.fixture
def endpoint() -> Any:
    engine = Engine()
    served = AttemptEndpoint("127.0.0.1:0", claimed=engine.claimed, reported=engine.reported,
                             heartbeat=engine.beats.append, serve=engine.serve)
    served.engine = engine  # type: ignore[attr-defined]
    yield served
    served.close()


def _attempt(endpoint: AttemptEndpoint, te_id: int) -> Attempt:
    attempt = Attempt(job=_job(te_id), token=f"token-{te_id}-secret", queue="q")
    endpoint.add(attempt)
    return attempt


def test_a_claim_succeeds_once_and_calls_need_the_running_attempts_token(endpoint: AttemptEndpoint) -> None:
    attempt = _attempt(endpoint, 5)
    channel = RemoteChannel(endpoint.url, attempt.token)
    with pytest.raises(InvalidStateError, match="claim it first"):
        channel.call("latest_offset")
    assert channel.call("claim", worker="host:1") == {"job": {"task_execution_id": 5}}
    with pytest.raises(AttemptEndedError, match="claimed already by host:1"):
        channel.call("claim", worker="host:2")  # the same message delivered again
    [event] = RemoteAttemptClient(channel).list_events(key="k")
    assert event.offset == 7 and event.create_time is not None and event.create_time.year == 2024
    with pytest.raises(InvalidStateError, match="not 'frame'"):
        channel.call("frame")  # nothing pickled is served to workers
    channel.call("report", status="SUCCESS")
    assert endpoint.engine.reports == [(5, "SUCCESS", None)]  # type: ignore[attr-defined]
    with pytest.raises(AttemptEndedError, match="names no attempt"):
        channel.call("send_event", key="late")
    with pytest.raises(AttemptEndedError, match="names no attempt"):
        RemoteChannel(endpoint.url, "forged").call("claim", worker="x")


def test_a_stop_reaches_the_worker_through_its_heartbeat(endpoint: AttemptEndpoint) -> None:
    attempt = _attempt(endpoint, 6)
    channel = RemoteChannel(endpoint.url, attempt.token)
    channel.call("claim", worker="host:1")
    assert channel.call("heartbeat", wait=0) == {"stop": False}
    answers: list[Any] = []
    waiting = threading.Thread(target=lambda: answers.append(channel.call("heartbeat", wait=30)))
    waiting.start()
    while not endpoint.engine.beats.count(6) >= 3:  # type: ignore[attr-defined]
        threading.Event().wait(0.01)
    assert endpoint.request_stop(6) == "running"
    waiting.join(10)
    assert answers == [{"stop": True}]


def test_a_stop_of_a_waiting_attempt_ends_it_so_its_message_is_dropped(endpoint: AttemptEndpoint) -> None:
    attempt = _attempt(endpoint, 7)
    assert endpoint.request_stop(7) == "waiting"
    with pytest.raises(AttemptEndedError):
        RemoteChannel(endpoint.url, attempt.token).call("claim", worker="host:1")
    assert endpoint.engine.claims == []  # type: ignore[attr-defined]


def test_a_worker_of_another_version_is_refused_and_its_attempt_failed(endpoint: AttemptEndpoint) -> None:
    attempt = _attempt(endpoint, 8)
    body = json.dumps({"protocol": 1, "version": "0.0.1", "token": attempt.token, "op": "claim",
                       "args": {"worker": "old"}}).encode()
    request = urllib.request.Request(endpoint.url + "/v1/call", data=body)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 409
    [(te_id, status, error)] = endpoint.engine.reports  # type: ignore[attr-defined]
    assert (te_id, status) == (8, "FAILED")
    assert f"refused a worker running aiflow '0.0.1': this engine runs aiflow '{aiflow_core.__version__}'" in (
        error or "")


def test_bad_calls_are_refused_with_reasons(endpoint: AttemptEndpoint) -> None:
    attempt = _attempt(endpoint, 9)
    channel = RemoteChannel(endpoint.url, attempt.token)
    channel.call("claim", worker="w")
    with pytest.raises(InvalidStateError, match="not 'drop_table'"):
        channel.call("drop_table")
    with pytest.raises(InvalidStateError, match="report takes SUCCESS, FAILED or STOPPED"):
        channel.call("report", status="RUNNING")
    with pytest.raises(ConfigError, match="host:port"):
        AttemptEndpoint("127.0.0.1:notaport", claimed=Engine().claimed, reported=Engine().reported,
                        heartbeat=lambda te: None, serve=None)


def test_an_unreachable_engine_is_a_typed_error() -> None:
    with pytest.raises(ChannelUnreachableError, match="did not answer 'latest_offset'"):
        RemoteChannel("http://127.0.0.1:1", "t", timeout=2).call("latest_offset")


def test_wire_values_round_trip() -> None:
    value = {"when": dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc), "raw": b"\x00\x01",
             "events": [Event("a", None, namespace="n", sender="s", context={"x": 1})]}
    assert wire.decode(json.loads(json.dumps(wire.encode(value)))) == value
    with pytest.raises(TypeError, match="cannot send a object"):
        wire.encode(object())


def test_a_heartbeat_the_engine_answers_stale_tells_the_worker_to_stop() -> None:
    engine = Engine()
    endpoint = AttemptEndpoint("127.0.0.1:0", claimed=engine.claimed, reported=engine.reported,
                               heartbeat=lambda te_id: False, serve=engine.serve)
    try:
        attempt = _attempt(endpoint, 10)
        channel = RemoteChannel(endpoint.url, attempt.token)
        channel.call("claim", worker="w")
        assert channel.call("heartbeat", wait=30) == {"stop": True}  # at once: no wait for a stale attempt
    finally:
        endpoint.close()
