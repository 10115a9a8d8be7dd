"""Killing the engine during schedule fires and trigger evaluations never loses or doubles an execution."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiflow_core import Client, WorkflowRule
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.testing import FakeClock

DRIVER = Path(__file__).with_name("crash_schedule_driver.py")
HOURS = 168
TRIGGER_EVENTS = 400


def _prepare(tmp_path: Path) -> str:
    sys.path.insert(0, str(DRIVER.parent))
    try:
        from crash_schedule_driver import START, WORKFLOW
    finally:
        sys.path.remove(str(DRIVER.parent))
    db_url = f"sqlite:///{tmp_path / 'aiflow.db'}"
    (tmp_path / "wf.py").write_text(WORKFLOW)
    client = Client(db_url, blob=str(tmp_path / "blob"), clock=FakeClock(START))
    client.upload_workflows(str(tmp_path / "wf.py"))
    client.add_workflow_schedule("cron@0 * * * *", "scheduled")
    client.add_workflow_trigger(WorkflowRule(SingleEventCondition("go")), "triggered")
    for index in range(TRIGGER_EVENTS):
        client.send_event("go", str(index))
    client.close()
    return db_url


def _run(db_url: str, kill_after: float | None) -> tuple[bool, float]:
    """Run the driver; kill it ``kill_after`` seconds after it is ready.

    Returns whether it finished on its own and how long it worked once ready.
    """
    process = subprocess.Popen(
        [sys.executable, str(DRIVER), db_url, str(HOURS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        ready = time.monotonic()
        assert line.strip() == "ready", (line, process.stderr.read() if process.stderr else "")
        out, err = process.communicate(timeout=kill_after if kill_after is not None else 120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False, time.monotonic() - ready
    assert process.returncode == 0, err[-3000:]
    return "DONE" in out, time.monotonic() - ready


def _history(db_url: str) -> tuple[list[dt.datetime], list[str]]:
    client = Client(db_url, upgrade=False)
    scheduled = [e.begin_date for e in client.list_workflow_executions("scheduled")]
    causes = [e.cause.event_key or "" for e in client.list_workflow_executions("triggered") if e.cause]
    offsets = [str(e.cause.event_offset) for e in client.list_workflow_executions("triggered") if e.cause]
    client.close()
    return scheduled, [f"{k}@{o}" for k, o in zip(causes, offsets, strict=True)]


@pytest.mark.slow
def test_sigkill_during_fires_and_triggers_never_loses_or_doubles(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.mkdir()
    reference_url = _prepare(reference)
    finished, work = _run(reference_url, None)
    assert finished
    expected_fires, expected_triggers = _history(reference_url)
    assert len(expected_fires) == HOURS
    assert len(expected_triggers) == TRIGGER_EVENTS

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    crashed_url = _prepare(crashed)
    rng = random.Random(20261122)
    kills = 0
    started = time.monotonic()
    # Each run works at most an eighth of what the whole work took uninterrupted, so at least
    # five kills land before the work is done, however fast the machine.
    while kills < 20:
        if _run(crashed_url, rng.uniform(0.02, 0.12) * work)[0]:
            break
        kills += 1
    while not _run(crashed_url, None)[0]:
        pass
    assert kills >= 5, f"the engine finished before enough kills ({kills}); make the work longer"
    fires, triggers = _history(crashed_url)
    assert fires == expected_fires
    assert len(set(fires)) == HOURS
    assert sorted(triggers) == sorted(expected_triggers)
    assert len(set(triggers)) == TRIGGER_EVENTS
    assert time.monotonic() - started < 300
