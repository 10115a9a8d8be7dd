"""Task log files: created on the first write, at the path the scheduler gave, read as empty when absent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus, WorkflowStatus
from aiflow_core.executors.tasklog import TaskLog
from aiflow_core.testing import WorkflowTester

WORKFLOW = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator

def quiet():
    return None

def loud():
    print("hello from the task")

def broken():
    raise ValueError("no good")

with Workflow(name="logs") as w:
    PythonOperator(name="quiet", python_callable=quiet)
    PythonOperator(name="loud", python_callable=loud)
    PythonOperator(name="broken", python_callable=broken)
    BashOperator(name="bash", bash_command="echo from bash")
"""


def test_a_log_is_created_by_its_first_write_and_starts_with_the_header(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "ns" / "wf" / "1" / "t-1.log"
    with TaskLog(path, "*** header\n") as log:
        assert log.write("") == 0
        log.flush()
        assert not log.opened and not path.exists() and not path.parent.exists()
        log.write("first\n")
        assert log.opened and log.name == str(path)
        log.writelines(["second\n", "third\n"])
    assert path.read_text(encoding="utf-8") == "*** header\nfirst\nsecond\nthird\n"
    with TaskLog(path, "*** again\n") as log:
        pass
    with TaskLog(path, "*** again\n") as log:
        subprocess.run(["echo", "from a subprocess"], stdout=log, check=True)
    assert path.read_text(encoding="utf-8").endswith("*** again\nfrom a subprocess\n")
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.write("late")


def test_eager_log_exists_at_once(tmp_path: Path) -> None:
    path = tmp_path / "eager.log"
    with TaskLog(path, "*** header\n", eager=True):
        assert path.read_text(encoding="utf-8") == "*** header\n"


@pytest.mark.parametrize("executor", ["inline", "thread"])
def test_a_task_that_wrote_nothing_leaves_no_file_and_reads_as_empty(tmp_path: Path, executor: str) -> None:
    with WorkflowTester(tmp_path, executor=executor, db_url="memory://") as aiflow:
        (tmp_path / "wf.py").write_text(WORKFLOW)
        aiflow.upload(tmp_path / "wf.py")
        execution = aiflow.start("logs")
        aiflow.engine.wait_for_workflow_execution(execution, timeout=60)
        runs = {te.task_name: te for te in aiflow.engine.list_task_executions(execution)}
        assert {name: te.status for name, te in runs.items()} == {
            "quiet": TaskStatus.SUCCESS, "loud": TaskStatus.SUCCESS,
            "broken": TaskStatus.FAILED, "bash": TaskStatus.SUCCESS,
        }
        logs = tmp_path / "logs" / "default" / "logs" / str(execution)
        assert {name: te.log_path for name, te in runs.items()} == {
            name: str(logs / f"{name}-1.log") for name in runs
        }
        assert not Path(runs["quiet"].log_path or "").exists()
        assert aiflow.log(execution, "quiet") == ""
        assert aiflow.log(execution, "loud") == (
            "*** logs.loud execution 1 try 1\nhello from the task\n*** succeeded\n"
        )
        assert aiflow.log(execution, "broken").startswith("*** logs.broken execution 1 try 1\nTraceback")
        assert "ValueError: no good\n*** failed\n" in aiflow.log(execution, "broken")
        assert aiflow.log(execution, "bash") == (
            "*** logs.bash execution 1 try 1\n$ bash -c echo from bash\nfrom bash\n*** succeeded\n"
        )


def test_worker_processes_still_create_the_log_at_start(tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(WORKFLOW)
    with Engine(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", blob=str(tmp_path / "blob"), executor="process",
        parallelism=2, log_dir=tmp_path / "logs",
    ) as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("logs")
        assert engine.wait_for_workflow_execution(execution, timeout=60).status is WorkflowStatus.FAILED
        quiet = next(te for te in engine.list_task_executions(execution) if te.task_name == "quiet")
    assert Path(quiet.log_path or "").read_text() == "*** logs.quiet execution 1 try 1\n*** succeeded\n"
