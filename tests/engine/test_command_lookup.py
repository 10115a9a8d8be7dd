"""Flink and Spark operators find their command on PATH, else under $FLINK_HOME/bin or $SPARK_HOME/bin."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core import Engine
from aiflow_core.errors import CommandNotFoundError
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.operators.command import find_command

STAND_IN = """#!/bin/sh
printf '%s\\n' "$0 $*" >> {record}
"""

WORKFLOW = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.flink.flink_operator import FlinkOperator
from aiflow_core.operators.spark.spark_sql import SparkSqlOperator
from aiflow_core.operators.spark.spark_submit import SparkSubmitOperator

with Workflow(name="tools") as w:
    FlinkOperator(name="flink", application="job.jar", target="local")
    SparkSubmitOperator(name="submit", application="app.py", master="local[1]")
    SparkSqlOperator(name="sql", sql="SELECT 1", master="local")
"""


def _stand_in(directory: Path, name: str, record: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    tool.write_text(STAND_IN.format(record=record))
    tool.chmod(0o755)
    return tool


def _run(tmp_path: Path) -> tuple[WorkflowStatus, dict[str, tuple[TaskStatus, str | None]]]:
    source = tmp_path / "tools.py"
    source.write_text(WORKFLOW)
    with Engine(db_url=f"sqlite:///{tmp_path / 'aiflow.db'}", executor="thread") as engine:
        engine.upload_workflows(str(source))
        execution = engine.wait_for_workflow_execution(engine.start_workflow_execution("tools"), timeout=60)
        runs = {te.task_name: (te.status, te.error) for te in engine.list_task_executions(execution.id)}
    return execution.status, runs


@pytest.fixture
def bare_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A PATH with the shell tools and an empty directory for stand-ins, and no tool homes."""
    on_path = tmp_path / "on_path"
    on_path.mkdir()
    monkeypatch.setenv("PATH", f"{on_path}:/usr/bin:/bin")
    monkeypatch.delenv("SPARK_HOME", raising=False)
    monkeypatch.delenv("FLINK_HOME", raising=False)
    return on_path


def test_commands_missing_from_path_are_found_under_their_homes(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    record = tmp_path / "calls.txt"
    spark_home, flink_home = tmp_path / "spark", tmp_path / "flink"
    _stand_in(spark_home / "bin", "spark-submit", record)
    _stand_in(spark_home / "bin", "spark-sql", record)
    _stand_in(flink_home / "bin", "flink", record)
    monkeypatch.setenv("SPARK_HOME", str(spark_home))
    monkeypatch.setenv("FLINK_HOME", str(flink_home))

    status, runs = _run(tmp_path)

    assert status is WorkflowStatus.SUCCESS, runs
    assert sorted(record.read_text().splitlines()) == [
        f"{flink_home}/bin/flink run -t local job.jar",
        f"{spark_home}/bin/spark-sql --master local --name sql -e SELECT 1",
        f"{spark_home}/bin/spark-submit --master local[1] --deploy-mode client --name submit app.py",
    ]


def test_a_command_on_path_wins_over_the_home(bare_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = tmp_path / "calls.txt"
    spark_home = tmp_path / "spark"
    _stand_in(spark_home / "bin", "spark-submit", record)
    on_path = _stand_in(bare_path, "spark-submit", record)
    monkeypatch.setenv("SPARK_HOME", str(spark_home))
    assert find_command("spark-submit", "SPARK_HOME", {"PATH": str(bare_path), "SPARK_HOME": str(spark_home)}) \
        == str(on_path)


def test_a_command_found_nowhere_fails_its_task_naming_both_places(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spark_home = tmp_path / "empty_spark"
    (spark_home / "bin").mkdir(parents=True)
    monkeypatch.setenv("SPARK_HOME", str(spark_home))

    status, runs = _run(tmp_path)

    assert status is WorkflowStatus.FAILED
    assert {task: s for task, (s, _) in runs.items()} == dict.fromkeys(["flink", "submit", "sql"], TaskStatus.FAILED)
    submit_error = runs["submit"][1] or ""
    assert "CommandNotFoundError" in submit_error
    assert f"'spark-submit': not on PATH and not under $SPARK_HOME/bin ({spark_home}/bin/spark-submit)" \
        in submit_error
    assert "not under $FLINK_HOME/bin ($FLINK_HOME is not set)" in (runs["flink"][1] or "")


def test_find_command_raises_a_file_not_found_error() -> None:
    with pytest.raises(CommandNotFoundError, match=r"'flink'.*\$FLINK_HOME is not set") as caught:
        find_command("flink", "FLINK_HOME", {"PATH": ""})
    assert isinstance(caught.value, FileNotFoundError)
