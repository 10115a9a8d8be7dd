"""What starts with an execution and when it ends, as AIFlow's scheduler decides it.

Every task without a START rule starts with the execution (RESTART- and
STOP-only tasks too). An execution with no periodic task ends once every task
ran and none is alive or retrying: FAILED if a task's latest run failed,
STOPPED if a user stopped one, else SUCCESS. Tasks that never ran and can never
start any more do not hold it open; a stop by the workflow's own rule is not a
user's stop.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus, WorkflowRule, WorkflowStatus
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.testing import WorkflowTester

HEADER = """
import time
from aiflow_core.model.action import TaskAction
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator

def ok():
    return 1

def boom():
    raise RuntimeError("boom")

def forever():
    while True:
        time.sleep(0.02)
"""


@pytest.fixture(params=["inline", "thread", "process"])
def tester(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkflowTester]:
    with WorkflowTester(tmp_path / "t", executor=request.param) as t:
        yield t


def _status(t: WorkflowTester, execution: int) -> WorkflowStatus:
    meta = t.engine.get_workflow_execution(execution)
    assert meta is not None
    return meta.status


def _runs(t: WorkflowTester, execution: int) -> list[tuple[str, int, str]]:
    return [(r.task, r.sequence, r.status.value) for r in t.history(execution)]


def test_restart_and_stop_only_tasks_start_with_the_execution(tester: WorkflowTester) -> None:
    tester.upload_source(HEADER + """
with Workflow(name="w") as w:
    started = PythonOperator(name="started", python_callable=ok)
    restarted = PythonOperator(name="restarted", python_callable=ok)
    stoppable = PythonOperator(name="stoppable", python_callable=ok)
    waiting = PythonOperator(name="waiting", python_callable=ok)
    restarted.action_on_event_received(TaskAction.RESTART, "again")
    stoppable.action_on_event_received(TaskAction.STOP, "halt")
    waiting.action_on_event_received(TaskAction.START, "go")
""")
    execution = tester.start("w")
    ran = {r.task: r.cause for r in tester.history(execution)}
    assert set(ran) == {"started", "restarted", "stoppable"}
    assert {cause for cause in ran.values()} == {"WORKFLOW_START"}
    # "waiting" can still be started by an event from outside: the execution waits for it.
    assert _status(tester, execution) is WorkflowStatus.RUNNING
    tester.send("go")
    assert _status(tester, execution) is WorkflowStatus.SUCCESS
    # Ended: later events no longer reach it.
    tester.send("again")
    tester.send("go")
    assert len(tester.history(execution)) == 4


def test_quickstart_shape_ends_success_by_itself(tester: WorkflowTester) -> None:
    tester.upload_source(HEADER + """
with Workflow(name="w") as w:
    t1 = PythonOperator(name="t1", python_callable=ok)
    t2 = PythonOperator(name="t2", python_callable=ok)
    t3 = PythonOperator(name="t3", python_callable=ok)
    t4 = PythonOperator(name="t4", python_callable=ok)
    t3.start_after([t1, t2])
    t4.action_on_event_received(TaskAction.START, "key")
""")
    execution = tester.start("w")
    assert _status(tester, execution) is WorkflowStatus.RUNNING
    tester.send("key")
    assert sorted(_runs(tester, execution)) == [
        ("t1", 1, "SUCCESS"), ("t2", 1, "SUCCESS"), ("t3", 1, "SUCCESS"), ("t4", 1, "SUCCESS"),
    ]
    assert _status(tester, execution) is WorkflowStatus.SUCCESS


def test_failed_latest_run_fails_the_execution_and_unreachable_tasks_do_not_hold_it(tester: WorkflowTester) -> None:
    tester.upload_source(HEADER + """
with Workflow(name="w") as w:
    first = PythonOperator(name="first", python_callable=boom)
    second = PythonOperator(name="second", python_callable=ok)
    third = PythonOperator(name="third", python_callable=ok)
    second.start_after(first)
    third.start_after(second)
""")
    execution = tester.start("w")
    # second and third wait for statuses that can no longer come (AIFlow #367).
    assert _runs(tester, execution) == [("first", 1, "FAILED")]
    assert _status(tester, execution) is WorkflowStatus.FAILED


def test_a_later_success_replaces_a_failed_run(tester: WorkflowTester) -> None:
    tester.upload_source(HEADER + """
import os

def flaky():
    marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tried")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first try fails")

with Workflow(name="w") as w:
    job = PythonOperator(name="job", python_callable=flaky, retries=1, retry_delay=0)
""")
    execution = tester.start("w")
    runs = tester.history(execution)
    assert [(r.sequence, r.attempt, r.status.value) for r in runs][-1] == (1, 2, "SUCCESS")
    assert _status(tester, execution) is WorkflowStatus.SUCCESS


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_stop_by_a_user_ends_it_stopped_a_stop_by_a_rule_does_not(executor: str, tmp_path: Path) -> None:
    workflow_file = tmp_path / "streams.py"
    workflow_file.write_text(HEADER + """
with Workflow(name="by_rule") as w:
    stream = BashOperator(name="stream", bash_command="sleep 60")
    stream.action_on_event_received(TaskAction.STOP, "halt")

with Workflow(name="by_user") as w2:
    stream = BashOperator(name="stream", bash_command="sleep 60")
""")
    with Engine(db_url=f"sqlite:///{tmp_path / 'db'}", blob=str(tmp_path / "blob"), executor=executor) as engine:
        engine.upload_workflows(str(workflow_file))
        by_rule = engine.start_workflow_execution("by_rule")
        by_user = engine.start_workflow_execution("by_user")
        for execution in (by_rule, by_user):
            _wait(lambda e=execution: [t.status for t in engine.list_task_executions(e)] == [TaskStatus.RUNNING])
        engine.send_event("halt")
        ended = engine.wait_for_workflow_execution(by_rule, timeout=60)
        [run] = engine.list_task_executions(by_rule)
        assert (run.status, ended.status) == (TaskStatus.STOPPED, WorkflowStatus.SUCCESS)
        assert "stopped by its workflow" in (run.error or "")

        engine.stop_task_execution(by_user, "stream")
        ended = engine.wait_for_workflow_execution(by_user, timeout=60)
        [run] = engine.list_task_executions(by_user)
        assert (run.status, ended.status) == (TaskStatus.STOPPED, WorkflowStatus.STOPPED)
        assert run.error == "stopped by a user"


def _wait(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_periodic_and_keep_open_executions_stay_running(tmp_path: Path) -> None:
    with WorkflowTester(tmp_path / "t") as tester:
        tester.upload_source(HEADER + """
with Workflow(name="periodic") as w:
    PythonOperator(name="tick", python_callable=ok, periodic_expression="interval@0 1 0 0")

with Workflow(name="open", keep_open=True) as w2:
    job = PythonOperator(name="job", python_callable=ok)
    job.action_on_event_received(TaskAction.RESTART, "again")
""")
        periodic = tester.start("periodic")
        kept = tester.start("open")
        tester.advance(dt.timedelta(hours=3))
        assert len(tester.history(periodic)) == 4
        assert _status(tester, periodic) is WorkflowStatus.RUNNING
        assert _runs(tester, kept) == [("job", 1, "SUCCESS")]
        assert _status(tester, kept) is WorkflowStatus.RUNNING
        tester.send("again")
        assert _runs(tester, kept) == [("job", 1, "SUCCESS"), ("job", 2, "SUCCESS")]
        tester.stop(kept)
        assert _status(tester, kept) is WorkflowStatus.STOPPED


def test_keep_open_must_be_a_bool() -> None:
    from aiflow_core import Workflow

    with pytest.raises(ValueError, match="keep_open"):
        Workflow(name="w", keep_open="yes")  # type: ignore[arg-type]


def test_a_workflows_triggers_act_as_one(tmp_path: Path) -> None:
    with WorkflowTester(tmp_path / "t") as tester:
        tester.upload_source(HEADER + """
with Workflow(name="a") as a:
    PythonOperator(name="t", python_callable=ok)

with Workflow(name="b") as b:
    PythonOperator(name="t", python_callable=ok)
""")
        engine = tester.engine
        first = engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("go")), "a")
        engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("go")), "a")
        engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("go")), "b")
        tester.send("go")
        assert [len(tester.executions(name)) for name in ("a", "b")] == [1, 1]
        [execution] = tester.executions("a")
        assert execution.cause is not None and execution.cause.kind.value == "TRIGGER"
        tester.send("go")
        assert [len(tester.executions(name)) for name in ("a", "b")] == [2, 2]
        # With the first trigger paused the second one still starts the workflow, once.
        engine.pause_workflow_trigger(first.id)
        tester.send("go")
        assert [len(tester.executions(name)) for name in ("a", "b")] == [3, 3]
        assert {e.status for e in tester.executions("a")} == {WorkflowStatus.SUCCESS}
        assert all(s is TaskStatus.SUCCESS for e in tester.executions("b") for s in tester.statuses(e.id).values())
