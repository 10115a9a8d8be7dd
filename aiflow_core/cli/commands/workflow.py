"""``aiflow workflow upload|list|show|delete|disable|enable``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aiflow_core.cli.parser import add_output, command, group

COLUMNS = ("id", "namespace", "name", "is_enabled", "snapshot_id", "create_time", "update_time")


def summary(workflow: Any) -> dict[str, Any]:
    """A workflow record without its source text."""
    from aiflow_core.cli.output import to_data

    data = to_data(workflow)
    data.pop("content", None)
    return dict(data)


def _upload(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.errors import NotFoundError

    if not Path(args.file).is_file():
        raise NotFoundError("workflow file", args.file, "check the path")
    artifacts = [f for f in (args.files or "").split(",") if f] or None
    ctx.emit_list([summary(w) for w in ctx.client.upload_workflows(args.file, artifacts)], COLUMNS)
    note_local_modules(args.file, artifacts)
    return 0


def note_local_modules(file: str, artifacts: list[str] | None) -> None:
    """Say on stderr which modules beside ``file`` were shipped with it because it imports them."""
    import sys

    from aiflow_core.loader import local_modules

    modules = local_modules(file, artifacts or [])
    if modules:
        names = ", ".join(m.name + ("/" if m.is_dir() else "") for m in modules)
        sys.stderr.write(f"shipped with {Path(file).name} the local modules it imports: {names}\n")


def _list(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_list([summary(w) for w in ctx.client.list_workflows(args.namespace)], COLUMNS)
    return 0


def _get(ctx: Any, name: str, namespace: str) -> Any:
    from aiflow_core.errors import NotFoundError

    workflow = ctx.client.get_workflow(name, namespace)
    if workflow is None:
        if ctx.client.get_namespace(namespace) is None:
            raise NotFoundError("namespace", namespace, "create it with aiflow namespace add")
        raise NotFoundError("workflow", f"{namespace}.{name}", "upload it with aiflow workflow upload FILE")
    return workflow


def _show(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.cli import graph

    _get(ctx, args.workflow_name, args.namespace)
    definition = ctx.client.get_workflow_definition(args.workflow_name, args.namespace)
    if args.graph:
        drawn = graph.build_graph(definition)
        ctx.write(graph.to_dot(drawn) if args.format == "dot" else graph.to_mermaid(drawn))
        return 0
    record = summary(_get(ctx, args.workflow_name, args.namespace))
    record["tasks"] = sorted(definition.tasks)
    record["rules"] = {
        task: [repr(rule) for rule in rules] for task, rules in definition.rules.items()
    }
    if ctx.fmt in ("json", "yaml"):
        record["content"] = _get(ctx, args.workflow_name, args.namespace).content
    ctx.emit_one(record)
    return 0


def _delete(args: argparse.Namespace, ctx: Any) -> int:
    _get(ctx, args.workflow_name, args.namespace)
    ctx.confirm(f"delete workflow {args.namespace}.{args.workflow_name} with its executions, "
                "schedules, triggers and snapshots?")
    ctx.client.delete_workflow(args.workflow_name, args.namespace)
    ctx.write(f"deleted workflow {args.namespace}.{args.workflow_name}")
    return 0


def _disable(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.disable_workflow(args.workflow_name, args.namespace)
    ctx.write(f"disabled workflow {args.namespace}.{args.workflow_name}; running executions go on")
    return 0


def _enable(args: argparse.Namespace, ctx: Any) -> int:
    ctx.client.enable_workflow(args.workflow_name, args.namespace)
    ctx.write(f"enabled workflow {args.namespace}.{args.workflow_name}")
    return 0


def register(sub: Any) -> None:
    """Register the ``workflow`` group."""
    wf = group(sub, "workflow", "Workflow related operations.")
    p = command(wf, "upload", _upload, "Upload every workflow defined in a Python file (a new snapshot each).",
                "aiflow workflow upload quickstart.py --files model.pkl,data.csv", output=True)
    p.add_argument("file", help="Python file defining workflows")
    p.add_argument("--files", default=None, metavar="A,B",
                   help="comma-separated files to ship with the workflow (the modules beside FILE that it "
                   "imports are shipped without being named)")
    command(wf, "list", _list, "List the workflows of a namespace.", "aiflow workflow list --namespace default",
            output=True, namespace=True)
    p = command(wf, "show", _show, "Show a workflow: its record, tasks and rules, or draw it with --graph.",
                "aiflow workflow show quickstart_workflow\n"
                "aiflow workflow show quickstart_workflow --graph --format dot | dot -Tpng > wf.png",
                namespace=True)
    add_output(p)
    p.add_argument("workflow_name", help="name of the workflow")
    p.add_argument("--graph", action="store_true", help="print the tasks and rules as a graph")
    p.add_argument("--format", choices=("mermaid", "dot"), default="mermaid",
                   help="graph format with --graph (default: mermaid)")
    for name, handler, text, example, confirm in (
        ("delete", _delete, "Delete a workflow with its executions, schedules, triggers and snapshots.",
         "aiflow workflow delete quickstart_workflow -y", True),
        ("disable", _disable, "Disable a workflow: nothing new starts; running executions go on.",
         "aiflow workflow disable quickstart_workflow", False),
        ("enable", _enable, "Enable a disabled workflow.", "aiflow workflow enable quickstart_workflow", False),
    ):
        p = command(wf, name, handler, text, example, namespace=True, confirm=confirm)
        p.add_argument("workflow_name", help="name of the workflow")
