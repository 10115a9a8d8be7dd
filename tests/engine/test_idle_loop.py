"""The background loop steps only when there is work; its periodic duties keep their own cadence."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiflow_core import Engine, TaskStatus, WorkflowStatus

WORKFLOW = """
import os, time
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def wait_for_go():
    while not os.path.exists({go!r}):
        time.sleep(0.01)

with Workflow(name="long") as w:
    PythonOperator(name="t", python_callable=wait_for_go)
"""


class _Counted:
    """Counts the calls of a method of an object (called from any thread) and signals every ``every``-th."""

    def __init__(self, owner: Any, name: str) -> None:
        self.calls = 0
        self.reached = threading.Condition()
        self._method: Callable[..., Any] = getattr(owner, name)
        setattr(owner, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self._method(*args, **kwargs)
        with self.reached:
            self.calls += 1
            self.reached.notify_all()
        return result

    def wait_for(self, calls: int) -> None:
        with self.reached:
            assert self.reached.wait_for(lambda: self.calls >= calls, timeout=60), f"{self.calls} calls"


def test_a_running_task_makes_the_loop_look_for_work_without_stepping(tmp_path: Path) -> None:
    go = tmp_path / "go"
    (tmp_path / "wf.py").write_text(WORKFLOW.format(go=str(go)))
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor="thread") as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("long")
        looks = _Counted(engine.loop, "has_work")
        steps = _Counted(engine.loop, "step")
        while [te.status for te in engine.list_task_executions(execution)] != [TaskStatus.RUNNING]:
            looks.wait_for(looks.calls + 1)
        before = steps.calls
        looks.wait_for(looks.calls + 10)
        assert steps.calls - before <= 1  # the old loop stepped after every look: ten or more
        go.touch()
        assert engine.wait_for_workflow_execution(execution, timeout=60).status is WorkflowStatus.SUCCESS
