"""``aiflow explain task-execution|task|event``: why a task ran, why it has not, what an event did."""

from __future__ import annotations

import argparse
from typing import Any

from aiflow_core.cli.parser import add_output, command, group, positive_int

_FORMATS = ("text", "json", "yaml")


def _emit(ctx: Any, explanation: Any) -> int:
    """Print an explanation: readable text, or its ``to_dict()`` as JSON or YAML."""
    if ctx.fmt == "text":
        ctx.write(explanation.describe())
        return 0
    from aiflow_core.cli.output import render_one

    ctx.write(render_one(explanation.to_dict(), ctx.fmt))
    return 0


def _task_execution(args: argparse.Namespace, ctx: Any) -> int:
    return _emit(ctx, ctx.client.explain_task_execution(args.id))


def _task(args: argparse.Namespace, ctx: Any) -> int:
    return _emit(ctx, ctx.client.explain_task(args.name, args.execution, limit=args.limit))


def _event(args: argparse.Namespace, ctx: Any) -> int:
    return _emit(ctx, ctx.client.explain_event(args.offset))


def register(sub: Any) -> None:
    """Register the ``explain`` group."""
    ex = group(sub, "explain", "Explain the scheduler's decisions: why a task ran, why not, what an event did.")
    p = command(
        ex, "task-execution", _task_execution,
        "Show the chain of events and rules that started a task run, back to its workflow execution's start.",
        "aiflow explain task-execution 4",
    )
    p.add_argument("id", type=positive_int, help="task execution id")
    add_output(p, _FORMATS)
    p = command(
        ex, "task", _task,
        "Say why a task of a workflow execution runs, ran or has not started: what each of its rules waits for.",
        "aiflow explain task consumer --execution 1",
    )
    p.add_argument("name", help="task name")
    p.add_argument("--execution", "-e", type=positive_int, required=True, help="workflow execution id")
    p.add_argument("--limit", type=positive_int, default=10, help="recent evaluations shown (default: 10)")
    add_output(p, _FORMATS)
    p = command(
        ex, "event", _event, "Show everything an event did: each rule and trigger that expected it, and the outcome.",
        "aiflow explain event 15",
    )
    p.add_argument("offset", type=positive_int, help="event offset")
    add_output(p, _FORMATS)
