"""Namespaces, enable/disable/delete, workflow triggers and history retention."""

from __future__ import annotations

import datetime as dt

import pytest

from aiflow_core import WorkflowRule, WorkflowStatus
from aiflow_core.errors import InvalidStateError, NotFoundError
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.testing import WorkflowTester

TWO_WORKFLOWS = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="w1", namespace="{ns}") as w1:
    PythonOperator(name="t", python_callable=work)

with Workflow(name="w2", namespace="{ns}") as w2:
    PythonOperator(name="t", python_callable=work)
"""

STREAMING = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="streaming", keep_open=True) as w:
    t = PythonOperator(name="t", python_callable=work)
    t.action_on_event_received(TaskAction.START, "go")
"""


def test_namespaces_isolate_events_and_refuse_deletion_while_holding_workflows(aiflow: WorkflowTester) -> None:
    engine = aiflow.engine
    engine.add_namespace("team_a", {"owner": "a"})
    engine.add_namespace("team_b")
    assert [n.name for n in engine.list_namespace()] == ["default", "team_a", "team_b"]
    assert engine.update_namespace("team_a", {"owner": "z"}).properties == {"owner": "z"}
    aiflow.upload_source(TWO_WORKFLOWS.format(ns="team_a"))
    aiflow.upload_source(STREAMING.replace('name="streaming"', 'name="streaming", namespace="team_b"'))
    execution = aiflow.start("streaming", namespace="team_b")
    aiflow.send("go", namespace="team_a")
    assert aiflow.history(execution) == []
    aiflow.send("go", namespace="team_b")
    assert len(aiflow.history(execution)) == 1
    with pytest.raises(InvalidStateError, match="team_a"):
        engine.delete_namespace("team_a")
    engine.delete_namespace("team_a", force=True)
    assert engine.get_namespace("team_a") is None
    with pytest.raises(NotFoundError, match="team_a"):
        engine.list_workflows("team_a")
    with pytest.raises(InvalidStateError, match="running"):
        engine.delete_namespace("team_b", force=True)


def test_events_without_an_execution_reach_exactly_the_running_executions(aiflow: WorkflowTester) -> None:
    # The scheduler keeps the running executions of a namespace in memory between its transactions:
    # one started after the first lookup must be reached, one that ended must not.
    aiflow.upload_source(STREAMING.replace("TaskAction.START", "TaskAction.RESTART"))
    first = aiflow.start("streaming")
    aiflow.send("go")
    second = aiflow.start("streaming")
    aiflow.send("go")
    aiflow.stop(first)
    aiflow.send("go")
    third = aiflow.start("streaming")
    aiflow.send("go")
    # A RESTART-only task also runs when its execution starts.
    assert [len(aiflow.history(e)) for e in (first, second, third)] == [3, 4, 2]
    assert aiflow.engine.get_workflow_execution(first).status is WorkflowStatus.STOPPED


def test_disabled_workflow_starts_nothing_new_and_records_why(aiflow: WorkflowTester) -> None:
    engine = aiflow.engine
    aiflow.upload_source(STREAMING)
    running = aiflow.start("streaming")
    engine.add_workflow_schedule("cron@0 * * * *", "streaming")
    engine.disable_workflow("streaming")
    with pytest.raises(InvalidStateError, match="disabled"):
        engine.start_workflow_execution("streaming")
    aiflow.advance(dt.timedelta(hours=2))
    assert [e.id for e in aiflow.executions("streaming")] == [running]
    notices = [e for e in engine.list_events(include_internal=True) if e.kind.value == "NOTICE"]
    assert len(notices) == 2 and all("disabled" in (n.value or "") for n in notices)
    # The running execution goes on from its snapshot.
    aiflow.send("go")
    assert len(aiflow.history(running)) == 1
    engine.enable_workflow("streaming")
    aiflow.advance(dt.timedelta(hours=1))
    assert len(aiflow.executions("streaming")) == 2


def test_delete_workflow_cascades_and_is_refused_while_an_execution_runs(aiflow: WorkflowTester) -> None:
    engine = aiflow.engine
    aiflow.upload_source(STREAMING)
    execution = aiflow.start("streaming")
    engine.add_workflow_schedule("cron@0 * * * *", "streaming")
    engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("x")), "streaming")
    with pytest.raises(InvalidStateError, match=str(execution)):
        engine.delete_workflow("streaming")
    aiflow.stop(execution)
    engine.delete_workflow("streaming")
    assert engine.get_workflow("streaming") is None
    assert engine.get_workflow_execution(execution) is None
    with pytest.raises(NotFoundError):
        engine.list_workflow_schedules("streaming")


TRIGGERED = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    print("working")  # so that the run has a log file for retention to remove
    return 1

with Workflow(name="triggered") as w:
    PythonOperator(name="t", python_callable=work)
"""

NUM_CONDITION = """
from aiflow_core.model.condition import Condition
from aiflow_core.model.state import ValueStateDescriptor

class Sum(Condition):
    def is_met(self, event, context):
        state = context.get_state(ValueStateDescriptor(name="sum"))
        total = (state.value() or 0) + int(event.value)
        if total >= 10:
            state.update(0)
            return True
        state.update(total)
        return False
"""


def test_triggers_start_executions_keep_state_per_workflow_and_pause(aiflow: WorkflowTester, tmp_path) -> None:
    engine = aiflow.engine
    aiflow.upload_source(TRIGGERED)
    trigger = engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("trigger_workflow")), "triggered")
    assert isinstance(engine.get_workflow_trigger(trigger.id).rule, WorkflowRule)  # type: ignore[union-attr]
    aiflow.send("trigger_workflow")
    aiflow.send("trigger_workflow")
    executions = aiflow.executions("triggered")
    assert [e.execution_type.value for e in executions] == ["EVENT", "EVENT"]
    assert all(e.status is WorkflowStatus.SUCCESS for e in executions)
    engine.pause_workflow_trigger(trigger.id)
    aiflow.send("trigger_workflow")
    assert len(aiflow.executions("triggered")) == 2
    engine.resume_workflow_trigger(trigger.id)
    aiflow.send("trigger_workflow")
    assert len(aiflow.executions("triggered")) == 3
    engine.delete_workflow_trigger(trigger.id)
    with pytest.raises(NotFoundError, match=str(trigger.id)):
        engine.pause_workflow_trigger(trigger.id)

    namespace: dict[str, object] = {}
    exec(NUM_CONDITION, namespace)
    condition = namespace["Sum"](expect_event_keys=["num"])  # type: ignore[operator]
    engine.add_workflow_trigger(WorkflowRule(condition), "triggered")
    for value in (3, 4, 2):
        aiflow.send("num", str(value))
    assert len(aiflow.executions("triggered")) == 3
    aiflow.send("num", "1")
    assert len(aiflow.executions("triggered")) == 4


@pytest.mark.parametrize("db_url", [None, "memory://"])
def test_history_retention_prunes_only_old_finished_executions(tmp_path, db_url) -> None:
    with WorkflowTester(tmp_path / "t", history_retention="2d", db_url=db_url) as tester:
        tester.upload_source(TRIGGERED)
        tester.upload_source(STREAMING)
        streaming = tester.start("streaming")
        old = tester.start("triggered")
        tester.engine.send_event("kept-event")
        log_dir = tester.directory / "logs" / "default" / "triggered" / str(old)
        digest = tester.engine.get_workflow_snapshot(tester.engine.get_workflow_execution(old).snapshot_id).signature
        working_copy = tester.engine.home / "working_dir" / "default" / "triggered" / f"{old}-{digest[:16]}"
        assert log_dir.exists() and working_copy.exists()
        tester.advance(dt.timedelta(days=1))
        recent = tester.start("triggered")
        tester.advance(dt.timedelta(days=1, hours=12))
        assert tester.engine.get_workflow_execution(old) is None
        assert not log_dir.exists() and not working_copy.exists()
        assert tester.engine.get_workflow_execution(recent) is not None
        assert tester.engine.get_workflow_execution(streaming).status is WorkflowStatus.RUNNING  # type: ignore[union-attr]
        assert tester.engine.list_events(key="kept-event") == []
