"""A run that the step deciding its start also stops (two RESTARTs in one batch) never runs, on every executor."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus

WORKFLOW = """
import time
from pathlib import Path

from aiflow_core import PythonOperator, TaskAction, Workflow

RUNS = {runs!r}


def work():
    with open(RUNS, "a") as runs:
        runs.write("ran\\n")
    time.sleep(0.5)


with Workflow(name="twice") as w:
    task = PythonOperator(name="task", python_callable=work)
    task.action_on_event_received(TaskAction.RESTART, "kick")
"""


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_runs_stopped_by_the_step_that_starts_them_never_run(sqlite_url: str, tmp_path: Path, executor: str) -> None:
    runs = tmp_path / "runs.txt"
    path = tmp_path / "twice.py"
    path.write_text(WORKFLOW.format(runs=str(runs)), encoding="utf-8")
    engine = Engine(sqlite_url, executor=executor, parallelism=2)
    try:
        engine.upload_workflows(str(path))
        # A stepped engine: its first step applies the start and both events together.
        execution_id = engine.start_workflow_execution("twice")
        engine.send_event("kick")
        engine.send_event("kick")
        engine.run_until_idle(timeout=60)
        execution = engine.wait_for_workflow_execution(execution_id, timeout=60)
        statuses = {te.sequence_number: te.status for te in engine.list_task_executions(execution_id)}
    finally:
        engine.close()
    assert statuses == {1: TaskStatus.STOPPED, 2: TaskStatus.STOPPED, 3: TaskStatus.SUCCESS}
    assert runs.read_text().split() == ["ran"]
    assert execution.status.value == "SUCCESS"
