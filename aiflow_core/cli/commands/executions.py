"""``aiflow workflow-execution ...`` and ``aiflow task-execution ...``."""

from __future__ import annotations

import argparse
import time
from typing import Any

from aiflow_core.cli.parser import command, group, positive_int

WORKFLOW_EXECUTION_COLUMNS = (
    "id", "namespace", "workflow_name", "status", "execution_type", "begin_date", "end_date", "started_by",
)
TASK_EXECUTION_COLUMNS = (
    "id", "task_name", "sequence_number", "try_number", "status", "execution_type", "begin_date", "end_date",
    "started_by",
)


def execution_record(execution: Any) -> dict[str, Any]:
    """A workflow or task execution as data, with ``started_by`` saying why it started."""
    from aiflow_core.cli.output import to_data

    data = dict(to_data(execution))
    cause = getattr(execution, "cause", None)
    data["started_by"] = cause.describe() if cause is not None else None
    return data


def _workflow_execution(ctx: Any, execution_id: int) -> Any:
    execution = ctx.client.get_workflow_execution(execution_id)
    return ctx.found(execution, "workflow execution", execution_id, "workflow-execution")


def _we_start(args: argparse.Namespace, ctx: Any) -> int:
    execution_id = ctx.client.start_workflow_execution(args.workflow_name, args.namespace)
    execution = _workflow_execution(ctx, execution_id)
    ctx.emit_one(execution_record(execution))
    ctx.no_engine_note(execution)
    return 0


def _we_stop(args: argparse.Namespace, ctx: Any) -> int:
    execution = _workflow_execution(ctx, args.workflow_execution_id)
    ctx.client.stop_workflow_execution(execution.id)
    if execution.status.is_final:
        ctx.write(f"workflow execution {execution.id} already ended {execution.status.value}; nothing to stop")
    else:
        ctx.write(f"asked the engine to stop workflow execution {execution.id}")
    return 0


def _we_stop_all(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.list_workflow_executions(args.workflow_name, args.namespace, limit=1)  # the workflow exists
    ctx.confirm(f"stop every running execution of {args.namespace}.{args.workflow_name}?")
    ctx.client.stop_workflow_executions(args.workflow_name, args.namespace)
    ctx.write(f"asked the engine to stop every running execution of {args.namespace}.{args.workflow_name}")
    return 0


def _we_delete(args: argparse.Namespace, ctx: Any) -> int:
    execution = _workflow_execution(ctx, args.workflow_execution_id)
    ctx.confirm(f"delete workflow execution {execution.id} with its task executions?")
    ctx.client.delete_workflow_execution(execution.id)
    ctx.write(f"deleted workflow execution {execution.id}")
    return 0


def _we_show(args: argparse.Namespace, ctx: Any) -> int:
    execution = _workflow_execution(ctx, args.workflow_execution_id)
    ctx.emit_one(execution_record(execution))
    ctx.no_engine_note(execution)
    return 0


def _we_list(args: argparse.Namespace, ctx: Any) -> int:
    executions = ctx.client.list_workflow_executions(args.workflow_name, args.namespace)
    ctx.emit_list([execution_record(e) for e in executions], WORKFLOW_EXECUTION_COLUMNS)
    return 0


def _te_start(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.start_task_execution(args.workflow_execution_id, args.task_name)
    ctx.write(f"asked the engine to start task {args.task_name!r} of workflow execution {args.workflow_execution_id}")
    return 0


def _te_stop(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.stop_task_execution(args.workflow_execution_id, args.task_name)
    ctx.write(f"asked the engine to stop task {args.task_name!r} of workflow execution {args.workflow_execution_id}")
    return 0


def _te_show(args: argparse.Namespace, ctx: Any) -> int:
    task_execution = ctx.client.get_task_execution(args.task_execution_id)
    ctx.found(task_execution, "task execution", args.task_execution_id, "task-execution")
    ctx.emit_one(execution_record(task_execution))
    return 0


def _te_log(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.cli.output import mask_text

    run = ctx.client.get_task_execution(args.task_execution_id)
    ctx.found(run, "task execution", args.task_execution_id, "task-execution")
    offset = 0
    while True:
        piece = ctx.client.read_task_execution_log(args.task_execution_id, offset)
        ctx.out.write(mask_text(piece.text))
        ctx.out.flush()
        offset = piece.next_offset
        if not args.follow or piece.complete:
            return 0
        time.sleep(args.interval)


def _te_list(args: argparse.Namespace, ctx: Any) -> int:
    task_executions = ctx.client.list_task_executions(args.workflow_execution_id)
    ctx.emit_list([execution_record(t) for t in task_executions], TASK_EXECUTION_COLUMNS)
    return 0


def register_workflow_execution(sub: Any) -> None:
    """Register the ``workflow-execution`` group."""
    we = group(sub, "workflow-execution", "Workflow execution related operations.")
    p = command(we, "start", _we_start, "Start a new execution of a workflow (an engine must be running; "
                "without one it stays INIT and a note says how to start one).",
                "aiflow workflow-execution start quickstart_workflow --namespace default",
                output=True, namespace=True)
    p.add_argument("workflow_name", help="name of the workflow")
    p = command(we, "stop", _we_stop, "Stop a workflow execution and its running tasks.",
                "aiflow workflow-execution stop 1")
    p.add_argument("workflow_execution_id", type=positive_int, help="id of the workflow execution")
    p = command(we, "stop-all", _we_stop_all, "Stop every running execution of a workflow.",
                "aiflow workflow-execution stop-all quickstart_workflow -y", namespace=True, confirm=True)
    p.add_argument("workflow_name", help="name of the workflow")
    p = command(we, "delete", _we_delete, "Delete a finished workflow execution with its task executions.",
                "aiflow workflow-execution delete 1 -y", confirm=True)
    p.add_argument("workflow_execution_id", type=positive_int, help="id of the workflow execution")
    p = command(we, "show", _we_show, "Show a workflow execution.", "aiflow workflow-execution show 1 -o json",
                output=True)
    p.add_argument("workflow_execution_id", type=positive_int, help="id of the workflow execution")
    p = command(we, "list", _we_list, "List the executions of a workflow.",
                "aiflow workflow-execution list quickstart_workflow --namespace default", output=True, namespace=True)
    p.add_argument("workflow_name", help="name of the workflow")


def register_task_execution(sub: Any) -> None:
    """Register the ``task-execution`` group."""
    te = group(sub, "task-execution", "Task execution related operations.")
    for name, handler, text, example in (
        ("start", _te_start, "Start a task of a running workflow execution (ignored if it runs).",
         "aiflow task-execution start 1 task4"),
        ("stop", _te_stop, "Stop the running execution of a task.", "aiflow task-execution stop 1 task4"),
    ):
        p = command(te, name, handler, text, example)
        p.add_argument("workflow_execution_id", type=positive_int, help="id of the workflow execution")
        p.add_argument("task_name", help="name of the task")
    p = command(te, "show", _te_show,
                "Show a task execution: status, why it started (event, rule, manual or periodic) and its log file.",
                "aiflow task-execution show 3", output=True)
    p.add_argument("task_execution_id", type=positive_int, help="id of the task execution")
    p = command(te, "log", _te_log, "Print the log of a task execution; with --follow, as it grows until the run ends.",
                "aiflow task-execution log 3\naiflow task-execution log 3 --follow")
    p.add_argument("task_execution_id", type=positive_int, help="id of the task execution")
    p.add_argument("-f", "--follow", action="store_true",
                   help="keep printing what the task writes until its run reaches a final status")
    p.add_argument("--interval", type=float, default=0.5, metavar="SECONDS",
                   help="pause between reads with --follow (default: 0.5)")
    p = command(te, "list", _te_list, "List the task executions of a workflow execution.",
                "aiflow task-execution list 1", output=True)
    p.add_argument("workflow_execution_id", type=positive_int, help="id of the workflow execution")
