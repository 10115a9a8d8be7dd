"""``aiflow workflow-schedule ...`` and ``aiflow workflow-trigger ...``."""

from __future__ import annotations

import argparse
from typing import Any

from aiflow_core.cli.parser import command, group, positive_int

SCHEDULE_COLUMNS = ("id", "workflow_id", "expression", "is_paused", "misfire_policy", "next_fire_time",
                    "last_fire_time")
TRIGGER_COLUMNS = ("id", "workflow_id", "rule", "is_paused", "create_time")
_POLICIES = ("coalesce", "catch_up", "skip")


def _schedule(ctx: Any, schedule_id: int) -> Any:
    schedule = ctx.client.get_workflow_schedule(schedule_id)
    return ctx.found(schedule, "workflow schedule", schedule_id, "workflow-schedule")


def _trigger(ctx: Any, trigger_id: int) -> Any:
    trigger = ctx.client.get_workflow_trigger(trigger_id)
    return ctx.found(trigger, "workflow trigger", trigger_id, "workflow-trigger")


def _s_add(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_one(ctx.client.add_workflow_schedule(args.expression, args.workflow_name, args.namespace,
                                                  misfire_policy=args.misfire_policy))
    return 0


def _s_delete(args: argparse.Namespace, ctx: Any) -> int:
    _schedule(ctx, args.workflow_schedule_id)
    ctx.confirm(f"delete workflow schedule {args.workflow_schedule_id}?")
    ctx.client.delete_workflow_schedule(args.workflow_schedule_id)
    ctx.write(f"deleted workflow schedule {args.workflow_schedule_id}")
    return 0


def _s_delete_all(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.list_workflow_schedules(args.workflow_name, args.namespace, limit=1)  # the workflow exists
    ctx.confirm(f"delete every schedule of {args.namespace}.{args.workflow_name}?")
    ctx.client.delete_workflow_schedules(args.workflow_name, args.namespace)
    ctx.write(f"deleted every schedule of {args.namespace}.{args.workflow_name}")
    return 0


def _s_show(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_one(_schedule(ctx, args.workflow_schedule_id))
    return 0


def _s_list(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_list(ctx.client.list_workflow_schedules(args.workflow_name, args.namespace), SCHEDULE_COLUMNS)
    return 0


def _s_pause(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.pause_workflow_schedule(args.workflow_schedule_id)
    ctx.write(f"paused workflow schedule {args.workflow_schedule_id}")
    return 0


def _s_resume(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.resume_workflow_schedule(args.workflow_schedule_id)
    ctx.write(f"resumed workflow schedule {args.workflow_schedule_id}")
    return 0


def _t_add(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.model.internal.conditions import MeetAnyCondition, SingleEventCondition
    from aiflow_core.model.rule import WorkflowRule

    conditions = [SingleEventCondition(key) for key in args.event_key]
    condition = conditions[0] if len(conditions) == 1 else MeetAnyCondition(conditions)
    ctx.emit_one(ctx.client.add_workflow_trigger(WorkflowRule(condition), args.workflow_name, args.namespace))
    return 0


def _t_delete(args: argparse.Namespace, ctx: Any) -> int:
    _trigger(ctx, args.workflow_trigger_id)
    ctx.confirm(f"delete workflow trigger {args.workflow_trigger_id}?")
    ctx.client.delete_workflow_trigger(args.workflow_trigger_id)
    ctx.write(f"deleted workflow trigger {args.workflow_trigger_id}")
    return 0


def _t_delete_all(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.list_workflow_triggers(args.workflow_name, args.namespace, limit=1)  # the workflow exists
    ctx.confirm(f"delete every trigger of {args.namespace}.{args.workflow_name}?")
    ctx.client.delete_workflow_triggers(args.workflow_name, args.namespace)
    ctx.write(f"deleted every trigger of {args.namespace}.{args.workflow_name}")
    return 0


def _t_show(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_one(_trigger(ctx, args.workflow_trigger_id))
    return 0


def _t_list(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_list(ctx.client.list_workflow_triggers(args.workflow_name, args.namespace), TRIGGER_COLUMNS)
    return 0


def _t_pause(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.pause_workflow_trigger(args.workflow_trigger_id)
    ctx.write(f"paused workflow trigger {args.workflow_trigger_id}")
    return 0


def _t_resume(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.resume_workflow_trigger(args.workflow_trigger_id)
    ctx.write(f"resumed workflow trigger {args.workflow_trigger_id}")
    return 0


def _by_id(grp: Any, kind: str, dest: str, verbs: list[tuple[str, Any, str, bool, bool]]) -> None:
    for name, handler, text, output, confirm in verbs:
        p = command(grp, name, handler, text, f"aiflow {kind} {name} 1" + (" -y" if confirm else ""),
                    output=output, confirm=confirm)
        p.add_argument(dest, type=positive_int, help=f"id of the {kind.replace('-', ' ')}")


def register_schedule(sub: Any) -> None:
    """Register the ``workflow-schedule`` group."""
    ws = group(sub, "workflow-schedule", "Manage the periodic schedules of workflows.")
    p = command(ws, "add", _s_add, "Add a schedule: cron@<5 cron fields> or interval@<days hours minutes seconds>.",
                "aiflow workflow-schedule add quickstart_workflow 'cron@*/5 * * * *'\n"
                "aiflow workflow-schedule add quickstart_workflow 'interval@0 1 0 0'", output=True, namespace=True)
    p.add_argument("workflow_name", help="name of the workflow")
    p.add_argument("expression", help="cron@... or interval@...")
    p.add_argument("--misfire-policy", choices=_POLICIES, default="coalesce",
                   help="what happens to fires missed while no engine ran (default: coalesce)")
    _by_id(ws, "workflow-schedule", "workflow_schedule_id", [
        ("delete", _s_delete, "Delete a schedule.", False, True),
        ("show", _s_show, "Show a schedule.", True, False),
        ("pause", _s_pause, "Pause a schedule: the workflow no longer runs periodically.", False, False),
        ("resume", _s_resume, "Resume a paused schedule from its next due time.", False, False),
    ])
    p = command(ws, "delete-all", _s_delete_all, "Delete every schedule of a workflow.",
                "aiflow workflow-schedule delete-all quickstart_workflow -y", namespace=True, confirm=True)
    p.add_argument("workflow_name", help="name of the workflow")
    p = command(ws, "list", _s_list, "List the schedules of a workflow.",
                "aiflow workflow-schedule list quickstart_workflow -o json", output=True, namespace=True)
    p.add_argument("workflow_name", help="name of the workflow")


def register_trigger(sub: Any) -> None:
    """Register the ``workflow-trigger`` group."""
    wt = group(sub, "workflow-trigger", "Manage the event triggers of workflows.")
    p = command(wt, "add", _t_add, "Start an execution whenever an event with one of the keys arrives.",
                "aiflow workflow-trigger add quickstart_workflow --event-key new_data", output=True, namespace=True)
    p.add_argument("workflow_name", help="name of the workflow")
    p.add_argument("--event-key", action="append", required=True, help="event key (repeat for any of several)")
    _by_id(wt, "workflow-trigger", "workflow_trigger_id", [
        ("delete", _t_delete, "Delete a trigger.", False, True),
        ("show", _t_show, "Show a trigger.", True, False),
        ("pause", _t_pause, "Pause a trigger: it starts no execution until resumed.", False, False),
        ("resume", _t_resume, "Resume a paused trigger.", False, False),
    ])
    p = command(wt, "delete-all", _t_delete_all, "Delete every trigger of a workflow.",
                "aiflow workflow-trigger delete-all quickstart_workflow -y", namespace=True, confirm=True)
    p.add_argument("workflow_name", help="name of the workflow")
    p = command(wt, "list", _t_list, "List the triggers of a workflow.",
                "aiflow workflow-trigger list quickstart_workflow", output=True, namespace=True)
    p.add_argument("workflow_name", help="name of the workflow")
