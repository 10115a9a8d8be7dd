"""Run the quickstart workflow on the embedded default and show what happened.

``python -m aiflow_core.quickstart`` uses the configuration of
``$AIFLOW_HOME`` (by default a SQLite file and a local blob root under
``~/aiflow``, and the process executor): it uploads the quickstart workflow,
starts an execution and prints each task's status as it changes until the
execution ends by itself: SUCCESS once all four tasks ran (task4 is started by
the event task3 sends).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from aiflow_core.engine import Engine
from aiflow_core.model.meta import TaskExecutionMeta

WORKFLOW_FILE = Path(__file__).with_name("examples") / "quickstart_workflow.py"


def _row(te: TaskExecutionMeta) -> str:
    return f"  {te.task_name:<6} run {te.sequence_number}  {te.status.value:<8} started by {te.cause.describe()}"


def main(timeout: float = 120.0) -> int:
    """Run the quickstart; returns the process exit code (0 when the execution ends SUCCESS)."""
    with Engine() as engine:
        print(f"database: {engine!r}")
        engine.upload_workflows(str(WORKFLOW_FILE))
        execution_id = engine.start_workflow_execution("quickstart_workflow")
        print(f"workflow execution {execution_id} started")
        seen: dict[int, str] = {}
        deadline = time.monotonic() + timeout
        while True:
            execution = engine.get_workflow_execution(execution_id)
            for te in engine.list_task_executions(execution_id):
                if seen.get(te.id) != te.status.value:
                    seen[te.id] = te.status.value
                    print(_row(te))
            if execution is not None and execution.status.is_final:
                break
            if time.monotonic() > deadline:
                print(f"the quickstart did not finish within {timeout:g} s", file=sys.stderr)
                return 1
            time.sleep(0.1)
        print(f"workflow execution {execution_id}: {execution.status.value}")
        print(f"task logs are under {engine.log_dir}")
    return 0 if execution.status.value == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
