"""``aiflow config init|get-value|list``: the configuration file and its resolved values."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from aiflow_core.cli.parser import command, group

_SECRET_KEY = re.compile(r"secret|password|passwd|token|credential|account_key|sas|private", re.IGNORECASE)


def masked(value: Any, key: str = "") -> Any:
    """Return ``value`` with secrets hidden: keys that name secrets, passwords in URLs."""
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if value not in (None, "") and _SECRET_KEY.search(key):
        return "***"
    if isinstance(value, str):
        from aiflow_core.cli.output import mask_text

        return mask_text(value)
    return value


def resolved() -> dict[str, Any]:
    """The resolved configuration (file plus environment), secrets masked."""
    from aiflow_core.cli.output import to_data
    from aiflow_core.config import load_config

    return dict(masked(to_data(load_config().as_dict())))


def _init(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.config import init_config

    path, created = init_config()
    if created:
        ctx.write(f"created {path}")
    else:
        ctx.write(f"{path} already exists; left unchanged (remove it to write the defaults again)")
    return 0


def _get_value(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.errors import NotFoundError

    values = resolved()
    if args.key not in values:
        raise NotFoundError("config key", args.key, f"known keys: {', '.join(sorted(values))}")
    value = values[args.key]
    ctx.write(json.dumps(value) if isinstance(value, (dict, list)) else ("" if value is None else str(value)))
    return 0


def _list(args: argparse.Namespace, ctx: Any) -> int:
    ctx.emit_one(resolved())
    return 0


def register(sub: Any) -> None:
    """Register the ``config`` group."""
    cfg = group(sub, "config", "Manage the configuration file $AIFLOW_HOME/aiflow.yaml.")
    command(cfg, "init", _init, "Write the default configuration file unless one exists.",
            "AIFLOW_HOME=~/aiflow aiflow config init")
    p = command(cfg, "get-value", _get_value, "Print one resolved configuration value.",
                "aiflow config get-value metadata_backend_uri")
    p.add_argument("key", help="configuration key, e.g. metadata_backend_uri, task_executor")
    command(cfg, "list", _list, "Show the resolved configuration (file plus environment; secrets masked).",
            "aiflow config list -o yaml", output=True)
