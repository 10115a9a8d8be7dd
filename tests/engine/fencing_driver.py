"""Runs one leader engine that freezes itself inside a scheduling step; the fencing tests start it.

Usage: ``python tests/engine/fencing_driver.py DB_URL WORKFLOW_FILE``. The
engine (process executor, settings from ``$AIFLOW_HOME/aiflow.yaml``)
uploads the workflow file, starts an execution of ``fenced`` and prints
``ready EXECUTION_ID EPOCH``. When a step first decides to start the task
``late``, the process sends itself SIGSTOP inside that step's transaction, before the
transaction proves its lease and commits, as a long pause of the leader
would catch it. After SIGCONT it goes on until it is sent SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiflow_core import Engine
from aiflow_core.ports import StartTask


def main(db_url: str, workflow_file: str) -> None:
    """Lead, freeze in the step that starts ``late``, then run until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    engine = Engine(db_url, executor="process", parallelism=2)
    dispatch = engine.handover.dispatch
    frozen = threading.Event()

    def freezing(tx: Any, commands: list[Any]) -> Callable[[], None]:
        hand_over = dispatch(tx, commands)
        if not frozen.is_set() and any(isinstance(c, StartTask) and c.task_name == "late" for c in commands):
            frozen.set()
            print("frozen", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
            print("resumed", flush=True)
        return hand_over

    engine.loop._dispatch = freezing
    with engine:
        engine.upload_workflows(workflow_file)
        execution = engine.start_workflow_execution("fenced")
        while engine.leadership.epoch is None:
            stop.wait(0.01)
        print(f"ready {execution} {engine.leadership.epoch}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
