"""Fault points: inert unless the environment enables them and a test arms them; then they act once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from aiflow_core import faultpoints
from aiflow_core.errors import ConfigError

from .harness import ROOT, process_state

SCRIPT = """
import sys
from aiflow_core import faultpoints

faultpoints.reach("here")  # not armed yet: nothing happens
faultpoints.arm("here", sys.argv[1])
faultpoints.reach("elsewhere")
print("before", flush=True)
faultpoints.reach("here")
print("after", flush=True)
faultpoints.reach("here")  # once only
print("again", flush=True)
"""


def _run(action: str) -> subprocess.Popen[str]:
    env = {**os.environ, "AIFLOW_FAULT_POINTS": "here", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, action], env=env, stdout=subprocess.PIPE, text=True, cwd=str(ROOT)
    )


def test_a_point_that_the_environment_does_not_enable_cannot_be_armed() -> None:
    assert "scheduler.step" not in os.environ.get(faultpoints.ENV, "")
    with pytest.raises(ConfigError, match=r"scheduler\.step.*AIFLOW_FAULT_POINTS"):
        faultpoints.arm("scheduler.step", "kill")
    faultpoints.reach("scheduler.step")  # inert


def test_an_armed_kill_kills_the_process_at_its_point_and_nowhere_else() -> None:
    proc = _run("kill")
    out, _ = proc.communicate(timeout=60)
    assert out.split() == ["before"]
    assert proc.returncode == -signal.SIGKILL


def test_an_armed_stop_stops_the_process_at_its_point_once() -> None:
    proc = _run("stop")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "before"
    deadline = time.monotonic() + 30
    while process_state(proc.pid) != "T":
        assert time.monotonic() < deadline, "the process did not stop at its fault point"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGCONT)
    out, _ = proc.communicate(timeout=60)
    assert out.split() == ["after", "again"]
    assert proc.returncode == 0


def test_an_unknown_action_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faultpoints, "_enabled", frozenset({"here"}))
    with pytest.raises(ConfigError, match="'explode' is unknown"):
        faultpoints.arm("here", "explode")
