"""Ports of AIFlow's ``samples/`` (flink-extended/ai-flow), with only ``ai_flow`` renamed.

Each sample runs on a real engine and the test asserts the task history the
sample and AIFlow's documentation describe: which tasks ran, how often, why,
in which order, and how the execution ended. The quickstart sample is the
documentation's (``test_quickstart.py``); the online machine-learning sample
runs here as AIFlow wrote it, and in its tutorial form in ``test_tutorial.py``. Flink and Spark run stand-in commands
placed under a temporary ``$FLINK_HOME``/``$SPARK_HOME``; periodic samples run
on a fake clock.
"""

from __future__ import annotations

import datetime as dt
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiflow_core import Engine, ops
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.meta import StartKind
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.testing import FakeClock

from .support import EXAMPLES, TIMEOUT, ExampleRunner, assert_rule_cause, status_key, wait_until

STAND_IN = """#!/bin/sh
printf '%s\\n' "$0 $*" >> {record}
"""


@pytest.fixture
def tool_homes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """$FLINK_HOME and $SPARK_HOME with stand-in flink and spark-submit that record their command lines.

    Requested before the engine so that its workers see the environment. Yields the record file.
    """
    record = tmp_path / "commands.txt"
    for home, tool in (("FLINK_HOME", "flink"), ("SPARK_HOME", "spark-submit")):
        bin_dir = tmp_path / home.lower() / "bin"  # tmp_path/flink_home/bin, tmp_path/spark_home/bin
        bin_dir.mkdir(parents=True)
        (bin_dir / tool).write_text(STAND_IN.format(record=record))
        (bin_dir / tool).chmod(0o755)
        monkeypatch.setenv(home, str(bin_dir.parent))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    yield record


def test_flink_sample_runs_the_streaming_job_after_the_batch_job(
    tool_homes: Path, runner: ExampleRunner, tmp_path: Path
) -> None:
    engine = runner.engine
    runner.upload("sample_flink_run.py")
    wid = engine.start_workflow_execution("flink_workflow")
    execution = engine.wait_for_workflow_execution(wid, timeout=TIMEOUT)

    assert execution.status is WorkflowStatus.SUCCESS, runner.errors(wid)
    assert runner.history(wid) == [
        ("flink-batch-task", 1, TaskStatus.SUCCESS), ("flink-streaming-task", 1, TaskStatus.SUCCESS),
    ]
    batch, streaming = runner.runs(wid)
    assert batch.cause.kind is StartKind.WORKFLOW_START
    assert_rule_cause(streaming, status_key("flink_workflow", "flink-batch-task"))
    home = tmp_path / "flink_home"
    assert tool_homes.read_text().splitlines() == [
        f"{home}/bin/flink run -t yarn-per-job {home}/examples/batch/WordCount.jar",
        f"{home}/bin/flink run -t yarn-per-job {home}/examples/streaming/TopSpeedWindowing.jar",
    ]


def test_spark_sample_submits_spark_pi(tool_homes: Path, runner: ExampleRunner, tmp_path: Path) -> None:
    engine = runner.engine
    runner.upload("sample_spark_submit.py")
    wid = engine.start_workflow_execution("spark_workflow")
    execution = engine.wait_for_workflow_execution(wid, timeout=TIMEOUT)

    assert execution.status is WorkflowStatus.SUCCESS, runner.errors(wid)
    assert runner.history(wid) == [("spark-submit-example-task", 1, TaskStatus.SUCCESS)]
    home = tmp_path / "spark_home"
    assert tool_homes.read_text().splitlines() == [
        f"{home}/bin/spark-submit --master local[2] --deploy-mode client --name spark_operator_example "
        f"--class org.apache.spark.examples.SparkPi {home}/examples/jars/spark-examples_2.12-3.2.1.jar 100",
    ]


def test_event_trigger_sample_starts_workflow_2_once_from_workflow_1(
    default_client: Engine, runner: ExampleRunner
) -> None:
    engine = default_client
    runpy.run_path(str(EXAMPLES / "sample_event_trigger.py"), run_name="__main__")

    [first] = engine.list_workflow_executions("event_trigger_workflow_1")
    assert engine.wait_for_workflow_execution(first.id, timeout=TIMEOUT).status is WorkflowStatus.SUCCESS
    assert runner.history(first.id) == [("event_task", 1, TaskStatus.SUCCESS)], runner.errors(first.id)
    assert "Sending event..." in runner.log(runner.runs(first.id)[0])

    [second] = wait_until(lambda: engine.list_workflow_executions("event_trigger_workflow_2"),
                          "the trigger to start event_trigger_workflow_2")
    finished = engine.wait_for_workflow_execution(second.id, timeout=TIMEOUT)
    assert finished.status is WorkflowStatus.SUCCESS
    assert finished.execution_type is ExecutionType.EVENT
    [event] = engine.list_events(key="trigger_workflow")
    assert finished.cause is not None and finished.cause.event_offset == event.offset
    assert runner.history(second.id) == [("task1", 1, TaskStatus.SUCCESS)], runner.errors(second.id)
    runner.wait_until_processed()
    assert len(engine.list_workflow_executions("event_trigger_workflow_2")) == 1


def test_custom_condition_sample_consumes_once_100_records_are_produced(runner: ExampleRunner) -> None:
    engine = runner.engine
    runner.upload("sample_custom_condition.py")
    wid = engine.start_workflow_execution("condition_workflow")
    execution = engine.wait_for_workflow_execution(wid, timeout=TIMEOUT)

    # The consumer's success stops the three producers; stops by the workflow's own rules are
    # not a user's stop, so the execution ends SUCCESS by itself.
    assert execution.status is WorkflowStatus.SUCCESS, runner.history(wid)
    runs = {te.task_name: te for te in runner.runs(wid)}
    assert sorted(runner.history(wid)) == [
        ("consumer", 1, TaskStatus.SUCCESS), ("producer_1", 1, TaskStatus.STOPPED),
        ("producer_2", 1, TaskStatus.STOPPED), ("producer_3", 1, TaskStatus.STOPPED),
    ]
    consumer = runs["consumer"]
    assert_rule_cause(consumer, "num_event")
    assert "Got 100 records." in runner.log(consumer)
    for producer in ("producer_1", "producer_2", "producer_3"):
        assert runs[producer].cause.kind is StartKind.WORKFLOW_START
        assert "Produced" in runner.log(runs[producer])
    # The consumer started on the event that brought the records to 100, not before.
    records = [(e.offset, int(e.value or 0)) for e in engine.list_events(key="num_event")]
    offset = consumer.cause.event_offset
    assert offset is not None
    assert sum(n for o, n in records if o < offset) < 100 <= sum(n for o, n in records if o <= offset)


def test_periodic_task_sample_runs_both_periodic_tasks_and_their_followers_every_minute(
    fake_engine: tuple[Engine, FakeClock],
) -> None:
    engine, clock = fake_engine
    runner = ExampleRunner(engine)
    ops.set_default_client(engine)
    try:
        runpy.run_path(str(EXAMPLES / "sample_periodic_task.py"), run_name="__main__")
    finally:
        ops.set_default_client(None)
    [execution] = engine.list_workflow_executions("periodic_task_example")
    engine.run_until_idle()
    rounds = 3
    for _ in range(rounds):
        clock.advance(dt.timedelta(minutes=1))
        engine.run_until_idle()

    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    minutes = [start + dt.timedelta(minutes=k) for k in range(rounds + 1)]
    for periodic, follower in (("task_1", "task_2"), ("task_3", "task_4")):
        upstream = runner.runs(execution.id, periodic)
        downstream = runner.runs(execution.id, follower)
        assert [te.begin_date for te in upstream] == minutes, periodic
        assert [te.cause.kind for te in upstream] == [StartKind.WORKFLOW_START] + [StartKind.PERIODIC] * rounds
        assert [te.sequence_number for te in downstream] == list(range(1, rounds + 2)), follower
        for before, after in zip(upstream, downstream, strict=True):
            assert_rule_cause(after, status_key("periodic_task_example", periodic))
            assert before.end_date is not None and after.begin_date is not None
            assert after.begin_date >= before.end_date
    assert all(te.status is TaskStatus.SUCCESS for te in runner.runs(execution.id))
    # Periodic tasks keep the execution running until it is stopped.
    assert runner.status(execution.id) is WorkflowStatus.RUNNING


def test_periodic_workflow_sample_starts_each_workflow_every_minute(fake_engine: tuple[Engine, FakeClock]) -> None:
    engine, clock = fake_engine
    ops.set_default_client(engine)
    try:
        runpy.run_path(str(EXAMPLES / "sample_periodic_workflow.py"), run_name="__main__")
        # Running the sample again finds the schedules and adds none.
        runpy.run_path(str(EXAMPLES / "sample_periodic_workflow.py"), run_name="__main__")
        rounds = 3
        for _ in range(rounds):
            clock.advance(dt.timedelta(minutes=1))
            engine.run_until_idle()

        start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        for name, expression in (("periodic_workflow_by_cron", "cron@*/1 * * * *"),
                                 ("periodic_workflow_by_interval", "interval@0 0 1 0")):
            assert [s.expression for s in ops.list_workflow_schedules(name)] == [expression]
            executions = ops.list_workflow_executions(name)
            assert [e.begin_date for e in executions] == [start + dt.timedelta(minutes=k) for k in (1, 2, 3)]
            for execution in executions:
                assert (execution.status, execution.execution_type) == (WorkflowStatus.SUCCESS, ExecutionType.PERIODIC)
                history = [(te.task_name, te.status) for te in ops.list_task_executions(execution.id)]
                assert history == [("task", TaskStatus.SUCCESS)]
    finally:
        ops.set_default_client(None)


@pytest.mark.filterwarnings("ignore:.*penalty.*:FutureWarning")
@pytest.mark.filterwarnings("ignore:Precision is ill-defined")
@pytest.mark.filterwarnings("ignore:Inconsistent values:UserWarning")
def test_online_machine_learning_sample_trains_validates_deploys_and_predicts(
    runner: ExampleRunner, tmp_path: Path, aiflow_home: Path
) -> None:
    from .test_tutorial import make_dataset

    engine = runner.engine
    project = tmp_path / "online_machine_learning"
    make_dataset(project / "dataset")
    workflow_file = project / "online_ml_workflow.py"
    workflow_file.write_text((EXAMPLES / "sample_online_ml.py").read_text(encoding="utf-8"), encoding="utf-8")
    # The sample's tasks check for, then make, their model directories; pre_processing and
    # predicting start together and could race on that, so they come with the upload.
    for name in ("trained_models", "validated_models", "deployed_models"):
        (project / "tmp" / name).mkdir(parents=True)
    runner.upload(workflow_file, artifacts=[str(project / "dataset"), str(project / "tmp")])
    wid = engine.start_workflow_execution("online_machine_learning")

    digest = engine.get_workflow_snapshot(engine.get_workflow_execution(wid).snapshot_id).signature
    result = (aiflow_home / "working_dir" / "default" / "online_machine_learning" / f"{wid}-{digest[:16]}"
              / "tmp" / "predict_result")
    wait_until(lambda: result.exists() and "predict result" in result.read_text(encoding="utf-8"),
               "predicting to predict with the first deployed model")
    runs = {te.task_name: te for te in runner.runs(wid)}
    assert {name: te.status for name, te in runs.items()} == {
        "pre_processing": TaskStatus.RUNNING, "predicting": TaskStatus.RUNNING,
        "training": TaskStatus.SUCCESS, "validating": TaskStatus.SUCCESS, "deploying": TaskStatus.SUCCESS,
    }, runner.errors(wid)
    assert runs["pre_processing"].cause.kind is StartKind.WORKFLOW_START
    assert runs["predicting"].cause.kind is StartKind.WORKFLOW_START
    assert_rule_cause(runs["training"], "data_prepared")
    assert_rule_cause(runs["validating"], status_key("online_machine_learning", "training"))
    assert_rule_cause(runs["deploying"], "model_validated")
    [deployed] = engine.list_events(key="model_deployed")
    assert deployed.value is not None and deployed.value in result.read_text(encoding="utf-8")
    # Two never-ending tasks: the execution runs until it is stopped.
    assert runner.status(wid) is WorkflowStatus.RUNNING
    assert runner.stop_and_settle(wid).status is WorkflowStatus.STOPPED
