"""STOP, SIGTERM-deaf tasks, lost workers and bad input on real Celery workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from aiflow_core import Engine
from aiflow_core.cli.main import main as cli
from aiflow_core.executors.celery_app import TASK_NAME, CelerySettings, make_app
from aiflow_core.model.meta import TaskExecutionMeta
from aiflow_core.model.status import TaskStatus, WorkflowStatus

from .conftest import Workers, celery_engine, stop

T = TypeVar("T")

SLEEPER = """
import os, signal, sys, time
from aiflow_core import Workflow, PythonOperator

MARKS = {marks!r}

def sleeper():
    from aiflow_core.runtime.context import current_runtime
    if {deaf!r}:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(os.path.join(MARKS, f"{{os.getpid()}}.pid"), "w") as mark:
        mark.write(os.environ["AIFLOW_HOME"])
    tries = sorted(os.listdir(MARKS))
    print("running", len(tries), flush=True)
    if len(tries) == 1:
        time.sleep(120)

with Workflow(name={name!r}) as w:
    PythonOperator(name="sleeper", python_callable=sleeper, retries=1{queue})
"""


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def upload_sleeper(engine: Engine, tmp_path: Path, *, deaf: bool = False, queue: str | None = None) -> tuple[str, Path]:
    name = f"sleeper_{uuid.uuid4().hex[:6]}"
    marks = tmp_path / f"marks-{name}"
    marks.mkdir()
    source = tmp_path / f"{name}.py"
    source.write_text(SLEEPER.format(marks=str(marks), deaf=deaf, name=name,
                                     queue="" if queue is None else f", queue={queue!r}"))
    engine.upload_workflows(str(source))
    return name, marks


def start_sleeper(engine: Engine, tmp_path: Path, *, deaf: bool = False,
                  what: str = "the task to run") -> tuple[int, Path, int]:
    """Upload a sleeper, start an execution of it and wait until its task runs: execution id, marks, task pid."""
    name, marks = upload_sleeper(engine, tmp_path, deaf=deaf)
    wid = engine.start_workflow_execution(name)
    wait_for(lambda: running(engine, wid) and pids(marks), what)
    [pid] = pids(marks)
    return wid, marks, pid


def final_run(engine: Engine, wid: int) -> TaskExecutionMeta:
    """Wait for the first run of execution ``wid`` that ended."""
    return wait_for(lambda: next((te for te in engine.list_task_executions(wid) if te.status.is_final), None),
                    "the task's end")


def running(engine: Engine, wid: int) -> TaskExecutionMeta | None:
    runs = [te for te in engine.list_task_executions(wid) if te.status is TaskStatus.RUNNING]
    return runs[-1] if runs else None


def pids(marks: Path) -> list[int]:
    return [int(p.stem) for p in sorted(marks.glob("*.pid"))]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("deaf", [False, True], ids=["honours-sigterm", "ignores-sigterm"])
def test_stop_ends_the_task_process_only(engine: Engine, workers: Workers, tmp_path: Path, deaf: bool) -> None:
    wid, _, pid = start_sleeper(engine, tmp_path, deaf=deaf)
    asked = time.monotonic()
    engine.stop_workflow_execution(wid)
    assert engine.wait_for_workflow_execution(wid, timeout=30).status is WorkflowStatus.STOPPED
    run = final_run(engine, wid)
    took = time.monotonic() - asked
    assert run.status is TaskStatus.STOPPED
    assert not alive(pid)
    if deaf:
        assert took >= 1.0  # the grace period passed before SIGKILL
    # The workers live on and run the next task.
    assert all(w.alive() for w in workers.members)


def test_a_grace_period_longer_than_the_heartbeat_timeout_is_waited_out_before_the_stop_is_recorded(
    workers: Workers, tmp_path: Path
) -> None:
    workers.ensure()
    with celery_engine(tmp_path, workers, grace=5.0) as engine:  # heartbeat timeout: 3 s
        wid, _, pid = start_sleeper(engine, tmp_path, deaf=True)
        asked = time.monotonic()
        engine.stop_workflow_execution(wid)
        run = final_run(engine, wid)
        # Recorded only once the task's process is gone (SIGKILL after the grace period), not as lost before.
        assert not alive(pid) and time.monotonic() - asked >= 5.0
        assert run.status is TaskStatus.STOPPED and "heartbeat" not in (run.error or ""), run.error


def test_a_lost_worker_is_found_by_heartbeat_and_the_task_retried_never_twice_at_once(
    engine: Engine, workers: Workers, tmp_path: Path
) -> None:
    wid, marks, first = start_sleeper(engine, tmp_path, what="the first try to run")
    home = Path((marks / f"{first}.pid").read_text())
    [victim] = [w for w in workers.members if w.home == home]
    workers.kill(victim)
    assert engine.wait_for_workflow_execution(wid, timeout=60).status is WorkflowStatus.SUCCESS
    runs = engine.list_task_executions(wid)
    assert [(te.try_number, te.status) for te in runs] == [(1, TaskStatus.FAILED), (2, TaskStatus.SUCCESS)]
    assert "heartbeat" in (runs[0].error or "")
    assert not alive(first)
    # The second try began after the first one's process ended: never two at once.
    assert runs[1].begin_date is not None and runs[0].end_date is not None
    assert runs[1].begin_date >= runs[0].end_date
    if workers.broker == "rabbitmq":
        # RabbitMQ gives the lost worker's unacknowledged message to another worker at once: dropped, not run.
        wait_for(lambda: any(f"dropped the message of task execution {runs[0].id}:" in w.log_text()
                             for w in workers.members if w.alive()), "the message delivered again to be dropped")
    workers.ensure()


def test_unreachable_broker_fails_the_task_naming_the_broker(tmp_path: Path, workers: Workers) -> None:
    with celery_engine(tmp_path, workers, broker_url="redis://:pw-secret@127.0.0.1:1/0") as engine:
        name, _ = upload_sleeper(engine, tmp_path)
        wid = engine.start_workflow_execution(name)
        engine.wait_for_workflow_execution(wid, timeout=60)
        run = engine.list_task_executions(wid)[-1]
    assert run.status is TaskStatus.FAILED
    assert "cannot send the task to the Celery broker redis://:***@127.0.0.1:1/0" in (run.error or "")
    assert "pw-secret" not in (run.error or "")


def test_a_queue_without_worker_waits_visibly(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    executor = engine.executor
    executor.waiting_note_after = 0.5  # type: ignore[attr-defined]
    queue = f"nobody-{uuid.uuid4().hex[:6]}"
    name, marks = upload_sleeper(engine, tmp_path, queue=queue)
    wid = engine.start_workflow_execution(name)
    run = wait_for(lambda: next((te for te in engine.list_task_executions(wid) if te.error), None), "a note")
    assert run.status is TaskStatus.QUEUED
    assert cli(["--db-url", engine.db_url, "task-execution", "show", str(run.id)]) == 0
    shown = capsys.readouterr().out
    assert f"waiting for a worker on queue '{queue}'" in shown
    engine.stop_workflow_execution(wid)
    assert engine.wait_for_workflow_execution(wid, timeout=30).status is WorkflowStatus.STOPPED
    assert not pids(marks)


def test_a_worker_of_another_version_is_refused(engine: Engine, workers: Workers, tmp_path: Path) -> None:
    queue = f"old-{uuid.uuid4().hex[:6]}"
    old = workers.launch(f"old-{workers.broker}", queues=queue, concurrency=1,
                         prelude="import aiflow_core; aiflow_core.__version__ = '0.0.1'")
    try:
        workers.wait_ready(old)
        name, marks = upload_sleeper(engine, tmp_path, queue=queue)
        wid = engine.start_workflow_execution(name)
        engine.wait_for_workflow_execution(wid, timeout=60)
    finally:
        stop(old)
    runs = engine.list_task_executions(wid)
    assert runs and all(te.status is TaskStatus.FAILED for te in runs)
    assert "refused a worker running aiflow '0.0.1'" in (runs[0].error or "")
    assert not pids(marks)


def test_a_message_for_an_unknown_attempt_is_dropped(engine: Engine, workers: Workers) -> None:
    app = make_app(CelerySettings(broker_url=workers.broker_url, queue=workers.queue))
    channel = engine.executor.channel  # type: ignore[attr-defined]
    before = engine.latest_offset()
    marker = 987654321
    app.send_task(TASK_NAME, args=[{"channel": channel, "token": "forged", "task_execution_id": marker}],
                  queue=workers.queue)
    wait_for(lambda: any(f"dropped the message of task execution {marker}" in w.log_text()
                         for w in workers.members), "the message to be dropped")
    assert engine.latest_offset() == before


def test_a_running_remote_task_log_is_followed_from_another_machine(
    engine: Engine, workers: Workers, tmp_path: Path
) -> None:
    name, marks = upload_sleeper(engine, tmp_path)
    wid = engine.start_workflow_execution(name)
    run = wait_for(lambda: running(engine, wid) if pids(marks) else None, "the task to run")
    # Another machine: its own home, the blob store, the database; no copy of the engine's logs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW_")}
    env.update(AIFLOW_HOME=str(tmp_path / "elsewhere"), AIFLOW_BLOB_URL=str(workers.blob),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]))
    follower = subprocess.Popen(
        [sys.executable, "-m", "aiflow_core.cli.main", "--db-url", engine.db_url, "task-execution", "log",
         str(run.id), "--follow", "--interval", "0.2"], env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()  # the log's header, uploaded while the task runs
        assert f"{name}.sleeper execution 1 try 1" in first
        engine.stop_workflow_execution(wid)
        rest = follower.stdout.read()  # until the follower ends, once the run ended and its log is read
        follower.wait(60)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0
    assert "running 1" in rest  # what the task printed, then the log's end once it stopped
