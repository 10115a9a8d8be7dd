"""``aiflow db init|upgrade|downgrade|reset|version``: the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from aiflow_core.cli.parser import command, group


def _store(ctx: Any) -> Any:
    from aiflow_core.client import Client

    ctx._client = Client(db_url=ctx.db_url, upgrade=False)
    return ctx._client.store


def _where(ctx: Any) -> str:
    from aiflow_storage.sql import mask_url

    return mask_url(ctx._client.db_url)


def _upgrade(args: argparse.Namespace, ctx: Any) -> int:
    store = _store(ctx)
    before = store.schema_version()
    after = store.upgrade()
    if before == after:
        ctx.write(f"database {_where(ctx)} is at schema version {after}; nothing to do")
    else:
        ctx.write(f"database {_where(ctx)} upgraded from schema version {before} to {after}")
    return 0


def _downgrade(args: argparse.Namespace, ctx: Any) -> int:
    store = _store(ctx)
    before = store.schema_version()
    if args.version < before:
        ctx.confirm(f"downgrade {_where(ctx)} from schema version {before} to {args.version}? "
                    "Data of newer versions is dropped")
    after = store.downgrade(args.version)
    ctx.write(f"database {_where(ctx)} is at schema version {min(before, after)}")
    return 0


def _reset(args: argparse.Namespace, ctx: Any) -> int:
    store = _store(ctx)
    ctx.confirm(f"drop every aiflow table of {_where(ctx)} and create them empty?")
    store.downgrade(0)
    version = store.upgrade()
    ctx.write(f"database {_where(ctx)} reset to an empty schema version {version}")
    return 0


def _version(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_storage.sql import SCHEMA_VERSION

    version = _store(ctx).schema_version()
    ctx.emit_one({"database": _where(ctx), "schema_version": version, "latest_schema_version": SCHEMA_VERSION})
    return 0


def register(sub: Any) -> None:
    """Register the ``db`` group."""
    db = group(sub, "db", "Database operations: create, upgrade, downgrade or reset the schema.")
    command(db, "init", _upgrade, "Create the tables (or upgrade them) in the configured database.",
            "aiflow db init\naiflow --db-url postgresql://user@127.0.0.1/aiflow db init")
    command(db, "upgrade", _upgrade, "Upgrade the schema to the version this aiflow knows.", "aiflow db upgrade")
    p = command(db, "downgrade", _downgrade,
                "Downgrade the schema to VERSION (0 drops every aiflow table).", "aiflow db downgrade 0 -y",
                confirm=True)
    p.add_argument("version", type=int, help="target schema version")
    command(db, "reset", _reset, "Drop every aiflow table and create them empty (asks first).",
            "aiflow db reset -y", confirm=True)
    command(db, "version", _version, "Show the schema version of the database.", "aiflow db version -o json",
            output=True)
