"""Exactly once across crashes: an engine killed with SIGKILL over and over decides what an uninterrupted one does.

Every user event is written before the engine starts, so the offsets of the
user events are the same in every run and every executor report lands after
them in the log: the decisions taken on user events then depend on the
events alone, and a history that differs from the uninterrupted run's can
only come from a decision lost or repeated across a crash.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from aiflow_core import Client, TaskStatus
from aiflow_core.model.meta import StartKind, TaskExecutionMeta

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DRIVER = Path(__file__).with_name("crash_driver.py")
ROOT = Path(__file__).resolve().parents[2]

SERVING = '''
import time

from aiflow_core import (
    Condition, MeetAllCondition, PythonOperator, SingleEventCondition, TaskAction, ValueStateDescriptor, Workflow,
)


def serve():
    while True:
        time.sleep(0.05)


class EveryNth(Condition):
    """Met by every n-th event of its key (a counter kept in the rule's state)."""

    def __init__(self, key, n):
        super().__init__([key])
        self.n = n

    def is_met(self, event, context):
        state = context.get_state(ValueStateDescriptor(name="count"))
        count = (state.value() or 0) + 1
        state.update(count)
        return count % self.n == 0


with Workflow(name="serving") as w:
    a = PythonOperator(name="a", python_callable=serve)
    b = PythonOperator(name="b", python_callable=serve)
    c = PythonOperator(name="c", python_callable=serve)
    d = PythonOperator(name="d", python_callable=serve)
    e = PythonOperator(name="e", python_callable=serve)
    a.action_on_event_received(TaskAction.START, "start_a")
    a.action_on_event_received(TaskAction.RESTART, "restart_a")
    a.action_on_event_received(TaskAction.STOP, "stop_a")
    b.action_on_event_received(TaskAction.STOP, "stop_b")
    b.action_on_event_received(TaskAction.START, "start_b")
    c.action_on_condition(TaskAction.RESTART, EveryNth("tick", 7))
    d.action_on_condition(TaskAction.RESTART, MeetAllCondition([SingleEventCondition("x"), SingleEventCondition("y")]))
    e.action_on_condition(TaskAction.START, EveryNth("x", 5))
    e.action_on_condition(TaskAction.STOP, EveryNth("y", 3))
'''

KEYS = ["start_a", "restart_a", "stop_a", "start_b", "stop_b", "tick", "tick", "tick", "x", "y"]

History = list[tuple[str, int, str, int | None, str | None, int | None]]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["AIFLOW_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _prepare(db_url: str, workdir: Path, events: int, seed: int) -> tuple[int, int]:
    """Upload the workflow, start one execution and write every user event; returns (execution, last offset)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "serving.py"
    path.write_text(SERVING, encoding="utf-8")
    rng = random.Random(seed)
    os.environ["AIFLOW_HOME"] = str(workdir)  # the engine processes share this home (and its blob root)
    with Client(db_url) as client:
        client.upload_workflows(str(path))
        execution_id = client.start_workflow_execution("serving")
        last = 0
        for i in range(events):
            last = client.send_event(rng.choice(KEYS), str(i), idempotency_key=f"user-{i}").offset or 0
    return execution_id, last


def _spawn(db_url: str, home: Path, batch_size: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), db_url, str(batch_size)],
        env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=str(ROOT),
    )


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    """Block until the engine process runs its loop (the module's timeout bounds a hang)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", f"engine process did not start (exit code {proc.poll()})"


def _kill(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    if proc.stdout is not None:
        proc.stdout.close()


def _progress(db_url: str) -> tuple[int, int]:
    from aiflow_storage.sql import SqlStore

    store = SqlStore(db_url)
    try:
        with store.transaction() as tx:
            return tx.get_checkpoint("main"), tx.max_offset()
    finally:
        store.close()


def _run_to_end(db_url: str, home: Path, batch_size: int, last_user_offset: int, timeout: float = 120.0) -> None:
    """Run an engine until every event is applied and the log stays still, then kill it."""
    proc = _spawn(db_url, home, batch_size)
    try:
        _wait_ready(proc)
        deadline = time.monotonic() + timeout
        stable_since: float | None = None
        seen = (-1, -1)
        while time.monotonic() < deadline:
            progress = _progress(db_url)
            done = progress[0] >= last_user_offset and progress[0] == progress[1]
            if done and progress == seen:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since > 1.0:
                    return
            else:
                stable_since = None
            seen = progress
            time.sleep(0.1)
        raise AssertionError(f"engine did not catch up with the log within {timeout} s: {_progress(db_url)}")
    finally:
        _kill(proc)


def _history(db_url: str, execution_id: int) -> tuple[History, list[TaskExecutionMeta]]:
    with Client(db_url) as client:
        executions = client.list_task_executions(execution_id)
    history = sorted(
        (te.task_name, te.sequence_number, te.cause.kind.value, te.cause.event_offset, te.cause.event_key,
         te.cause.rule_index)
        for te in executions
    )
    return history, executions


def _crash_run(
    db_url: str, home: Path, seed: int, events: int, kills: int, batch_size: int
) -> tuple[History, list[TaskExecutionMeta], list[int]]:
    """Write the events, start and SIGKILL an engine ``kills`` times, then run one to the end."""
    execution_id, last = _prepare(db_url, home, events, seed)
    rng = random.Random(seed + 1)
    checkpoints: list[int] = []
    rounds = 0
    while rounds < kills:
        proc = _spawn(db_url, home, batch_size)
        try:
            _wait_ready(proc)
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            _kill(proc)
        rounds += 1
        checkpoints.append(_progress(db_url)[0])
    _run_to_end(db_url, home, batch_size, last)
    history, executions = _history(db_url, execution_id)
    return history, executions, checkpoints


def _check_history(history: History, events: int) -> None:
    pairs = Counter((task, seq) for task, seq, *_ in history)
    assert max(pairs.values()) == 1, [p for p, n in pairs.items() if n > 1]
    causes = Counter((task, offset) for task, _, kind, offset, *_ in history if kind == StartKind.RULE.value)
    assert max(causes.values()) == 1, [c for c, n in causes.items() if n > 1]
    for task in {t for t, *_ in history}:
        seqs = sorted(seq for t, seq, *_ in history if t == task)
        assert seqs == list(range(1, len(seqs) + 1)), f"task {task} has gaps in its sequence numbers: {seqs}"
    assert {t for t, *_ in history} == {"a", "b", "c", "d", "e"}
    assert len(history) > events // 10


def _reset(db_url: str) -> None:
    from aiflow_storage.sql import SqlStore

    store = SqlStore(db_url)
    store.downgrade(0, force=True)
    store.upgrade()
    store.close()


# PostgreSQL commits are slower; a shorter log keeps the server variant within the time budget.
@pytest.mark.parametrize(
    ("db_url", "events"),
    [("sqlite", 2000), pytest.param("postgres", 600, marks=pytest.mark.postgres)],
    indirect=["db_url"],
)
def test_sigkilled_engine_decides_exactly_what_an_uninterrupted_one_does(
    db_url: str, events: int, tmp_path: Path
) -> None:
    kills, batch_size, seed = 20, 10, 20240601
    crashed, crashed_executions, checkpoints = _crash_run(db_url, tmp_path / "crash", seed, events, kills, batch_size)
    _reset(db_url)
    execution_id, last = _prepare(db_url, tmp_path / "clean", events, seed)
    _run_to_end(db_url, tmp_path / "clean", batch_size, last)
    clean, clean_executions = _history(db_url, execution_id)

    assert len(checkpoints) >= kills
    interrupted = [c for c in checkpoints if 0 < c < last]
    assert len(set(interrupted)) >= 5, f"too few kills landed while events were being applied: {checkpoints}"
    _check_history(clean, events)
    _check_history(crashed, events)
    assert Counter(t for t, *_ in crashed) == Counter(t for t, *_ in clean)
    assert crashed == clean
    # Superseded executions have all ended: STOPPED, or FAILED as lost when their engine was killed.
    latest = {te.task_name: te.sequence_number for te in clean_executions}
    for te in clean_executions:
        if te.sequence_number < latest[te.task_name]:
            assert te.status is TaskStatus.STOPPED, f"{te.task_name}#{te.sequence_number}: {te.status.value}"
        else:
            assert te.status in (TaskStatus.RUNNING, TaskStatus.STOPPED), (te, te.error)
    for te in crashed_executions:
        if te.status is TaskStatus.FAILED:
            assert te.error is not None and "task lost" in te.error, (te, te.error)
        else:
            assert te.status is TaskStatus.STOPPED or te.sequence_number == latest[te.task_name], te


OUTBOX = '''
from aiflow_core import BashOperator, TaskAction, Workflow

with Workflow(name="outbox") as w:
    for i in range({tasks}):
        task = BashOperator(name=f"t{{i:02d}}", bash_command='echo "$AIFLOW_TASK_NAME" >> {runs}')
        task.action_on_event_received(TaskAction.START, f"go_t{{i:02d}}")
'''


def test_task_decided_before_a_sigkill_runs_at_most_once_and_is_never_silently_lost(
    sqlite_url: str, tmp_path: Path
) -> None:
    tasks, kills = 30, 12
    runs = tmp_path / "runs.txt"
    home = tmp_path / "outbox"
    home.mkdir()
    os.environ["AIFLOW_HOME"] = str(home)
    path = home / "outbox.py"
    path.write_text(OUTBOX.format(tasks=tasks, runs=runs), encoding="utf-8")
    rng = random.Random(7)
    with Client(sqlite_url) as client:
        client.upload_workflows(str(path))
        execution_id = client.start_workflow_execution("outbox")
        pending = [f"go_t{i:02d}" for i in range(tasks)]
        rounds = 0
        # Events arrive while engines run and are killed at random moments around their dispatch.
        while rounds < kills or pending:
            proc = _spawn(sqlite_url, home, 5)
            try:
                _wait_ready(proc)
                for _ in range(min(len(pending), rng.randint(1, 3))):
                    client.send_event(pending.pop(0))
                    time.sleep(rng.uniform(0.0, 0.02))
                time.sleep(rng.uniform(0.0, 0.3))
            finally:
                _kill(proc)
            rounds += 1
        last = client.latest_offset()
    _run_to_end(sqlite_url, home, 5, last)
    with Client(sqlite_url) as client:
        executions = client.list_task_executions(execution_id)
    lines = Counter(runs.read_text(encoding="utf-8").split()) if runs.exists() else Counter()

    # Every decided start is recorded once, with the event that caused it: nothing lost, nothing repeated.
    assert sorted((te.task_name, te.sequence_number) for te in executions) == [
        (f"t{i:02d}", 1) for i in range(tasks)
    ]
    assert all(te.cause.event_key == f"go_{te.task_name}" for te in executions)
    # A task ran at most once, and each one either ran to SUCCESS or is FAILED as lost with its reason.
    assert max(lines.values(), default=0) <= 1, [name for name, n in lines.items() if n > 1]
    for te in executions:
        if te.status is TaskStatus.SUCCESS:
            assert lines[te.task_name] == 1, te
        else:
            assert te.status is TaskStatus.FAILED, (te, te.error)
            assert te.error is not None and "task lost" in te.error, te
    assert rounds >= kills
    assert sum(te.status is TaskStatus.SUCCESS for te in executions) > 0
