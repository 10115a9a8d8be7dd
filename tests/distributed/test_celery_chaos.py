"""Event-driven executions on Celery workers while workers are SIGKILLed: exact histories, never two at once."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import pytest

from aiflow_core.model.status import TaskStatus, WorkflowStatus

from .conftest import Workers, celery_engine

FLOW = """
import time
from aiflow_core import Workflow, PythonOperator
from aiflow_core.notification.notification_client import AIFlowNotificationClient

def produce():
    time.sleep(0.3)
    AIFlowNotificationClient().send_event("produced", "ok")

def consume():
    time.sleep(0.3)

with Workflow(name="chaos") as chaos:
    producer = PythonOperator(name="produce", python_callable=produce, retries=3)
    consumer = PythonOperator(name="consume", python_callable=consume, retries=3)
    consumer.action_on_event_received(__import__("aiflow_core").TaskAction.START, "produced")
"""
EXECUTIONS = 24


@pytest.mark.parametrize("workers", ["redis"], indirect=True)
def test_executions_survive_killed_workers_with_exact_histories(workers: Workers, tmp_path: Path) -> None:
    workers.ensure()
    chance = random.Random(14)
    (tmp_path / "chaos.py").write_text(FLOW)
    with celery_engine(tmp_path, workers) as engine:
        engine.upload_workflows(str(tmp_path / "chaos.py"))
        ids = []
        for index in range(EXECUTIONS):
            ids.append(engine.start_workflow_execution("chaos"))
            if index in (6, 14):  # a worker dies mid-task, twice; it comes back later
                time.sleep(0.5)
                workers.kill(chance.choice(workers.members))
            if index == 10:
                workers.ensure()
        workers.ensure()
        outcomes = [engine.wait_for_workflow_execution(wid, timeout=120).status for wid in ids]
        assert outcomes == [WorkflowStatus.SUCCESS] * EXECUTIONS
        lost = 0
        for wid in ids:
            runs = engine.list_task_executions(wid)
            for task in ("produce", "consume"):
                mine = [te for te in runs if te.task_name == task]
                for sequence in sorted({te.sequence_number for te in mine}):
                    tries = sorted((te for te in mine if te.sequence_number == sequence), key=lambda te: te.try_number)
                    # One success per run of a task; every earlier try was lost with a killed worker.
                    assert tries[-1].status is TaskStatus.SUCCESS, [(te.status, te.error) for te in tries]
                    assert all(te.status is TaskStatus.FAILED and "heartbeat" in (te.error or "")
                               for te in tries[:-1]), [(te.status, te.error) for te in tries]
                    lost += len(tries) - 1
                # Never two attempts of a task at once: each began after the one before it ended.
                ordered = sorted(mine, key=lambda te: (te.begin_date is None, te.begin_date))
                for before, after in itertools.pairwise(ordered):
                    assert before.end_date is not None and after.begin_date is not None
                    assert after.begin_date >= before.end_date
            produced = [e for e in engine.list_events(key="produced") if e.workflow_execution_id == wid]
            assert 1 <= len(produced) <= len([te for te in runs if te.task_name == "produce"])
        assert lost >= 1, "no attempt was running on the killed workers"
