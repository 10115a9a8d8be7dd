"""A stopped run ends before its task runs again, and a closed engine has recorded how its runs ended."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

from aiflow_core import Client, Engine, TaskStatus
from aiflow_core.executors.process import ProcessExecutor
from aiflow_core.executors.thread import ThreadExecutor

STUBBORN = '''
import os
import time
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

LOG = {log!r}

def note(what):
    with open(LOG, "a") as f:
        f.write(f"{{what}} {{time.time()}}\\n")

def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.01)

def stubborn():
    """Runs until its release file exists, whatever stop requests it gets."""
    release = None
    while True:
        try:
            if release is None:
                starts = open(LOG).read().count("start") if os.path.exists(LOG) else 0
                release = f"{{LOG}}.release{{starts}}"
                note("start")
            wait_for(release)
            break
        except BaseException:
            pass
    note("end")

with Workflow(name="stubborn") as w:
    task = PythonOperator(name="stubborn", python_callable=stubborn)
    task.action_on_event_received(TaskAction.START, "go")
    task.action_on_event_received(TaskAction.RESTART, "again")
'''


def _wait(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def _statuses(engine: Engine, execution: int) -> list[TaskStatus]:
    return [t.status for t in sorted(engine.list_task_executions(execution), key=lambda t: t.sequence_number)]


def _notes(log: Path) -> list[tuple[str, float]]:
    if not log.exists():
        return []
    return [(what, float(at)) for what, at in (line.split() for line in log.read_text().splitlines())]


def test_a_restarted_thread_task_that_ignores_the_stop_never_overlaps_its_next_run(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    (tmp_path / "wf.py").write_text(STUBBORN.format(log=str(log)))
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor="thread", parallelism=4) as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("stubborn")

        statuses = functools.partial(_statuses, engine, execution)
        engine.send_event("go")
        _wait(lambda: statuses() == [TaskStatus.RUNNING] and [w for w, _ in _notes(log)] == ["start"])
        engine.send_event("again")
        _wait(lambda: statuses() == [TaskStatus.STOPPING, TaskStatus.QUEUED])
        # A second restart while the first run still runs: the waiting run is stopped before it ever starts.
        engine.send_event("again")
        _wait(lambda: statuses() == [TaskStatus.STOPPING, TaskStatus.STOPPED, TaskStatus.QUEUED])
        time.sleep(0.5)  # free threads wait: a run started too early would show now
        assert statuses() == [TaskStatus.STOPPING, TaskStatus.STOPPED, TaskStatus.QUEUED]
        assert [w for w, _ in _notes(log)] == ["start"]

        (tmp_path / "runs.log.release0").touch()
        _wait(lambda: statuses()[0] is TaskStatus.STOPPED)
        # STOPPED only once the first run's thread really ended.
        assert [w for w, _ in _notes(log)][:2] == ["start", "end"]
        _wait(lambda: statuses() == [TaskStatus.STOPPED, TaskStatus.STOPPED, TaskStatus.RUNNING])
        (tmp_path / "runs.log.release1").touch()
        _wait(lambda: statuses() == [TaskStatus.STOPPED, TaskStatus.STOPPED, TaskStatus.SUCCESS])
        runs = sorted(engine.list_task_executions(execution), key=lambda t: t.sequence_number)
    notes = _notes(log)
    assert [w for w, _ in notes] == ["start", "end", "start", "end"]
    assert [at for _, at in notes] == sorted(at for _, at in notes)
    assert not Path(runs[1].log_path).exists()  # the run stopped while it waited never started


LONG = """
import time
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def spin():
    while True:
        time.sleep(0.05)

with Workflow(name="long") as w:
    PythonOperator(name="spin", python_callable=spin)
"""


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_task_stopped_just_before_the_engine_closes_is_recorded_stopped(tmp_path: Path, executor: str) -> None:
    (tmp_path / "wf.py").write_text(LONG)
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with Client(db_url) as client:
        client.upload_workflows(str(tmp_path / "wf.py"))
    for attempt in range(8):
        with Engine(db_url=db_url, executor=executor, parallelism=2) as engine:
            execution = engine.start_workflow_execution("long")
            statuses = functools.partial(_statuses, engine, execution)
            _wait(lambda: statuses() == [TaskStatus.RUNNING])  # noqa: B023 - called before the loop moves on
            engine.stop_task_execution(execution, "spin")
            if attempt % 2:  # half the time the stop has reached the worker when the close begins
                _wait(lambda: statuses() != [TaskStatus.RUNNING])  # noqa: B023
        # A client, not an engine: an engine would settle what the previous one left unsettled.
        with Client(db_url) as client:
            (spin,) = client.list_task_executions(execution)
        assert spin.status is TaskStatus.STOPPED, (attempt, spin.status, spin.error)


def test_closing_a_thread_engine_gives_up_on_a_task_that_ignores_the_stop_after_the_grace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "runs.log"
    (tmp_path / "wf.py").write_text(STUBBORN.format(log=str(log)))
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    try:
        with Engine(db_url=db_url, executor=ThreadExecutor(parallelism=2, grace=0.2)) as engine:
            engine.upload_workflows(str(tmp_path / "wf.py"))
            execution = engine.start_workflow_execution("stubborn")
            engine.send_event("go")
            _wait(lambda: [w for w, _ in _notes(log)] == ["start"])
        # The close returned while the task's thread still runs, and says so.
        assert [w for w, _ in _notes(log)] == ["start"]
        assert "stubborn.stubborn" in caplog.text and "runs on" in caplog.text
        with Client(db_url) as client:
            (run,) = client.list_task_executions(execution)
        assert run.status is TaskStatus.STOPPED
    finally:
        (tmp_path / "runs.log.release0").touch()
    _wait(lambda: [w for w, _ in _notes(log)] == ["start", "end"])


DEAF = '''
import os
import signal
import time
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

LOG = {log!r}

def deaf():
    """Ignores SIGTERM: only the SIGKILL after the grace ends it. Notes whether the previous run still lives."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    previous = open(LOG).read().split()[-1] if os.path.exists(LOG) else None
    alive = False
    if previous is not None:
        try:
            os.kill(int(previous), 0)
            alive = True
        except ProcessLookupError:
            pass
    with open(LOG, "a") as f:
        f.write(f"{{alive}} {{os.getpid()}}\\n")
    while True:
        time.sleep(0.05)

with Workflow(name="deaf") as w:
    task = PythonOperator(name="deaf", python_callable=deaf)
    task.action_on_event_received(TaskAction.START, "go")
    task.action_on_event_received(TaskAction.RESTART, "again")
'''


def test_a_restarted_process_task_that_ignores_sigterm_is_killed_before_its_next_run_starts(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    (tmp_path / "wf.py").write_text(DEAF.format(log=str(log)))
    executor = ProcessExecutor(parallelism=2, grace=1.0)
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor=executor) as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("deaf")
        statuses = functools.partial(_statuses, engine, execution)
        engine.send_event("go")
        _wait(lambda: statuses() == [TaskStatus.RUNNING] and log.exists())
        engine.send_event("again")
        _wait(lambda: statuses() == [TaskStatus.STOPPED, TaskStatus.RUNNING] and len(log.read_text().split()) == 4)
        engine.stop_workflow_execution(execution)
        engine.wait_for_workflow_execution(execution, timeout=30)
    # The second run started after the first one's worker was gone.
    assert [line.split()[0] for line in log.read_text().splitlines()] == ["False", "False"]
