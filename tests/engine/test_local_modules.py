"""Modules beside a workflow file that it imports are shipped with it: tasks import them anywhere."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aiflow_core import Engine, WorkflowStatus
from aiflow_core.loader import local_modules
from tests.cli.conftest import Cli

FLOW = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator
import helper
from shapes.square import area

with Workflow(name="local_modules") as w:
    PythonOperator(name="write", python_callable=helper.write, op_args=[{out!r}, area(3)])
"""
HELPER = """
def write(out, value):
    import formatting  # imported where the task runs: the file must be there

    with open(out, "w") as f:
        f.write(formatting.show(value))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workflow file importing a sibling module (which imports another) and a sibling package."""
    src = tmp_path / "project"
    (src / "shapes").mkdir(parents=True)
    (src / "flow.py").write_text(FLOW.format(out=str(tmp_path / "out.txt")))
    (src / "helper.py").write_text(HELPER)
    (src / "formatting.py").write_text("def show(value):\n    return f'area={value}'\n")
    (src / "shapes" / "__init__.py").write_text("")
    (src / "shapes" / "square.py").write_text("def area(side):\n    return side * side\n")
    (src / "unused.py").write_text("X = 1\n")
    return src


def test_local_modules_follows_imports_beside_the_file(project: Path) -> None:
    assert [p.name for p in local_modules(project / "flow.py")] == ["formatting.py", "helper.py", "shapes"]
    assert [p.name for p in local_modules(project / "flow.py", ["/elsewhere/helper.py"])] == [
        "formatting.py", "shapes"
    ]


def test_a_sibling_module_runs_on_the_process_executor_without_files(project: Path, tmp_path: Path) -> None:
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", blob=str(tmp_path / "blobs"),
                executor="process") as engine:
        engine.upload_workflows(str(project / "flow.py"))
        for name in ("helper", "formatting", "shapes", "shapes.square"):
            sys.modules.pop(name, None)  # loading the file imported them here; the worker must not need them
        execution = engine.start_workflow_execution("local_modules")
        final = engine.wait_for_workflow_execution(execution, timeout=60)
        errors = {t.task_name: t.error for t in engine.list_task_executions(execution)}
        assert final.status is WorkflowStatus.SUCCESS, errors
    assert (tmp_path / "out.txt").read_text() == "area=9"


def test_the_cli_says_which_modules_it_shipped(project: Path, tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'db.sqlite'}")
    result = cli("workflow", "upload", str(project / "flow.py"), "--files", str(project / "unused.py"))
    assert "shipped with flow.py the local modules it imports: formatting.py, helper.py, shapes/" in result.stderr
