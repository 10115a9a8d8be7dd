"""No bad row stops the loop: rows written straight into the database while an engine runs are quarantined.

Each test writes one kind of row the scheduler cannot read, decode or apply
with SQL, checks that a NOTICE names the row and the error, and that later
executions still run to SUCCESS, on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aiflow_core import Engine, TaskStatus, WorkflowStatus
from aiflow_core.errors import StoreDataError
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.model.meta import StartCause, StartKind
from aiflow_core.model.rule import WorkflowRule
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.engine import create_engine

ON_GO = """
from aiflow_core import Condition, ValueStateDescriptor
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator


class EverySecond(Condition):
    def __init__(self, key):
        super().__init__([key])

    def is_met(self, event, context):
        state = context.get_state(ValueStateDescriptor(name="count"))
        count = (state.value() or 0) + 1
        state.update(count)
        return count % 2 == 0


def work():
    return 1


with Workflow(name="on_go", keep_open=True) as w:
    task = PythonOperator(name="t", python_callable=work)
    task.action_on_event_received(TaskAction.START, "go")
    counted = PythonOperator(name="c", python_callable=work)
    counted.action_on_condition(TaskAction.START, EverySecond("tick"))
"""

AFTER = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="after") as w:
    PythonOperator(name="t", python_callable=work)
"""

NUL = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.operators.python import PythonOperator

def shout():
    AIFlowNotificationClient().send_event("shout", "a\\x00b" + "x" * 2_000_000)
    raise ValueError("broken\\x00message")

with Workflow(name="nul") as w:
    PythonOperator(name="t", python_callable=shout)
"""

_RAW_EVENTS = sa.table(
    "aiflow_event", sa.column("offset"), sa.column("key"), sa.column("value"), sa.column("namespace"),
    sa.column("sender"), sa.column("kind"), sa.column("workflow_execution_id"), sa.column("context"),  # text as is
    sa.column("create_time", t.UtcDateTime), sa.column("idempotency_key"),
)


def _wait(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Engine]:
    for name, text in (("on_go", ON_GO), ("after", AFTER), ("nul", NUL)):
        (tmp_path / f"{name}.py").write_text(text)
    with Engine(db_url=db_url, executor="thread", log_dir=tmp_path / "logs") as running:
        for name in ("on_go", "after", "nul"):
            running.upload_workflows(str(tmp_path / f"{name}.py"))
        yield running


def _sql(engine: Engine, *statements: Any) -> None:
    """Run statements in one transaction of a connection of its own (MariaDB: CHECK constraints off)."""
    raw = create_engine(engine.db_url)
    try:
        with raw.begin() as conn:
            if conn.dialect.name in ("mysql", "mariadb"):
                conn.exec_driver_sql("SET SESSION check_constraint_checks = 0")
            for statement in statements:
                conn.execute(statement(conn) if callable(statement) else statement)
    finally:
        raw.dispose()


def _insert_event_row(engine: Engine, **row: Any) -> int:
    """Append a raw event row (its context given as text), taking the next offset as the store does."""
    offsets: list[int] = []

    def insert(conn: sa.Connection) -> sa.Executable:
        counter = t.counters.c
        last = conn.execute(
            sa.select(counter.value).where(counter.name == "event_offset").with_for_update()
        ).scalar_one()
        offsets.append(last + 1)
        conn.execute(sa.update(t.counters).where(counter.name == "event_offset").values(value=last + 1))
        values = {"namespace": "default", "value": None, "workflow_execution_id": None, **row}
        return sa.insert(_RAW_EVENTS).values(offset=last + 1, create_time=dt.datetime.now(dt.timezone.utc), **values)

    _sql(engine, insert)
    return offsets[0]


def _runs(engine: Engine, execution: int, task_name: str) -> list[Any]:
    return [te for te in engine.list_task_executions(execution) if te.task_name == task_name]


def _notices(engine: Engine) -> list[str]:
    return [e.value or "" for e in engine.list_events(include_internal=True) if e.kind is EventKind.NOTICE]


def _notice_naming(engine: Engine, *parts: str) -> str:
    found: list[str] = []

    def named() -> bool:
        found[:] = [n for n in _notices(engine) if all(p in n for p in parts)]
        return bool(found)

    _wait(named)
    return found[0]


def _later_executions_run(engine: Engine, execution: int) -> None:
    """The keep-open execution still reacts to events, and a new execution runs to SUCCESS."""
    runs = len(_runs(engine, execution, "t"))
    engine.send_event("go")
    _wait(lambda: [te.status for te in _runs(engine, execution, "t")][runs:] == [TaskStatus.SUCCESS])
    after = engine.start_workflow_execution("after")
    assert engine.wait_for_workflow_execution(after).status is WorkflowStatus.SUCCESS
    assert engine.health().healthy


def _running_on_go(engine: Engine) -> int:
    execution = engine.start_workflow_execution("on_go")
    _wait(lambda: engine.get_workflow_execution(execution).status is WorkflowStatus.RUNNING)
    return execution


def test_an_event_row_of_unknown_kind_is_quarantined(engine: Engine) -> None:
    execution = _running_on_go(engine)
    offset = _insert_event_row(engine, key="strange", kind="NOT_A_KIND", context="{}")
    notice = _notice_naming(engine, f"offset {offset} skipped", "aiflow_event", "NOT_A_KIND")
    assert "MalformedEventError" in notice
    _later_executions_run(engine, execution)


def test_an_event_row_with_malformed_json_context_is_quarantined(engine: Engine) -> None:
    execution = _running_on_go(engine)
    # PostgreSQL's json column refuses malformed text: there, JSON nested deeper than Python decodes.
    bad = "[" * 5000 + "]" * 5000 if engine.db_url.startswith("postgresql") else '{"task_execution_id": '
    offset = _insert_event_row(
        engine, key="aiflow.task_status/on_go/t", value="SUCCESS", kind="TASK_REPORT",
        workflow_execution_id=execution, context=bad,
    )
    _notice_naming(engine, f"offset {offset} skipped", "aiflow_event", "is not JSON")
    _later_executions_run(engine, execution)


def test_a_report_event_with_an_unknown_task_status_is_quarantined(engine: Engine) -> None:
    execution = _running_on_go(engine)
    engine.send_event("go")
    _wait(lambda: [te.status for te in engine.list_task_executions(execution)] == [TaskStatus.SUCCESS])
    te = engine.list_task_executions(execution)[0]
    context = f'{{"task_execution_id": {te.id}, "task_name": "t", "sequence_number": 1, "error": null}}'
    offset = _insert_event_row(
        engine, key="aiflow.task_status/on_go/t", value="NOT-A-STATUS", kind="TASK_REPORT",
        workflow_execution_id=execution, context=context,
    )
    _notice_naming(engine, f"offset {offset} skipped", "NOT-A-STATUS")
    _later_executions_run(engine, execution)


def test_a_task_execution_row_with_an_unknown_status_fails_its_execution(engine: Engine) -> None:
    execution = _running_on_go(engine)
    workflow = engine.get_workflow("after")
    assert workflow is not None and workflow.snapshot_id is not None
    now = engine.clock.now()
    with engine.store.transaction() as tx:
        poisoned = tx.add_workflow_execution(
            workflow, workflow.snapshot_id, ExecutionType.MANUAL, WorkflowStatus.INIT, now,
            StartCause(kind=StartKind.MANUAL),
        )
        row = tx.conn.execute(  # type: ignore[attr-defined]
            sa.insert(t.task_executions).values(
                workflow_execution_id=poisoned.id, task_name="t", sequence_number=1, try_number=1,
                execution_type="MANUAL", status="NOT-A-STATUS", cause={"kind": "MANUAL"}, begin_date=now,
            )
        )
        te_id = row.inserted_primary_key[0]
        tx.append_events(
            [Event("after", None, kind=EventKind.START_WORKFLOW, workflow_execution_id=poisoned.id)], now
        )
    engine.wake()
    assert engine.wait_for_workflow_execution(poisoned.id).status is WorkflowStatus.FAILED
    notice = _notice_naming(engine, f"row {te_id} of table aiflow_task_execution", "NOT-A-STATUS")
    assert f"workflow execution {poisoned.id} failed" in notice
    _later_executions_run(engine, execution)


def test_a_corrupt_state_value_is_quarantined_and_the_condition_starts_afresh(engine: Engine) -> None:
    execution = _running_on_go(engine)
    scope = f"wfe:{execution}:c:0"
    _sql(engine, sa.insert(t.states).values(scope=scope, name="count", value=b"AFPK\x01not a pickle at all"))
    engine.send_event("tick")
    _notice_naming(engine, f"row {scope}/count of table aiflow_state", "IntegrityError")
    assert _runs(engine, execution, "c") == []
    engine.send_event("tick")  # the second tick since the value was set aside meets the condition
    _wait(lambda: [te.status for te in _runs(engine, execution, "c")] == [TaskStatus.SUCCESS])
    _later_executions_run(engine, execution)


def test_a_corrupt_snapshot_pickle_fails_its_execution(engine: Engine) -> None:
    execution = _running_on_go(engine)
    workflow = engine.get_workflow("nul")
    assert workflow is not None and workflow.snapshot_id is not None
    _sql(engine, sa.update(t.snapshots).where(t.snapshots.c.id == workflow.snapshot_id)
         .values(workflow_object=b"garbage"))
    poisoned = engine.start_workflow_execution("nul")
    assert engine.wait_for_workflow_execution(poisoned).status is WorkflowStatus.FAILED
    notice = _notice_naming(engine, f"row {workflow.snapshot_id} of table aiflow_workflow_snapshot")
    assert "IntegrityError" in notice and f"workflow execution {poisoned} failed" in notice
    _later_executions_run(engine, execution)


def test_a_corrupt_trigger_rule_is_quarantined_and_other_triggers_still_fire(engine: Engine) -> None:
    execution = _running_on_go(engine)
    bad = engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("never")), "after")
    _sql(engine, sa.update(t.triggers).where(t.triggers.c.id == bad.id).values(rule=b"garbage"))
    engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("kick")), "after")
    engine.send_event("kick")
    _notice_naming(engine, f"row {bad.id} of table aiflow_workflow_trigger", "IntegrityError")
    workflow = engine.get_workflow("after")
    assert workflow is not None

    def triggered() -> list[int]:
        return [e.id for e in engine.list_workflow_executions("after")
                if e.execution_type is ExecutionType.EVENT]

    _wait(triggered)
    assert engine.wait_for_workflow_execution(triggered()[0]).status is WorkflowStatus.SUCCESS
    _later_executions_run(engine, execution)


def test_nul_bytes_and_huge_values_from_a_task_are_made_storable(engine: Engine) -> None:
    execution = _running_on_go(engine)
    failing = engine.start_workflow_execution("nul")
    assert engine.wait_for_workflow_execution(failing).status is WorkflowStatus.FAILED
    [te] = engine.list_task_executions(failing)
    assert te.status is TaskStatus.FAILED
    assert "broken\ufffdmessage" in (te.error or "") and "\x00" not in (te.error or "")
    [shout] = engine.list_events("shout")
    assert (shout.value or "").startswith("a\ufffdbxxx") and "characters in all]" in (shout.value or "")
    with pytest.raises(StoreDataError, match="NUL"):
        engine.send_event("by_a_caller", "a\x00b")
    _later_executions_run(engine, execution)


def test_health_shows_a_loop_that_keeps_failing_and_its_recovery(engine: Engine) -> None:
    execution = _running_on_go(engine)
    assert engine.health().leader
    _sql(engine, sa.text("ALTER TABLE aiflow_timer RENAME TO aiflow_timer_gone"))
    engine.send_event("go")
    _wait(lambda: engine.health().consecutive_failures >= 2)
    health = engine.health()
    assert not health.healthy and health.failing_since is not None
    assert "aiflow_timer" in (health.last_error or "")
    assert "FAILING since" in health.describe()
    _sql(engine, sa.text("ALTER TABLE aiflow_timer_gone RENAME TO aiflow_timer"))
    _wait(lambda: engine.health().healthy)
    assert engine.health().last_success is not None
    _later_executions_run(engine, execution)
