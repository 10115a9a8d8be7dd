"""Heartbeat timeouts are judged on the database's clock: an engine whose clock jumps fails only silent tasks.

The engine's clock is the real one shifted by an offset the test changes
while tasks run, as on a host whose clock is stepped minutes ahead or behind.
A task that keeps beating must run on; a task whose worker is frozen must be
failed within the heartbeat timeout all the same.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus
from tests.faults.driver import ShiftedClock

pytestmark = pytest.mark.timeout(120)

WORKFLOW = """
import os, signal, time
from aiflow_core import PythonOperator, Workflow

def beat_on():
    while True:
        time.sleep(0.05)

def freeze():
    os.kill(os.getpid(), signal.SIGSTOP)

with Workflow(name="beats") as w:
    PythonOperator(name="healthy", python_callable=beat_on)
    PythonOperator(name="frozen", python_callable=freeze)
"""


def _until(condition: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


@pytest.mark.parametrize("jump", [300.0, -300.0], ids=["ahead", "behind"])
def test_a_clock_jump_of_the_engine_fails_only_the_silent_task(
    jump: float, tmp_path: Path, aiflow_home: Path
) -> None:
    (aiflow_home / "aiflow.yaml").write_text(
        "task_heartbeat_interval: 0.2\ntask_heartbeat_timeout: 1.5\ntask_executor_heartbeat_check_interval: 0.2\n"
    )
    (tmp_path / "wf.py").write_text(WORKFLOW)
    clock = ShiftedClock(dt.timedelta(0))
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor="process", clock=clock) as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("beats")

        def statuses() -> dict[str, TaskStatus]:
            return {te.task_name: te.status for te in engine.list_task_executions(execution)}

        _until(lambda: set(statuses().values()) == {TaskStatus.RUNNING} and len(statuses()) == 2,
               "both tasks running", 30)
        clock.offset = dt.timedelta(seconds=jump)  # the host's clock is stepped
        # Within the timeout (1.5 s) and a few checks on the database's clock, not the 300 s of the jump.
        _until(lambda: statuses()["frozen"] is TaskStatus.FAILED, "the frozen task failed", 20)
        time.sleep(1.0)  # checks after the failure: the healthy task's heartbeats are recorded
        runs = {te.task_name: te for te in engine.list_task_executions(execution)}
        assert "no heartbeat" in (runs["frozen"].error or "")
        assert runs["healthy"].status is TaskStatus.RUNNING, runs["healthy"].error
        engine.stop_workflow_execution(execution)
        assert engine.wait_for_workflow_execution(execution, timeout=30).status.is_final
