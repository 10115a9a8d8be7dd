"""Times given to the event API: naive means the host's local time, aware is taken as it is.

The tests run in Asia/Shanghai (UTC+8, no daylight saving), where reading a
naive time as UTC would be eight hours off.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aiflow_core import Client, Engine, ops
from aiflow_core.cli.commands.events import iso_time
from aiflow_core.model.clock import ensure_utc, local_to_utc
from aiflow_core.model.event import Event
from aiflow_core.notification.notification_client import AIFlowNotificationClient, ListenerProcessor
from aiflow_core.runtime.context import TaskRuntime, task_runtime
from tests.cli.conftest import Cli

SHANGHAI = dt.timedelta(hours=8)


@pytest.fixture
def shanghai() -> Iterator[None]:
    """The local time zone of this process (and of the processes it starts) is Asia/Shanghai."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    try:
        assert dt.datetime.now().astimezone().utcoffset() == SHANGHAI
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def client(db_url: str) -> Iterator[Client]:
    """A client on a fresh database of each backend."""
    client = Client(db_url=db_url)
    try:
        yield client
    finally:
        client.close()


def _between(client: Client) -> tuple[Event, dt.datetime, list[Event]]:
    """One event, then the local naive time, then two more events."""
    first = client.send_event("k", "before")
    moment = dt.datetime.now()
    later = [client.send_event("k", "after-1"), client.send_event("k", "after-2")]
    return first, moment, later


def test_naive_begin_time_of_list_and_count_events_is_local_time(shanghai: None, client: Client) -> None:
    first, moment, later = _between(client)
    aware = moment.astimezone()
    in_new_york = aware.astimezone(ZoneInfo("America/New_York"))
    for begin in (moment, aware, in_new_york):
        assert [e.offset for e in client.list_events(key="k", begin_time=begin)] == [e.offset for e in later]
        assert client.count_events(key="k", begin_time=begin) == 2
    assert first.create_time is not None and first.create_time < aware <= later[0].create_time
    # The same wall time read as UTC would lie eight hours later: nothing yet.
    assert client.list_events(key="k", begin_time=moment.replace(tzinfo=dt.timezone.utc)) == []


def test_time_to_offset_takes_naive_as_local_time(shanghai: None, client: Client) -> None:
    assert client.time_to_offset(dt.datetime.now()) == 0
    first, moment, later = _between(client)
    assert client.time_to_offset(moment) == first.offset
    assert client.time_to_offset(moment.astimezone()) == first.offset
    assert client.time_to_offset(moment.astimezone(ZoneInfo("Europe/London"))) == first.offset
    assert client.time_to_offset(dt.datetime.now()) == later[-1].offset
    assert client.time_to_offset(moment - dt.timedelta(days=1)) == 0
    # At an event's own creation time, that event is counted (at or before).
    created = later[0].create_time
    assert created is not None
    assert client.time_to_offset(created) == later[0].offset
    assert client.time_to_offset(created - dt.timedelta(microseconds=1)) == first.offset
    # Listing after the offset gives what listing from the time gives.
    assert client.list_events(key="k", begin_offset=client.time_to_offset(moment)) == client.list_events(
        key="k", begin_time=moment
    )


def test_time_to_offset_through_ops_and_bad_input(sqlite_url: str) -> None:
    client = Client(db_url=sqlite_url)
    ops.set_default_client(client)
    try:
        event = client.send_event("k")
        assert ops.time_to_offset(dt.datetime.now()) == event.offset
        with pytest.raises(ValueError, match="time must be a datetime, got '2024-01-01'"):
            client.time_to_offset("2024-01-01")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="begin_time must be a datetime"):
            client.list_events(begin_time=1700000000)  # type: ignore[arg-type]
    finally:
        ops.set_default_client(None)
        client.close()


class _Collect(ListenerProcessor):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.arrived = threading.Event()

    def process(self, events: list[Event]) -> None:
        self.events.extend(events)
        self.arrived.set()


def _runtime(client: Client) -> TaskRuntime:
    return TaskRuntime(
        namespace="default", workflow_name="w", workflow_execution_id=1, task_name="t", task_execution_id=1,
        sequence_number=1, client_factory=lambda: client,
    )


def test_listener_registered_with_datetime_now_receives_later_events(shanghai: None, sqlite_url: str) -> None:
    client = Client(db_url=sqlite_url)
    try:
        with task_runtime(_runtime(client)):
            notification = AIFlowNotificationClient("localhost:50052")
            client.send_event("k", "earlier")
            collect = _Collect()
            registration = notification.register_listener(collect, event_keys=["k"], begin_time=dt.datetime.now())
            try:
                sent = client.send_event("k", "later")
                assert collect.arrived.wait(30), "the listener received nothing"
            finally:
                notification.unregister_listener(registration)
            assert [(e.offset, e.value) for e in collect.events] == [(sent.offset, "later")]
            assert notification.time_to_offset(dt.datetime.now()) == sent.offset
            assert [e.value for e in notification.list_events(key="k", begin_time=dt.datetime.now())] == []
    finally:
        client.close()


def test_local_to_utc_and_ensure_utc_differ_only_on_naive_values(shanghai: None) -> None:
    wall = dt.datetime(2024, 5, 1, 12, 0)
    assert local_to_utc(wall) == dt.datetime(2024, 5, 1, 4, 0, tzinfo=dt.timezone.utc)
    assert ensure_utc(wall) == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    aware = dt.datetime(2024, 5, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert local_to_utc(aware) == ensure_utc(aware) == aware
    assert local_to_utc(aware).tzinfo is dt.timezone.utc


def test_cli_begin_time_without_offset_is_local_time(shanghai: None, sqlite_url: str) -> None:
    assert iso_time("2024-05-01T12:00:00") == dt.datetime(2024, 5, 1, 4, 0, tzinfo=dt.timezone.utc)
    assert iso_time("2024-05-01T12:00:00Z") == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    cli = Cli(sqlite_url)
    cli("event", "send", "k", "before")
    moment = dt.datetime.now().isoformat()
    cli("event", "send", "k", "after")
    env = {"TZ": os.environ["TZ"]}
    assert [e["value"] for e in cli.json("event", "list", "k", "--begin-time", moment, **env)] == ["after"]
    assert cli("event", "count", "k", "--begin-time", moment, **env).stdout.strip() == "1"


LISTENING_TASK = """
import datetime
import time

from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient, ListenerProcessor
from aiflow_core.operators.python import PythonOperator


class Collect(ListenerProcessor):
    def __init__(self):
        self.values = []

    def process(self, events):
        self.values.extend(e.value for e in events)


def listen():
    client = AIFlowNotificationClient("localhost:50052")
    collect = Collect()
    registration = client.register_listener(collect, event_keys=["ping"], begin_time=datetime.datetime.now())
    client.send_event("ready")
    deadline = time.monotonic() + 60
    while not collect.values and time.monotonic() < deadline:
        time.sleep(0.01)
    client.unregister_listener(registration)
    client.send_event("got", ",".join(collect.values))


with Workflow(name="listening") as w:
    PythonOperator(name="listen", python_callable=listen)
"""


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_task_listening_from_datetime_now_receives_later_events(
    shanghai: None, tmp_path: Path, executor: str
) -> None:
    workflow = tmp_path / "listening.py"
    workflow.write_text(LISTENING_TASK)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Engine(db_url=url, blob=str(tmp_path / "blob"), executor=executor) as engine:
        engine.upload_workflows(str(workflow))
        engine.send_event("ping", "too early")
        execution = engine.start_workflow_execution("listening")
        deadline = time.monotonic() + 60
        while not engine.list_events(key="ready") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert engine.list_events(key="ready"), "the task never started listening"
        engine.send_event("ping", "after")
        final = engine.wait_for_workflow_execution(execution, timeout=60)
        runs = engine.list_task_executions(execution)
        assert [r.status.value for r in runs] == ["SUCCESS"], [r.error for r in runs]
        assert final.status.value == "SUCCESS"
        assert [e.value for e in engine.list_events(key="got")] == ["after"]
