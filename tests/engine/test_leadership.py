"""Fenced leadership in one process: engines on a memory store whose clock the test moves.

The store's clock is the only clock leases are judged by, so moving it
expires a lease at a chosen moment, whatever the engines' own clocks say.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus
from aiflow_core.api.observe import LEASE_NAME
from aiflow_core.testing import FakeClock
from aiflow_core.testing.memory import MemoryStore

WORKFLOW = """
import time
from aiflow_core import PythonOperator, TaskAction, Workflow

def serve():
    while True:
        time.sleep(0.02)

def late():
    return 1

with Workflow(name="served") as w:
    PythonOperator(name="serve", python_callable=serve)
    t = PythonOperator(name="late", python_callable=late)
    t.action_on_event_received(TaskAction.START, "go")
"""


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)


@pytest.fixture
def store_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_clock: FakeClock) -> MemoryStore:
    store = MemoryStore(clock=store_clock)
    store.upgrade()
    return store


def test_a_deposed_engine_stops_its_task_commits_nothing_and_the_next_leader_waits_for_the_heartbeat(
    store: MemoryStore, store_clock: FakeClock, tmp_path: Path, aiflow_home: Path
) -> None:
    (tmp_path / "wf.py").write_text(WORKFLOW)
    blob = str(tmp_path / "blob")
    first = Engine(store=store, executor="thread", blob=blob).start()
    try:
        first.upload_workflows(str(tmp_path / "wf.py"))
        execution = first.start_workflow_execution("served")
        _until(lambda: [t.status for t in first.list_task_executions(execution)] == [TaskStatus.RUNNING],
               "the task running")
        [serving] = first.list_task_executions(execution)
        old_epoch = first.leadership.epoch
        assert old_epoch is not None

        # The lease expires on the store's clock and another engine takes it: the first is deposed.
        store_clock.advance(dt.timedelta(seconds=first.leadership.ttl + 1))
        with store.transaction() as tx:
            taken = tx.acquire_lease(LEASE_NAME, "other-host:1:x", 60)
            assert taken is not None and taken.epoch == old_epoch + 1
        first.send_event("go")
        _until(lambda: not first.health().leader, "the first engine noticing it was deposed")
        _until(lambda: not first.executor.busy(), "the deposed engine stopping its task")
        # Nothing it did after that reached the store: its task's STOPPED report and the "go" were not applied.
        assert [(t.task_name, t.status) for t in first.list_task_executions(execution)] == [
            ("serve", TaskStatus.RUNNING)
        ]
    finally:
        first.close()

    # The other engine is gone without a word; a new engine takes over once its lease expired, and waits
    # for the attempt's heartbeat to expire too before it counts the attempt lost.
    store_clock.advance(dt.timedelta(seconds=61))
    second = Engine(store=store, executor="thread", blob=blob).start()
    try:
        _until(lambda: second.health().leader, "the second engine leading")
        assert second.leadership.epoch == old_epoch + 2
        _until(lambda: any(t.task_name == "late" for t in second.list_task_executions(execution)),
               "the second engine applying the pending event")
        assert second.get_task_execution(serving.id).status is TaskStatus.RUNNING  # not lost at once
        grace = second.config.task_heartbeat_timeout + second.config.task_heartbeat_interval
        store_clock.advance(dt.timedelta(seconds=grace + 1))
        second.wake()
        _until(lambda: second.get_task_execution(serving.id).status is TaskStatus.FAILED, "the attempt lost")
        assert "task lost" in (second.get_task_execution(serving.id).error or "")
        assert second.wait_for_workflow_execution(execution, timeout=30).status.is_final
    finally:
        second.close()


def test_an_engine_whose_lease_expired_unnoticed_takes_it_again_and_keeps_its_tasks(
    store: MemoryStore, store_clock: FakeClock, tmp_path: Path, aiflow_home: Path
) -> None:
    (tmp_path / "wf.py").write_text(WORKFLOW)
    engine = Engine(store=store, executor="thread", blob=str(tmp_path / "blob")).start()
    try:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("served")
        _until(lambda: [t.status for t in engine.list_task_executions(execution)] == [TaskStatus.RUNNING],
               "the task running")
        epoch = engine.leadership.epoch
        assert epoch is not None
        [serving] = engine.list_task_executions(execution)
        store_clock.advance(dt.timedelta(seconds=engine.leadership.ttl + 1))  # nobody else took the lease
        engine.send_event("go")
        _until(lambda: len(engine.list_task_executions(execution)) == 2, "the event applied")
        assert engine.leadership.epoch == epoch + 1 and engine.leadership.epochs == {epoch, epoch + 1}
        assert engine.executor.busy()  # its task runs on
        engine.stop_workflow_execution(execution)
        assert engine.wait_for_workflow_execution(execution, timeout=30).status.value == "STOPPED"
        # The stop reached the attempt of the epoch before the renewal, and its report was applied.
        _until(lambda: engine.get_task_execution(serving.id).status is TaskStatus.STOPPED, "the task stopped")
    finally:
        engine.close()


SENDER = """
import os, time
from aiflow_core import PythonOperator, Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient

def send_when_told():
    open({started!r}, "w").close()
    while not os.path.exists({go!r}):
        time.sleep(0.005)
    try:
        AIFlowNotificationClient().send_event("from-task", "late")
        outcome = "sent"
    except Exception as exc:
        outcome = f"{{type(exc).__name__}}: {{exc}}"
    with open({out!r}, "w") as f:
        f.write(outcome)

with Workflow(name="sender") as w:
    PythonOperator(name="send", python_callable=send_when_told)
"""


@pytest.mark.parametrize("executor", ["thread", "inline"])
def test_an_event_a_task_sends_after_its_engine_lost_the_lease_does_not_land(
    executor: str, store: MemoryStore, store_clock: FakeClock, tmp_path: Path, aiflow_home: Path
) -> None:
    started, go, out = tmp_path / "started", tmp_path / "go", tmp_path / "out"
    (tmp_path / "wf.py").write_text(SENDER.format(started=str(started), go=str(go), out=str(out)))
    engine = Engine(store=store, executor=executor, blob=str(tmp_path / "blob"))
    try:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("sender")
        if executor == "thread":
            # Stepped here until only the waiting task is left: no step runs after the taking below, which would
            # notice it and stop the task before it sends.
            with pytest.raises(TimeoutError):
                engine.run_until_idle(timeout=1.0)
            assert [t.status for t in engine.list_task_executions(execution)] == [TaskStatus.RUNNING]
        else:  # the task runs inside the loop's step, which waits for its end
            engine.start()
        _until(started.exists, "the task running")
        epoch = engine.leadership.epoch
        assert epoch is not None
        # Another engine takes the expired lease; this one has not looked at the lease since (no step ran),
        # so the task's attempt still passes the engine's own stale-attempt check: the append's fence refuses it.
        store_clock.advance(dt.timedelta(seconds=engine.leadership.ttl + 1))
        with store.transaction() as tx:
            taken = tx.acquire_lease(LEASE_NAME, "other-host:1:x", 60)
            assert taken is not None and taken.epoch == epoch + 1
        assert engine.leadership.epoch == epoch  # not noticed yet
        go.touch()
        _until(out.exists, "the task's send")
        assert out.read_text().startswith("AttemptEndedError:"), out.read_text()
        assert "stale" in out.read_text()
        assert engine.list_events(key="from-task") == []
    finally:
        engine.close()
