"""Schedules, periodic tasks and retries in simulated time (the pytest plugin's ``aiflow`` fixture)."""

from __future__ import annotations

import datetime as dt

import pytest

from aiflow_core import TaskStatus, WorkflowStatus
from aiflow_core.errors import InvalidExpressionError, NotFoundError
from aiflow_core.testing import WorkflowTester

ONE_TASK = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="hourly") as w:
    PythonOperator(name="work", python_callable=work)
"""


def test_hourly_cron_over_three_simulated_days_runs_72_times(aiflow: WorkflowTester) -> None:
    aiflow.upload_source(ONE_TASK)
    aiflow.engine.add_workflow_schedule("cron@0 * * * *", "hourly")
    aiflow.advance(dt.timedelta(days=3))
    executions = aiflow.executions("hourly")
    assert len(executions) == 72
    assert all(e.status is WorkflowStatus.SUCCESS for e in executions)
    assert {e.execution_type.value for e in executions} == {"PERIODIC"}
    begins = [e.begin_date for e in executions]
    assert begins == sorted(begins) and len(set(begins)) == 72
    assert all(b is not None and b.minute == 0 and b.second == 0 for b in begins)


def test_daily_cron_in_a_dst_zone_runs_once_per_day_across_both_transitions(tmp_path) -> None:
    import os

    os.environ["AIFLOW_TIMEZONE"] = "Europe/Berlin"
    try:
        with WorkflowTester(tmp_path / "t", start="2024-03-25T00:00:00Z") as tester:
            tester.upload_source(ONE_TASK)
            tester.engine.add_workflow_schedule("cron@30 2 * * *", "hourly")
            tester.advance(dt.timedelta(days=220))
            executions = tester.executions("hourly")
    finally:
        del os.environ["AIFLOW_TIMEZONE"]
    from zoneinfo import ZoneInfo

    local_days = [e.begin_date.astimezone(ZoneInfo("Europe/Berlin")).date() for e in executions]  # type: ignore[union-attr]
    assert len(local_days) == len(set(local_days)) == 220
    assert local_days[0] == dt.date(2024, 3, 25)
    # Both DST changes (31 March and 27 October 2024) are inside the range.
    assert dt.date(2024, 3, 31) in local_days and dt.date(2024, 10, 27) in local_days


def _engine(tmp_path, clock):  # type: ignore[no-untyped-def]
    from aiflow_core import Engine

    return Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor="inline", clock=clock,
                  log_dir=tmp_path / "logs", blob=str(tmp_path / "blob"))


def test_a_stepped_engine_runs_every_fire_a_fake_clock_jumped_over(tmp_path) -> None:
    from aiflow_core.testing import FakeClock

    clock = FakeClock("2024-01-01T00:00:00Z")
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(ONE_TASK)
    engine = _engine(tmp_path, clock)
    try:
        engine.upload_workflows(str(workflow_file))
        engine.add_workflow_schedule("cron@0 * * * *", "hourly")
        clock.advance(dt.timedelta(days=3))
        engine.run_until_idle()
        begins = [e.begin_date for e in engine.list_workflow_executions("hourly")]
        assert begins == [dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(hours=h)
                          for h in range(1, 73)]
        assert engine.now() == clock.now()
    finally:
        engine.close()


@pytest.mark.parametrize(("policy", "runs"), [("coalesce", 1), ("catch_up", 5), ("skip", 0)])
def test_misfire_policy_decides_the_fires_missed_while_no_engine_ran(tmp_path, policy: str, runs: int) -> None:
    from aiflow_core.testing import FakeClock

    clock = FakeClock("2024-01-01T00:00:00Z")
    workflow_file = tmp_path / "wf.py"
    workflow_file.write_text(ONE_TASK)
    engine = _engine(tmp_path, clock)
    engine.upload_workflows(str(workflow_file))
    engine.add_workflow_schedule("cron@0 * * * *", "hourly", misfire_policy=policy)
    engine.run_until_idle()
    engine.close()
    clock.advance(dt.timedelta(hours=5, minutes=30))  # no engine runs: the fires of 01:00 to 05:00 are missed
    engine = _engine(tmp_path, clock)
    try:
        engine.run_until_idle()
        missed = [e.begin_date for e in engine.list_workflow_executions("hourly")]
        assert len(missed) == runs
        assert all(b == clock.now() for b in missed)
        clock.advance(dt.timedelta(hours=1))  # the engine runs again: the 06:00 fire is not missed
        engine.run_until_idle()
        assert engine.list_workflow_executions("hourly")[-1].begin_date == dt.datetime(
            2024, 1, 1, 6, tzinfo=dt.timezone.utc)
        assert len(engine.list_workflow_executions("hourly")) == runs + 1
    finally:
        engine.close()


def test_interval_schedule_fires_at_creation_plus_multiples(aiflow: WorkflowTester) -> None:
    aiflow.upload_source(ONE_TASK)
    created = aiflow.clock.now()
    aiflow.engine.add_workflow_schedule("interval@0 0 10 0", "hourly")
    aiflow.advance(dt.timedelta(minutes=35))
    begins = [e.begin_date for e in aiflow.executions("hourly")]
    assert begins == [created + dt.timedelta(minutes=10 * k) for k in (1, 2, 3)]


def test_paused_schedule_fires_nothing_and_resumes_from_the_next_due_time(aiflow: WorkflowTester) -> None:
    aiflow.upload_source(ONE_TASK)
    schedule = aiflow.engine.add_workflow_schedule("cron@0 * * * *", "hourly")
    aiflow.advance(dt.timedelta(hours=2))
    assert len(aiflow.executions("hourly")) == 2
    aiflow.engine.pause_workflow_schedule(schedule.id)
    aiflow.advance(dt.timedelta(hours=5, minutes=30))
    assert len(aiflow.executions("hourly")) == 2
    aiflow.engine.resume_workflow_schedule(schedule.id)
    aiflow.advance(dt.timedelta(hours=1))
    executions = aiflow.executions("hourly")
    assert len(executions) == 3
    assert executions[-1].begin_date == dt.datetime(2024, 1, 1, 8, tzinfo=dt.timezone.utc)


def test_schedule_bad_input(aiflow: WorkflowTester) -> None:
    aiflow.upload_source(ONE_TASK)
    with pytest.raises(InvalidExpressionError, match="interval@0 0 10 0"):
        aiflow.engine.add_workflow_schedule("interval0 0 10 0", "hourly")
    with pytest.raises(InvalidExpressionError, match="61"):
        aiflow.engine.add_workflow_schedule("cron@61 * * * *", "hourly")
    with pytest.raises(NotFoundError, match="4242"):
        aiflow.engine.pause_workflow_schedule(4242)
    schedule = aiflow.engine.add_workflow_schedule("cron@0 * * * *", "hourly")
    aiflow.engine.delete_workflow_schedule(schedule.id)
    with pytest.raises(NotFoundError, match=str(schedule.id)):
        aiflow.engine.pause_workflow_schedule(schedule.id)
    with pytest.raises(NotFoundError, match="nope"):
        aiflow.engine.add_workflow_schedule("cron@0 * * * *", "nope")


PERIODIC = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="periodic_task_example") as workflow:
    task1 = PythonOperator(name="task_1", python_callable=work, periodic_expression="cron@*/1 * * * *")
    task2 = PythonOperator(name="task_2", python_callable=work, periodic_expression="interval@0 0 1 0")
    task3 = PythonOperator(name="task_3", python_callable=work)
    task3.start_after([task1])
"""


def test_periodic_tasks_rerun_on_each_fire_and_downstream_follows(aiflow: WorkflowTester) -> None:
    aiflow.upload_source(PERIODIC)
    execution = aiflow.start("periodic_task_example")
    aiflow.advance(dt.timedelta(minutes=3))
    runs = aiflow.history(execution)
    counts = {t: sum(1 for r in runs if r.task == t) for t in ("task_1", "task_2", "task_3")}
    assert counts == {"task_1": 4, "task_2": 4, "task_3": 4}
    assert [r.cause for r in runs if r.task == "task_1"] == ["WORKFLOW_START", "PERIODIC", "PERIODIC", "PERIODIC"]
    assert {r.cause for r in runs if r.task == "task_3"} == {"RULE"}
    assert aiflow.engine.get_workflow_execution(execution).status is WorkflowStatus.RUNNING
    aiflow.stop(execution)
    assert aiflow.engine.get_workflow_execution(execution).status is WorkflowStatus.STOPPED
    aiflow.advance(dt.timedelta(minutes=5))
    assert len(aiflow.history(execution)) == len(runs)


RETRY = """
from pathlib import Path
from aiflow_core.model.action import TaskAction
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

COUNTER = Path(__file__).with_name("attempts.txt")

def flaky():
    attempts = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(attempts + 1))
    if attempts < 2:
        raise RuntimeError(f"attempt {{attempts + 1}} fails")

def noop():
    return None

with Workflow(name="retry_{retries}") as w:
    flaky_task = PythonOperator(name="flaky", python_callable=flaky, retries={retries}, retry_delay=30)
    on_failure = PythonOperator(name="on_failure", python_callable=noop)
    on_failure.action_on_task_status(TaskAction.START, {{flaky_task: TaskStatus.FAILED}})
"""


@pytest.mark.parametrize("retries", [2, 1])
def test_retries(aiflow: WorkflowTester, retries: int) -> None:
    aiflow.upload_source(RETRY.format(retries=retries))
    execution = aiflow.start(f"retry_{retries}")
    aiflow.advance(dt.timedelta(minutes=5))
    flaky = aiflow.history(execution, "flaky")
    status_events = aiflow.engine.list_events(
        key=f"aiflow.task_status/retry_{retries}/flaky", include_internal=True
    )
    values = [e.value for e in status_events]
    if retries == 2:
        assert [(r.attempt, r.status) for r in flaky] == [
            (1, TaskStatus.FAILED), (2, TaskStatus.FAILED), (3, TaskStatus.SUCCESS)
        ]
        assert {r.sequence for r in flaky} == {1}
        assert values.count("SUCCESS") == 1 and values.count("RETRYING") == 2 and values.count("FAILED") == 0
        assert aiflow.history(execution, "on_failure") == []
        assert aiflow.engine.get_workflow_execution(execution).status is WorkflowStatus.SUCCESS
    else:
        assert [(r.attempt, r.status) for r in flaky] == [(1, TaskStatus.FAILED), (2, TaskStatus.FAILED)]
        assert values.count("FAILED") == 1
        downstream = aiflow.history(execution, "on_failure")
        assert len(downstream) == 1 and downstream[0].status is TaskStatus.SUCCESS
        assert aiflow.engine.get_workflow_execution(execution).status is WorkflowStatus.FAILED
    assert "RuntimeError: attempt 1 fails" in aiflow.log(execution, "flaky")


def test_retries_due_at_once_run_in_the_same_run_until_idle(aiflow: WorkflowTester) -> None:
    # The retry timers are due the moment they are set: the engine must not call itself idle
    # before running them, although no step looked them up in the store yet.
    aiflow.upload_source(RETRY.format(retries=2).replace("retry_delay=30", "retry_delay=0"))
    execution = aiflow.start("retry_2")
    aiflow.run_until_idle()
    flaky = aiflow.history(execution, "flaky")
    assert [(r.attempt, r.status) for r in flaky] == [
        (1, TaskStatus.FAILED), (2, TaskStatus.FAILED), (3, TaskStatus.SUCCESS)
    ]
    assert aiflow.engine.get_workflow_execution(execution).status is WorkflowStatus.SUCCESS
