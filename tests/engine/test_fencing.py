"""Fenced leadership with real processes: a leader paused past its lease commits nothing, its task stops.

The leader runs in its own process (``fencing_driver.py``) with the process
executor; it freezes itself (SIGSTOP) inside the step that decides to start
a task, before that step proves its lease. A second engine takes over; the
frozen leader's worker, whose heartbeats go unanswered, kills its task; the
new leader counts that attempt lost only after its heartbeat expired. Once
resumed, the old leader's step fails its lease check and rolls back, so the
task it had decided to start never runs under it.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aiflow_core import Client, Engine, TaskStatus
from aiflow_core.model.event import EventKind

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

DRIVER = Path(__file__).with_name("fencing_driver.py")
ROOT = Path(__file__).resolve().parents[2]

WORKFLOW = '''
import os, time
from aiflow_core import PythonOperator, TaskAction, Workflow

OUT = {out!r}

def beat():
    while True:
        with open(os.path.join(OUT, "beats"), "a") as f:
            f.write(f"{{os.getpid()}} {{time.time()}}\\n")
        time.sleep(0.05)

def late():
    with open(os.path.join(OUT, "late"), "a") as f:
        f.write(f"{{os.getpid()}}\\n")

with Workflow(name="fenced") as w:
    PythonOperator(name="beat", python_callable=beat)
    t = PythonOperator(name="late", python_callable=late)
    t.action_on_event_received(TaskAction.START, "go")
'''

SETTINGS = (
    "scheduler_lease_ttl: 4\ntask_heartbeat_interval: 0.3\ntask_heartbeat_timeout: 2\n"
    "task_executor_heartbeat_check_interval: 0.3\n"
)


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The driver's output lines, read in a thread."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    return lines


def _expect(lines: queue.Queue[str], prefix: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line.startswith(prefix):
            return line


def _state(pid: int) -> str:
    """The process state letter (``T`` stopped, ``Z`` ended but not reaped, ``X`` gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "X"


def _beats(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(pid), float(at)) for pid, at in rows if at]


def _wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def test_a_leader_paused_past_its_lease_commits_nothing_and_its_task_stops(
    db_url: str, tmp_path: Path, aiflow_home: Path
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip(
            "a SQLite leader frozen inside a write transaction holds the database's only write lock: no engine "
            "can take over before it resumes (its step then fails the lease check; the contract tests cover that)"
        )
    (aiflow_home / "aiflow.yaml").write_text(SETTINGS)
    out = tmp_path / "out"
    out.mkdir()
    workflow_file = tmp_path / "fenced.py"
    workflow_file.write_text(WORKFLOW.format(out=str(out)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    # Made before the leader runs, so that opening it (which checks the schema) never holds up the leader.
    successor = Engine(db_url, executor="thread")
    leader = subprocess.Popen(
        [sys.executable, str(DRIVER), db_url, str(workflow_file)], env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        lines = _lines(leader)
        _, execution_text, epoch_text = _expect(lines, "ready").split()
        execution, old_epoch = int(execution_text), int(epoch_text)
        _wait_for(lambda: len(_beats(out / "beats")) > 3, 60, "the first task running under the leader")
        (worker_pid,) = {pid for pid, _ in _beats(out / "beats")}
        assert worker_pid != leader.pid

        with Client(db_url) as client:
            go = client.send_event("go")
        _expect(lines, "frozen")
        _wait_for(lambda: _state(leader.pid) == "T", 10, "the leader freezing")
        successor.start()

        # The frozen leader answers no heartbeats: its worker kills the task itself.
        _wait_for(lambda: _state(worker_pid) in "ZX", 30, "the frozen leader's worker ending")
        last_beat = max(at for _, at in _beats(out / "beats"))
        # The lease expires on the database's clock and the successor takes it while the leader is frozen.
        _wait_for(lambda: successor.leadership.epoch is not None, 60, "the successor taking the lease over")
        new_epoch = successor.leadership.epoch
        leader.send_signal(signal.SIGCONT)
        _expect(lines, "resumed")

        final = successor.wait_for_workflow_execution(execution, timeout=60)
        tasks = {t.task_name: t for t in successor.list_task_executions(execution)}
        assert new_epoch is not None and new_epoch > old_epoch

        # The step the leader froze in rolled back: the task it decided to start never ran under it;
        # the successor applied the event again and ran that task once.
        assert (out / "late").read_text().split() == [str(os.getpid())]
        assert tasks["late"].status is TaskStatus.SUCCESS
        # The frozen leader's attempt was counted lost only after it had stopped: no two attempts overlap.
        assert tasks["beat"].status is TaskStatus.FAILED and "task lost" in (tasks["beat"].error or "")
        assert tasks["beat"].end_date is not None and last_beat < tasks["beat"].end_date.timestamp()
        assert _beats(out / "beats")[-1][1] == last_beat
        assert final.status.is_final
        # Nothing the leader did after the freeze reached the database: no report of its epoch after "go".
        with successor.store.transaction(readonly=True) as tx:
            later = tx.read_events(go.offset or 0, 10_000)
        reports = [e for e in later if e.kind is EventKind.TASK_REPORT]
        assert reports and all((e.context or {}).get("epoch") != old_epoch for e in reports), reports
    finally:
        successor.close()
        if leader.poll() is None:
            leader.send_signal(signal.SIGCONT)
            leader.terminate()
        try:
            leader.wait(30)
        except subprocess.TimeoutExpired:
            leader.kill()
            leader.wait()
