"""``aiflow run FILE``: upload, start one execution on an embedded engine, follow it, exit with its outcome."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import time
from pathlib import Path
from typing import Any

from aiflow_core.cli.commands.workflow import note_local_modules
from aiflow_core.cli.parser import EXIT_FAILED, EXIT_INTERRUPTED, UsageError, command

_POLL_SECONDS = 0.1
_SETTLE_SECONDS = 30.0
_PROGRESS_SECONDS = 5.0


def _report_changes(ctx: Any, engine: Any, execution_id: int, seen: dict[int, Any]) -> None:
    for te in engine.list_task_executions(execution_id):
        if seen.get(te.id) == te.status:
            continue
        seen[te.id] = te.status
        line = f"task {te.task_name} #{te.sequence_number} (try {te.try_number}): {te.status.value}"
        if te.status.value == "FAILED":
            error = (te.error or "").strip().splitlines()
            line += (f": {error[-1]}" if error else "") + (f" (log: {te.log_path})" if te.log_path else "")
        ctx.write(line)


def _report_progress(ctx: Any, engine: Any, execution_id: int) -> None:
    """One line naming the tasks running now and for how long (nothing when none runs)."""
    now = engine.now()
    running = [
        f"{te.task_name} ({format_elapsed(now - te.begin_date)})" if te.begin_date is not None else te.task_name
        for te in engine.list_task_executions(execution_id)
        if te.status.value == "RUNNING"
    ]
    if running:
        ctx.write(f"running: {', '.join(running)}")


def format_elapsed(elapsed: dt.timedelta) -> str:
    """A duration as ``45s``, ``3m05s`` or ``2h07m``."""
    seconds = max(int(elapsed.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _check_no_server(ctx: Any, engine: Any, args: argparse.Namespace) -> None:
    """Refuse --executor/--parallelism while another engine serves the database; else say it runs the tasks."""
    from aiflow_core.errors import InvalidStateError

    server = engine.serving_engine()
    if server is None:
        return
    if args.executor is not None or args.parallelism is not None:
        raise InvalidStateError(
            f"engine {server} already serves the database {ctx.database_label()} and would run the tasks with "
            "its own executor, ignoring --executor and --parallelism; stop it (aiflow server stop) to run them "
            "here, or leave out those options to run on it"
        )
    ctx.note(f"note: engine {server} serves this database: it runs the tasks, with its executor")


def _settle(ctx: Any, engine: Any, execution_id: int, seen: dict[int, Any]) -> Any:
    engine.stop_workflow_execution(execution_id)
    with contextlib.suppress(TimeoutError):
        engine.wait_for_workflow_execution(execution_id, timeout=_SETTLE_SECONDS)
    _report_changes(ctx, engine, execution_id, seen)
    return engine.get_workflow_execution(execution_id)


def _run(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.engine import Engine
    from aiflow_core.errors import NotFoundError

    if not Path(args.file).is_file():
        raise NotFoundError("workflow file", args.file, "check the path")
    engine = Engine(db_url=ctx.db_url, executor=args.executor, parallelism=args.parallelism)
    ctx._client = engine  # closed (engine stopped) when the command ends
    _check_no_server(ctx, engine, args)
    artifacts = [f for f in (args.files or "").split(",") if f] or None
    workflows = engine.upload_workflows(args.file, artifacts)
    note_local_modules(args.file, artifacts)
    names = [w.name for w in workflows]
    if args.workflow is not None:
        chosen = [w for w in workflows if w.name == args.workflow]
        if not chosen:
            raise NotFoundError("workflow", args.workflow, f"{args.file} defines {names}")
    elif len(workflows) > 1:
        raise UsageError(f"{args.file} defines several workflows {names}; choose one with --workflow NAME")
    else:
        chosen = workflows
    workflow = chosen[0]
    engine.start()
    execution_id = engine.start_workflow_execution(workflow.name, workflow.namespace)
    ctx.write(f"started workflow execution {execution_id} of {workflow.namespace}.{workflow.name}")
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    seen: dict[int, Any] = {}
    next_progress = time.monotonic() + args.progress
    try:
        while True:
            _report_changes(ctx, engine, execution_id, seen)
            if args.progress > 0 and time.monotonic() >= next_progress:
                _report_progress(ctx, engine, execution_id)
                next_progress = time.monotonic() + args.progress
            execution: Any = engine.get_workflow_execution(execution_id)
            if execution.status.is_final:
                break
            if deadline is not None and time.monotonic() > deadline:
                ctx.write(f"workflow execution {execution_id} still {execution.status.value} after "
                          f"{args.timeout} s; stopping it")
                execution = _settle(ctx, engine, execution_id, seen)
                break
            time.sleep(_POLL_SECONDS)
    except KeyboardInterrupt:
        ctx.write(f"interrupted; stopping workflow execution {execution_id}")
        execution = _settle(ctx, engine, execution_id, seen)
        ctx.write(f"workflow execution {execution_id}: {execution.status.value}")
        return EXIT_INTERRUPTED
    ctx.write(f"workflow execution {execution_id}: {execution.status.value}")
    return 0 if execution.status.value == "SUCCESS" else EXIT_FAILED


def register(sub: Any) -> None:
    """Register ``aiflow run``."""
    p = command(sub, "run", _run,
                "Run one execution of a workflow file on an embedded engine, following its tasks.",
                "aiflow run quickstart.py --timeout 60\naiflow run pipelines.py --workflow train --executor thread",
                details="The workflows of FILE are uploaded, one execution starts and task statuses are printed "
                "as they change, with a line every few seconds naming the running tasks and how long they have run; "
                "the exit code is 0 if the execution succeeds, 1 otherwise. With --timeout an "
                "execution still running (e.g. one with event-started tasks) is stopped and the exit code is 1.")
    p.add_argument("file", help="Python file defining workflows")
    p.add_argument("--workflow", default=None, help="which workflow of FILE to run (needed if it defines several)")
    p.add_argument("--files", default=None, metavar="A,B",
                   help="comma-separated files to ship with the workflow (the modules beside FILE that it "
                   "imports are shipped without being named)")
    p.add_argument("--executor", default=None, help="inline, thread or process (default: task_executor of the config)")
    p.add_argument("--parallelism", type=int, default=None, help="tasks run at once by the executor")
    p.add_argument("--progress", type=float, default=_PROGRESS_SECONDS, metavar="SECONDS",
                   help="print which tasks are running and for how long every SECONDS (default: "
                   f"{_PROGRESS_SECONDS:g}; 0: only status changes)")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds after which a still running execution is stopped (default: wait until it ends)")
