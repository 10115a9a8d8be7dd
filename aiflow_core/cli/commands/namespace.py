"""``aiflow namespace add|list|update|delete``."""

from __future__ import annotations

import argparse
from typing import Any

from aiflow_core.cli.parser import command, group, json_object

COLUMNS = ("name", "properties")


def _add(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_one(ctx.client.add_namespace(args.name, args.properties))
    return 0


def _list(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_list(ctx.client.list_namespace(), COLUMNS)
    return 0


def _update(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_one(ctx.client.update_namespace(args.name, args.properties))
    return 0


def _delete(args: argparse.Namespace, ctx: Any) -> int:
    ctx.found(ctx.client.get_namespace(args.name), "namespace", args.name, "namespace")
    what = " and every workflow in it" if args.force else ""
    ctx.confirm(f"delete namespace {args.name!r}{what}?")
    ctx.client.delete_namespace(args.name, force=args.force)
    ctx.write(f"deleted namespace {args.name!r}")
    return 0


def register(sub: Any) -> None:
    """Register the ``namespace`` group."""
    ns = group(sub, "namespace", "Namespace related operations.")
    p = command(ns, "add", _add, "Create a namespace.",
                "aiflow namespace add team_a --properties '{\"owner\": \"ml\"}'", output=True)
    p.add_argument("name", help="namespace name")
    p.add_argument("--properties", type=json_object, default=None, help="properties as a JSON object")
    command(ns, "list", _list, "List the namespaces.", "aiflow namespace list -o json", output=True)
    p = command(ns, "update", _update, "Replace the properties of a namespace.",
                "aiflow namespace update team_a --properties '{\"owner\": \"data\"}'", output=True)
    p.add_argument("name", help="namespace name")
    p.add_argument("--properties", type=json_object, required=True, help="properties as a JSON object")
    p = command(ns, "delete", _delete, "Delete a namespace (with --force, also its workflows).",
                "aiflow namespace delete team_a -y", confirm=True)
    p.add_argument("name", help="namespace name")
    p.add_argument("--force", action="store_true", help="also delete the workflows of the namespace")
