"""Workflows the web tests upload: a gate task that runs until the test opens its gate file."""

import os
import time
from pathlib import Path

from aiflow_core.model.action import TaskAction
from aiflow_core.model.internal.conditions import MeetAllCondition, SingleEventCondition
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator

GATE = os.environ.get("AIFLOW_WEB_TEST_GATE", "/nonexistent/gate")


def wait_for_gate():  # type: ignore[no-untyped-def]
    """Print, then wait (at most two minutes) until the gate file exists."""
    print("waiting for the gate", flush=True)
    deadline = time.monotonic() + 120
    while not Path(GATE).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    print("gate open: done", flush=True)


with Workflow(name="web_flow") as flow:
    hello = BashOperator(name="hello", bash_command="echo hello from postgresql://scott:tiger123@db.example/app")
    gate = PythonOperator(name="gate", python_callable=wait_for_gate)
    after = BashOperator(name="after", bash_command="echo after the gate")
    on_event = BashOperator(name="on_event", bash_command="echo the event came")
    after.start_after(gate)
    on_event.action_on_event_received(action=TaskAction.START, event_key="go")


with Workflow(name="waiting_flow") as waiting:
    report = BashOperator(name="report", bash_command="echo both came")
    report.action_on_condition(
        action=TaskAction.START,
        condition=MeetAllCondition(
            conditions=[SingleEventCondition("data_ready"), SingleEventCondition("model_ready")]
        ),
    )
