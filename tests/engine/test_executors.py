"""Executors with real threads and processes: stopping, timeouts, heartbeats, parallelism."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus, WorkflowStatus

LONG = """
import time
from aiflow_core.model.action import TaskAction
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator

def spin():
    while True:
        time.sleep(0.05)

def freeze():
    import os, signal
    os.kill(os.getpid(), signal.SIGSTOP)

def noop():
    return None

with Workflow(name="long") as w:
    bash = BashOperator(name="bash", bash_command="echo $$ > {pid_file}; exec sleep 1000")
    python = PythonOperator(name="python", python_callable=spin)

with Workflow(name="timeouts") as t:
    BashOperator(name="bash", bash_command="sleep 1000", execution_timeout=1)
    PythonOperator(name="python", python_callable=spin, execution_timeout=1)

with Workflow(name="frozen") as f:
    frozen = PythonOperator(name="frozen", python_callable=freeze)
    after = PythonOperator(name="after", python_callable=noop)
    after.action_on_task_status(TaskAction.START, {{frozen: TaskStatus.FAILED}})
"""


def _engine(tmp_path: Path, executor: str) -> Engine:
    return Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor=executor, parallelism=4)


def _wait(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_stop_really_ends_the_work(tmp_path: Path, executor: str) -> None:
    pid_file = tmp_path / "bash.pid"
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(LONG.format(pid_file=pid_file))
    with _engine(tmp_path, executor) as engine:
        engine.upload_workflows(str(workflow_file))
        execution = engine.start_workflow_execution("long")
        _wait(lambda: {t.status for t in engine.list_task_executions(execution)} == {TaskStatus.RUNNING})
        _wait(lambda: pid_file.exists() and pid_file.read_text().strip() != "")
        bash_pid = int(pid_file.read_text())
        engine.stop_workflow_execution(execution)
        _wait(lambda: all(t.status.is_final for t in engine.list_task_executions(execution)))
        assert {t.status for t in engine.list_task_executions(execution)} == {TaskStatus.STOPPED}
        assert engine.get_workflow_execution(execution).status is WorkflowStatus.STOPPED  # type: ignore[union-attr]
        _wait(lambda: not _alive(bash_pid), timeout=10)


SHUTDOWN = """
import time
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def spin():
    while True:
        time.sleep(0.05)

with Workflow(name="batch") as b:
    PythonOperator(name="spin", python_callable=spin)

with Workflow(name="streaming") as s:
    PythonOperator(name="spin", python_callable=spin)
    on_event = PythonOperator(name="on_event", python_callable=spin)
    on_event.action_on_event_received(TaskAction.START, "go")
"""


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_engine_shutdown_stops_tasks_and_never_reports_their_work_done(tmp_path: Path, executor: str) -> None:
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(SHUTDOWN)
    with _engine(tmp_path, executor) as engine:
        engine.upload_workflows(str(workflow_file))
        batch, streaming = engine.start_workflow_execution("batch"), engine.start_workflow_execution("streaming")
        _wait(lambda: [t.status for e in (batch, streaming) for t in engine.list_task_executions(e)]
              == [TaskStatus.RUNNING, TaskStatus.RUNNING])
    with _engine(tmp_path, executor) as engine:
        for execution in (batch, streaming):
            (spin,) = engine.list_task_executions(execution)
            assert spin.status is TaskStatus.STOPPED
            assert "shut down" in (spin.error or "")
        # The batch execution did not complete its work: STOPPED, not SUCCESS.
        assert engine.get_workflow_execution(batch).status is WorkflowStatus.STOPPED  # type: ignore[union-attr]
        # An execution that events can still drive goes on under the next engine.
        assert engine.get_workflow_execution(streaming).status is WorkflowStatus.RUNNING  # type: ignore[union-attr]
        engine.send_event("go")
        _wait(lambda: [t.task_name for t in engine.list_task_executions(streaming)] == ["spin", "on_event"])
        engine.stop_workflow_execution(streaming)
        engine.wait_for_workflow_execution(streaming, timeout=30)


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_engine_shutdown_stops_tasks_still_waiting_for_a_worker(tmp_path: Path, executor: str) -> None:
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(SHUTDOWN)
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor=executor, parallelism=1) as engine:
        engine.upload_workflows(str(workflow_file))
        executions = [engine.start_workflow_execution("batch") for _ in range(2)]
        # One worker: one spin runs, the other waits for it.
        _wait(lambda: sorted(t.status.value for e in executions for t in engine.list_task_executions(e))
              == ["QUEUED", "RUNNING"])
    with _engine(tmp_path, executor) as engine:
        runs = [t for e in executions for t in engine.list_task_executions(e)]
        assert [t.status for t in runs] == [TaskStatus.STOPPED, TaskStatus.STOPPED]
        assert all("shut down" in (t.error or "") for t in runs)
        assert [engine.get_workflow_execution(e).status for e in executions] == [  # type: ignore[union-attr]
            WorkflowStatus.STOPPED, WorkflowStatus.STOPPED
        ]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_execution_timeout_fails_the_task(tmp_path: Path, executor: str) -> None:
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(LONG.format(pid_file=tmp_path / "unused"))
    with _engine(tmp_path, executor) as engine:
        engine.upload_workflows(str(workflow_file))
        execution = engine.start_workflow_execution("timeouts")
        final = engine.wait_for_workflow_execution(execution, timeout=30)
        assert final.status is WorkflowStatus.FAILED
        tasks = engine.list_task_executions(execution)
        assert {t.status for t in tasks} == {TaskStatus.FAILED}
        assert all("timed out" in (t.error or "") for t in tasks), [t.error for t in tasks]


def test_missed_heartbeats_fail_the_task_and_rules_see_it(tmp_path: Path, aiflow_home: Path) -> None:
    (aiflow_home / "aiflow.yaml").write_text(
        "task_heartbeat_interval: 0.2\ntask_heartbeat_timeout: 1.5\ntask_executor_heartbeat_check_interval: 0.2\n"
    )
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(LONG.format(pid_file=tmp_path / "unused"))
    with _engine(tmp_path, "process") as engine:
        engine.upload_workflows(str(workflow_file))
        execution = engine.start_workflow_execution("frozen")
        final = engine.wait_for_workflow_execution(execution, timeout=30)
        tasks = {t.task_name: t for t in engine.list_task_executions(execution)}
        assert tasks["frozen"].status is TaskStatus.FAILED
        assert "no heartbeat" in (tasks["frozen"].error or "")
        assert tasks["after"].status is TaskStatus.SUCCESS
        assert tasks["after"].cause.event_key == "aiflow.task_status/frozen/frozen"
        assert final.status is WorkflowStatus.FAILED
        kinds = [e.kind.value for e in engine.list_events(include_internal=True) if e.value == "FAILED"]
        assert kinds == ["TASK_STATUS"]


def test_process_executor_runs_tasks_in_parallel_up_to_the_limit(tmp_path: Path) -> None:
    source = "\n".join(
        [
            "import os, time",
            "from aiflow_core.model.workflow import Workflow",
            "from aiflow_core.operators.python import PythonOperator",
            f"OUT = {str(tmp_path / 'spans')!r}",
            "def work(i):",
            "    start = time.time(); time.sleep(0.5)",
            "    open(f'{OUT}/{i}', 'w').write(f'{start} {time.time()} {os.getpid()}')",
            "with Workflow(name='fan') as w:",
            "    for i in range(8):",
            "        PythonOperator(name=f't{i}', python_callable=work, op_args=[i])",
        ]
    )
    (tmp_path / "spans").mkdir()
    (tmp_path / "wf.py").write_text(source)
    with _engine(tmp_path, "process") as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("fan")
        assert engine.wait_for_workflow_execution(execution, timeout=60).status is WorkflowStatus.SUCCESS
    spans = [tuple(map(float, p.read_text().split())) for p in (tmp_path / "spans").iterdir()]
    events = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert 2 <= peak <= 4
    assert len({int(pid) for _, _, pid in spans}) <= 4


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_stop_reaches_only_the_attempt_it_names(tmp_path: Path, executor: str) -> None:
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(LONG.format(pid_file=tmp_path / "pid"))
    with _engine(tmp_path, executor) as engine:
        engine.upload_workflows(str(workflow_file))
        execution = engine.start_workflow_execution("long")
        _wait(lambda: {t.status for t in engine.list_task_executions(execution)} == {TaskStatus.RUNNING})
        python = next(t for t in engine.list_task_executions(execution) if t.task_name == "python")
        epoch = engine.leadership.epoch
        assert epoch is not None
        engine.executor.stop_task(python.id, epoch + 1)  # names an attempt that does not run here
        running = getattr(engine.executor, "_busy" if executor == "process" else "_running")[python.id]
        assert running.stopping is False  # decided in the call itself: nothing was asked of the attempt
        engine.executor.stop_task(python.id, epoch)  # the one that runs
        assert running.stopping is True
        _wait(lambda: engine.get_task_execution(python.id).status is TaskStatus.STOPPED)
        events = [e for e in engine.list_events(include_internal=True) if e.value == "STOPPED"]
        assert len(events) == 1
        engine.stop_workflow_execution(execution)
