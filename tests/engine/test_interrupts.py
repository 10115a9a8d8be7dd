"""What interrupts a thread is not a task's failure: KeyboardInterrupt, SystemExit, a test runner's timeout."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiflow_core import Client, Engine, TaskStatus

ROOT = Path(__file__).resolve().parents[2]

RAISING = """
import sys
from aiflow_core.model.action import TaskAction
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def interrupt():
    raise KeyboardInterrupt("pressed")

def leave():
    sys.exit(3)

def noop():
    return None

def raising(name, callable_):
    with Workflow(name=name) as w:
        first = PythonOperator(name="first", python_callable=callable_)
        after = PythonOperator(name="after", python_callable=noop)
        after.action_on_task_status(TaskAction.START, {first: TaskStatus.FAILED})
    return w

interrupting = raising("interrupt", interrupt)
leaving = raising("leave", leave)
"""


@pytest.mark.parametrize(("workflow", "raised"), [("interrupt", KeyboardInterrupt), ("leave", SystemExit)])
def test_an_inline_task_interrupted_lets_the_exception_reach_the_caller(
    tmp_path: Path, workflow: str, raised: type[BaseException]
) -> None:
    (tmp_path / "wf.py").write_text(RAISING)
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = Engine(db_url=db_url, executor="inline")
    try:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution(workflow)
        with pytest.raises(raised):
            engine.run_until_idle(timeout=30)
    finally:
        engine.close()
    with Client(db_url) as client:
        (first,) = client.list_task_executions(execution)
    # Not FAILED (no rule reacts to an interruption as to a failure): stopped with the engine's thread.
    assert first.status is TaskStatus.STOPPED
    assert f"interrupted by {raised.__name__}" in Path(first.log_path).read_text()


@pytest.mark.parametrize("executor", ["thread", "process"])
@pytest.mark.parametrize(
    ("workflow", "error"), [("interrupt", "KeyboardInterrupt: pressed"), ("leave", "SystemExit: 3")]
)
def test_a_task_raising_system_exit_on_a_worker_fails_and_the_worker_goes_on(
    tmp_path: Path, executor: str, workflow: str, error: str
) -> None:
    (tmp_path / "wf.py").write_text(RAISING)
    # One worker: the task after the failed one runs only if the worker survived it.
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor=executor, parallelism=1) as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution(workflow)
        engine.wait_for_workflow_execution(execution, timeout=60)
        tasks = {t.task_name: t for t in engine.list_task_executions(execution)}
    assert tasks["first"].status is TaskStatus.FAILED
    assert tasks["first"].error == error
    assert tasks["after"].status is TaskStatus.SUCCESS


NEVER_ENDING_TEST = '''
import time
from pathlib import Path

from aiflow_core import Engine

WORKFLOW = """
import time
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def forever():
    while True:
        time.sleep(0.05)

with Workflow(name="forever") as w:
    PythonOperator(name="spin", python_callable=forever)
"""


def test_never_ends(tmp_path):
    (tmp_path / "wf.py").write_text(WORKFLOW)
    engine = Engine(db_url={db_url!r}, executor="inline")
    try:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        engine.start_workflow_execution("forever")
        engine.run_until_idle(timeout=3600)
    finally:
        engine.close()
'''


def test_a_test_timeout_inside_an_inline_task_fails_the_test(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    (tmp_path / "test_forever.py").write_text(textwrap.dedent(NEVER_ENDING_TEST.format(db_url=db_url)))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "5", "test_forever.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 failed" in result.stdout, result.stdout[-3000:]
    assert "Timeout" in result.stdout, result.stdout[-3000:]
    with Client(db_url) as client:
        (execution,) = client.list_workflow_executions("forever")
        (spin,) = client.list_task_executions(execution.id)
    assert spin.status is TaskStatus.STOPPED
