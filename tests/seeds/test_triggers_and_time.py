"""Workflow Triggers, Periodic Task and Workflow Schedules examples of the original documentation.

The trigger example runs its ``__main__`` part through ``aiflow_core.ops`` on
a running engine (thread and process executors). Periodic tasks and schedules
run on an inline engine driven by a fake clock, so time is simulated.
"""

from __future__ import annotations

import datetime as dt
import runpy

from aiflow_core import Engine, ops
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.meta import StartKind
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.testing import FakeClock

from .support import EXAMPLES, ExampleRunner, status_key, wait_until


def test_workflow_trigger_starts_workflow_2_on_event_of_workflow_1(
    default_client: Engine, runner: ExampleRunner
) -> None:
    engine = default_client
    runpy.run_path(str(EXAMPLES / "workflow_triggers.py"), run_name="__main__")

    [first] = engine.list_workflow_executions("event_trigger_workflow_1")
    assert engine.wait_for_workflow_execution(first.id, timeout=60).status is WorkflowStatus.SUCCESS
    assert runner.history(first.id) == [("event_task", 1, TaskStatus.SUCCESS)], runner.errors(first.id)

    [second] = wait_until(lambda: engine.list_workflow_executions("event_trigger_workflow_2"),
                          "the trigger to start event_trigger_workflow_2")
    finished = engine.wait_for_workflow_execution(second.id, timeout=60)
    assert finished.status is WorkflowStatus.SUCCESS
    assert finished.execution_type is ExecutionType.EVENT
    assert finished.cause is not None and finished.cause.kind is StartKind.TRIGGER
    [event] = engine.list_events(key="trigger_workflow")
    assert finished.cause.event_offset == event.offset
    assert event.workflow_execution_id == first.id
    assert runner.history(second.id) == [("task1", 1, TaskStatus.SUCCESS)], runner.errors(second.id)
    assert "I am 1st task." in runner.log(runner.runs(second.id)[0])

    [trigger] = ops.list_workflow_triggers("event_trigger_workflow_2")
    assert not trigger.is_paused
    # Triggers belong to workflow 2 only: workflow 1 ran once, by hand.
    assert len(engine.list_workflow_executions("event_trigger_workflow_1")) == 1


def test_periodic_task_example(fake_engine: tuple[Engine, FakeClock]) -> None:
    engine, clock = fake_engine
    runner = ExampleRunner(engine)
    runner.upload("periodic_task.py")
    wid = engine.start_workflow_execution("periodic_task_example")
    engine.run_until_idle()
    rounds = 4
    for _ in range(rounds):
        clock.advance(dt.timedelta(minutes=1))
        engine.run_until_idle()

    runs = runner.runs(wid)
    assert all(te.status is TaskStatus.SUCCESS for te in runs)
    for task in ("task_1", "task_2", "task_3"):
        seqs = [te.sequence_number for te in runs if te.task_name == task]
        assert seqs == list(range(1, rounds + 2)), f"{task}: {seqs}"
    task1 = runner.runs(wid, "task_1")
    task2 = runner.runs(wid, "task_2")
    task3 = runner.runs(wid, "task_3")
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    minutes = [start + dt.timedelta(minutes=k) for k in range(rounds + 1)]
    # Both periodic tasks run at the start, then once every simulated minute.
    assert [te.begin_date for te in task1] == minutes
    assert [te.begin_date for te in task2] == minutes
    assert [te.cause.kind for te in task1] == [StartKind.WORKFLOW_START] + [StartKind.PERIODIC] * rounds
    assert [te.cause.kind for te in task2] == [StartKind.WORKFLOW_START] + [StartKind.PERIODIC] * rounds
    # task_3 runs after each run of task_1, started by its SUCCESS.
    for upstream, downstream in zip(task1, task3, strict=True):
        assert downstream.cause.kind is StartKind.RULE
        assert downstream.cause.event_key == status_key("periodic_task_example", "task_1")
        assert upstream.end_date is not None and downstream.begin_date is not None
        assert downstream.begin_date >= upstream.end_date
    assert "I am the 3rd task" in runner.log(task3[-1])

    # Periodic tasks keep the execution running until it is stopped; then they stop too.
    assert runner.status(wid) is WorkflowStatus.RUNNING
    engine.stop_workflow_execution(wid)
    engine.run_until_idle()
    assert runner.status(wid) is WorkflowStatus.STOPPED
    before = len(runner.runs(wid))
    clock.advance(dt.timedelta(minutes=5))
    engine.run_until_idle()
    assert len(runner.runs(wid)) == before


def test_workflow_schedules_through_python_api(fake_engine: tuple[Engine, FakeClock]) -> None:
    engine, clock = fake_engine
    ops.set_default_client(engine)
    try:
        ops.upload_workflows(str(EXAMPLES / "status_rules_start_after.py"))
        hourly = ops.add_workflow_schedule("cron@0 * * * *", "my_workflow")
        every_10 = ops.add_workflow_schedule("interval@0 0 10 0", "my_workflow")
        assert [s.expression for s in ops.list_workflow_schedules("my_workflow")] == [
            "cron@0 * * * *", "interval@0 0 10 0",
        ]

        def advance(minutes: int) -> None:
            for _ in range(minutes // 10):
                clock.advance(dt.timedelta(minutes=10))
                engine.run_until_idle()

        def causes() -> list[tuple[str, str | None]]:
            executions = ops.list_workflow_executions("my_workflow")
            assert all(e.status is WorkflowStatus.SUCCESS for e in executions)
            assert all(e.execution_type is ExecutionType.PERIODIC for e in executions)
            return [(f"{e.begin_date:%H:%M}", e.cause.event_key if e.cause else None) for e in executions]

        advance(60)
        interval, cron = "interval@0 0 10 0", "cron@0 * * * *"
        assert causes() == [
            ("00:10", interval), ("00:20", interval), ("00:30", interval), ("00:40", interval),
            ("00:50", interval), ("01:00", cron), ("01:00", interval),
        ]
        for execution in ops.list_workflow_executions("my_workflow"):
            history = [(te.task_name, te.status) for te in ops.list_task_executions(execution.id)]
            assert history == [("task_1", TaskStatus.SUCCESS), ("task_2", TaskStatus.SUCCESS)]

        # Pausing stops the fires, resuming brings them back, deleting removes the schedule.
        ops.pause_workflow_schedule(every_10.id)
        paused = ops.get_workflow_schedule(every_10.id)
        assert paused is not None and paused.is_paused
        advance(30)
        assert len(causes()) == 7
        ops.resume_workflow_schedule(every_10.id)
        advance(20)
        assert causes()[7:] == [("01:40", interval), ("01:50", interval)]
        ops.delete_workflow_schedule(every_10.id)
        advance(10)
        assert causes()[9:] == [("02:00", cron)]
        assert [s.id for s in ops.list_workflow_schedules("my_workflow")] == [hourly.id]
    finally:
        ops.set_default_client(None)
