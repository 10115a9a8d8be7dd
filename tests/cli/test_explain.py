"""``aiflow explain``: readable text and JSON explanations, and one-line errors for unknown ids."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli


def test_explain_task_execution_task_and_event(cli: Cli, workflow_files: dict[str, Path]) -> None:
    assert cli("run", str(workflow_files["batch"])).stdout.splitlines()[-1].endswith(": SUCCESS")
    runs = {run["task_name"]: run for run in cli.json("task-execution", "list", "1")}
    b = runs["b"]
    offset = b["cause"]["event_offset"]

    text = cli("explain", "task-execution", str(b["id"])).stdout
    lines = text.splitlines()
    assert lines[0].startswith(f"task 'b' run {b['id']} (sequence 1, try 1, SUCCESS) started by rule #0 (a SUCCESS)")
    assert f"@ offset {offset} (TASK_STATUS" in lines[0]
    assert lines[1].strip().startswith(f"<- task 'a' run {runs['a']['id']}") and "started with its workflow" in lines[1]
    assert "workflow execution 1 of default.batch started by a user" in lines[-1]
    chain = cli.json("explain", "task-execution", str(b["id"]))["chain"]
    assert chain[0]["evaluation"]["outcome"] == "STARTED" and chain[0]["event"]["offset"] == offset

    why = cli("explain", "task", "b", "--execution", "1").stdout
    assert "the workflow execution is SUCCESS" in why and "rule #0: a SUCCESS -> START" in why
    assert f"last evaluated on event 'aiflow.task_status/batch/a' @ offset {offset}: met; STARTED" in why
    data = json.loads(cli("explain", "task", "b", "-e", "1", "-o", "json").stdout)
    assert data["task_status"] == "SUCCESS" and data["rules"][0]["last_event_offset"] == offset

    event = cli("explain", "event", str(offset)).stdout
    assert event.startswith(f"event 'aiflow.task_status/batch/a' @ offset {offset} (TASK_STATUS")
    assert f"STARTED: started task execution {b['id']}" in event

    assert cli.error("explain", "task-execution", "99", code=3).startswith("error: task execution 99 does not exist")
    assert "task 'zzz' does not exist" in cli.error("explain", "task", "zzz", "--execution", "1", code=3)
    assert "event 999 does not exist" in cli.error("explain", "event", "999", code=3)
    assert "is not a positive id" in cli("explain", "event", "0", code=2).stderr
