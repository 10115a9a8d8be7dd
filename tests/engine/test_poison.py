"""An event that cannot be applied is retried alone, then skipped with a NOTICE; the engine goes on."""

from __future__ import annotations

import time
from pathlib import Path

from aiflow_core import Engine, TaskStatus
from aiflow_core.model.event import Event, EventKind

WORKFLOW = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="on_go", keep_open=True) as w:
    task = PythonOperator(name="t", python_callable=work)
    task.action_on_event_received(TaskAction.START, "go")
"""


def _runs(engine: Engine, execution: int) -> list[TaskStatus]:
    return [t.status for t in engine.list_task_executions(execution)]


def _wait(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_a_poison_event_is_skipped_and_later_events_still_apply(tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(WORKFLOW)
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", executor="thread") as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("on_go")
        engine.send_event("go")
        _wait(lambda: _runs(engine, execution) == [TaskStatus.SUCCESS])
        task_execution = engine.list_task_executions(execution)[0].id
        bogus = Event(
            "aiflow.task_status/on_go/t", "NOT-A-STATUS", kind=EventKind.TASK_REPORT,
            workflow_execution_id=execution, context={"task_execution_id": task_execution},
        )
        with engine.store.transaction() as tx:
            [stored] = tx.append_events([bogus], engine.clock.now())
        engine.send_event("go")
        _wait(lambda: _runs(engine, execution) == [TaskStatus.SUCCESS, TaskStatus.SUCCESS])
        notices = [e for e in engine.list_events(include_internal=True) if e.kind is EventKind.NOTICE]
        assert len(notices) == 1
        assert f"offset {stored.offset} skipped" in (notices[0].value or "")
        assert "NOT-A-STATUS" in (notices[0].value or "")
