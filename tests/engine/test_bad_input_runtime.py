"""Bad input met while running: conditions answering neither True nor False, logs that cannot be opened,
and the catalogue's configuration and workflow-file cases through the real ``aiflow`` command.

Each row names what is given and what the error must name; afterwards the
engine still schedules and nothing stored is lost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus, WorkflowStatus

REPO = Path(__file__).resolve().parents[2]

ANSWERING = """
from aiflow_core import Condition, MeetAllCondition, MeetAnyCondition, PythonOperator, TaskAction, Workflow

def serve():
    return "served"

class Answer(Condition):
    def __init__(self, key):
        super().__init__([key])

    def is_met(self, event, context):
        return {answer}

with Workflow(name="answering", keep_open=True) as w:
    bad = PythonOperator(name="bad", python_callable=serve)
    good = PythonOperator(name="good", python_callable=serve)
    bad.action_on_condition(TaskAction.START, {condition})
    good.action_on_event_received(TaskAction.START, "go")
"""

#: (what ``is_met`` returns, the condition of the rule, what the recorded error names)
CONDITIONS = [
    ("'yes'", "Answer('go')", "'yes' (str)"),
    ("None", "Answer('go')", "None (NoneType)"),
    ("1", "Answer('go')", "1 (int)"),
    ("[]", "Answer('go')", "[] (list)"),
    ("'yes'", "MeetAllCondition([Answer('go')])", "'yes' (str)"),
    ("0.0", "MeetAnyCondition([Answer('go')])", "0.0 (float)"),
]


@pytest.mark.parametrize(("answer", "condition", "named"), CONDITIONS)
def test_a_condition_answering_neither_true_nor_false_is_recorded_and_not_met(
    sqlite_url: str, tmp_path: Path, answer: str, condition: str, named: str
) -> None:
    path = tmp_path / "answering.py"
    path.write_text(ANSWERING.format(answer=answer, condition=condition), encoding="utf-8")
    with Engine(sqlite_url, executor="inline") as engine:
        engine.upload_workflows(str(path))
        execution = engine.start_workflow_execution("answering")
        engine.stop()
        engine.run_until_idle()
        engine.send_event("go", "v")
        engine.run_until_idle()
        failures = [f for f in engine.loop.failures if "ConditionResultError" in f.error]
        assert failures and named in failures[0].error and "True or False" in failures[0].error
        assert "'bad'" in failures[0].message and "'go'" in failures[0].message
        runs = {te.task_name: te.status for te in engine.list_task_executions(execution)}
        assert "bad" not in runs  # not met
        assert runs["good"] is TaskStatus.SUCCESS  # the other rule on the same event fired


BASE = """
from aiflow_core import PythonOperator, Workflow

def work():
    print("working")  # the first write creates the task's log
    return 42

with Workflow(name="base") as w:
    PythonOperator(name="work", python_callable=work)
"""


@pytest.mark.parametrize("executor", ["inline", "thread", "process"])
def test_a_log_that_cannot_be_opened_fails_the_task_naming_it(sqlite_url: str, tmp_path: Path, executor: str) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "default").write_text("a file where the namespace's log directory belongs")
    flow = tmp_path / "base.py"
    flow.write_text(BASE, encoding="utf-8")
    with Engine(sqlite_url, executor=executor, log_dir=logs) as engine:
        engine.upload_workflows(str(flow))
        first = engine.start_workflow_execution("base")
        assert engine.wait_for_workflow_execution(first, timeout=60).status is WorkflowStatus.FAILED
        [run] = engine.list_task_executions(first)
        assert run.status is TaskStatus.FAILED
        assert run.error is not None and "cannot open the log file" in run.error and "work-1.log" in run.error
        (logs / "default").unlink()  # once the log can be written, the same engine runs the task
        again = engine.start_workflow_execution("base")
        assert engine.wait_for_workflow_execution(again, timeout=60).status is WorkflowStatus.SUCCESS


def _aiflow(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW_")}
    return subprocess.run(
        [sys.executable, "-m", "aiflow_core.cli.main", *args], capture_output=True, text=True, timeout=120,
        env={**clean, "AIFLOW_HOME": str(home), "PYTHONPATH": str(REPO), **env},
    )


#: (the id, aiflow.yaml, extra environment, what the one-line error names)
CLI_CONFIGS = [
    ("unknown-key", "task_exector: thread\n", {}, ("'task_exector'", "'task_executor'")),
    ("heartbeat-negative", "task_heartbeat_interval: -1\n", {}, ("'task_heartbeat_interval'", "-1")),
    ("heartbeat-zero", "task_heartbeat_timeout: 0\n", {}, ("'task_heartbeat_timeout'",)),
    ("time-zone", "timezone: Mars/Olympus\n", {}, ("'timezone'", "Mars/Olympus")),
    ("env-parallelism", "", {"AIFLOW_PARALLELISM": "0"}, ("AIFLOW_PARALLELISM", "0")),
]


@pytest.mark.parametrize(("config", "env", "named"), [c[1:] for c in CLI_CONFIGS], ids=[c[0] for c in CLI_CONFIGS])
def test_the_cli_refuses_a_bad_configuration_naming_the_key(
    tmp_path: Path, config: str, env: dict[str, str], named: tuple[str, ...]
) -> None:
    (tmp_path / "aiflow.yaml").write_text(config, encoding="utf-8")
    result = _aiflow(tmp_path, "config", "list", **env)
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    for name in named:
        assert name in result.stderr, result.stderr


#: (the id, the workflow file, what the one-line error names)
CLI_FILES = [
    ("sys-exit", "import sys\nsys.exit(0)\n", ("exiting.py", "sys.exit(0)")),
    ("never-finishes", "while True:\n    pass\n", ("exiting.py", "did not finish loading within 1 s")),
]


@pytest.mark.parametrize(("source", "named"), [c[1:] for c in CLI_FILES], ids=[c[0] for c in CLI_FILES])
def test_the_cli_upload_survives_a_workflow_file_that_exits_or_never_finishes(
    tmp_path: Path, source: str, named: tuple[str, ...]
) -> None:
    (tmp_path / "aiflow.yaml").write_text("workflow_load_timeout: 1\n", encoding="utf-8")
    flow = tmp_path / "exiting.py"
    flow.write_text(textwrap.dedent(source), encoding="utf-8")
    result = _aiflow(tmp_path, "workflow", "upload", str(flow))
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    for name in named:
        assert name in result.stderr, result.stderr
    listed = _aiflow(tmp_path, "workflow", "list", "-o", "json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed
