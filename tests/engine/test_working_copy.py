"""Each execution's working copy of its snapshot: where it lives and that it is its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core import Engine, WorkflowStatus

WORKFLOW = """
import os
from pathlib import Path
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

VERSION = {version!r}

def record(out):
    Path(out, VERSION).write_text(os.path.dirname(os.path.abspath(__file__)))

with Workflow(name="versioned") as w:
    PythonOperator(name="record", python_callable=record, op_args=[{out!r}])
"""


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_new_database_with_the_same_home_never_reuses_an_old_executions_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str
) -> None:
    monkeypatch.setenv("AIFLOW_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    out.mkdir()
    copies = {}
    for version in ("one", "two"):
        source = tmp_path / version / "wf.py"
        source.parent.mkdir()
        source.write_text(WORKFLOW.format(version=version, out=str(out)))
        with Engine(db_url=f"sqlite:///{tmp_path / version / 'db.sqlite'}", executor=executor) as engine:
            engine.upload_workflows(str(source))
            execution = engine.start_workflow_execution("versioned")
            assert engine.wait_for_workflow_execution(execution, timeout=60).status is WorkflowStatus.SUCCESS
            snapshot = engine.get_workflow_snapshot(engine.get_workflow_execution(execution).snapshot_id)
            assert snapshot is not None
        assert execution == 1  # the same execution id in both databases
        # The second database's execution ran its own code, from a copy of its own snapshot.
        copies[version] = Path((out / version).read_text())
        assert copies[version] == (
            tmp_path / "home" / "working_dir" / "default" / "versioned" / f"1-{snapshot.signature[:16]}"
        )
    assert copies["one"] != copies["two"]
    assert "VERSION = 'two'" in (copies["two"] / "wf.py").read_text()


RECORDING = """
import os
from pathlib import Path
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def record(out):
    # The workflow file is compiled once; each execution's run of it still names its own copy.
    name = os.path.basename(os.path.dirname(os.path.abspath(__file__)))
    Path(out, name).write_text(record.__code__.co_filename)

with Workflow(name="recording") as w:
    PythonOperator(name="record", python_callable=record, op_args=[{out!r}])
"""


@pytest.mark.parametrize("executor", ["inline", "thread", "process"])
def test_each_execution_runs_the_workflow_file_from_its_own_copy(tmp_path: Path, executor: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "wf.py").write_text(RECORDING.format(out=str(out)))
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor=executor) as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        executions = []
        for _ in range(3):
            execution = engine.start_workflow_execution("recording")
            assert engine.wait_for_workflow_execution(execution, timeout=60).status is WorkflowStatus.SUCCESS
            executions.append(execution)
        digest = engine.get_workflow_snapshot(engine.get_workflow_execution(executions[0]).snapshot_id).signature
        home = engine.home
    for execution in executions:
        copy = home / "working_dir" / "default" / "recording" / f"{execution}-{digest[:16]}"
        assert (out / copy.name).read_text() == str(copy / "wf.py")
