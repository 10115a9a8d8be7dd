"""``aiflow db init|upgrade|downgrade|reset|version``: the database schema and its migrations."""

from __future__ import annotations

import argparse
from typing import Any

from aiflow_core.cli.parser import UsageError, command, group


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


def target_version(revision: str, current: int) -> int:
    """The schema version ``aiflow db downgrade REVISION`` goes to from ``current``.

    ``REVISION`` is a version number or revision id (``1``, ``0001``), ``-N``
    for N revisions below the current one, or ``base`` (version 0: no tables).
    """
    text = revision.strip().lower()
    if text == "base":
        return 0
    if text.startswith("-") and text[1:].isdigit() and int(text[1:]) > 0:
        return max(current - int(text[1:]), 0)
    if text.isdigit():
        return int(text)
    raise UsageError(
        f"revision {revision!r} is not a schema version; expected a version number such as 1 (or 0001), "
        "-N for N revisions down, or base"
    )


def _downgrade(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.errors import DataLossError

    store = _store(ctx)
    before = store.schema_version()
    target = target_version(args.revision, before)
    if target > before:
        raise UsageError(
            f"cannot downgrade {_where(ctx)} to schema version {target}: it is at version {before}; "
            "to go up, run aiflow db upgrade"
        )
    if target == before:
        ctx.write(f"database {_where(ctx)} is at schema version {before}; nothing to do")
        return 0
    try:
        store.downgrade(target)
    except DataLossError as exc:
        lost = ", ".join(f"{n} row{'' if n == 1 else 's'} of {name}" for name, n in exc.rows.items())
        ctx.confirm(f"downgrade {_where(ctx)} from schema version {before} to {target}? It deletes {lost}")
        store.downgrade(target, force=True)
    ctx.write(f"database {_where(ctx)} downgraded from schema version {before} to {target}")
    return 0


def _reset(args: argparse.Namespace, ctx: Any) -> int:
    store = _store(ctx)
    ctx.confirm(f"drop every aiflow table of {_where(ctx)} and create them empty?")
    store.downgrade(0, force=True)
    version = store.upgrade()
    ctx.write(f"database {_where(ctx)} reset to an empty schema version {version}")
    return 0


def _version(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_storage.sql import SCHEMA_VERSION
    from aiflow_storage.sql.version import revision_id

    version = _store(ctx).schema_version()
    record: dict[str, Any] = {
        "database": _where(ctx),
        "schema_version": version,
        "latest_schema_version": SCHEMA_VERSION,
        "revision": revision_id(version) if version else None,
        "latest_revision": revision_id(SCHEMA_VERSION),
    }
    if ctx.fmt in ("json", "yaml"):
        from aiflow_storage.sql.migrate import history

        record["history"] = history()
    ctx.emit_one(record)
    return 0


def register(sub: Any) -> None:
    """Register the ``db`` group."""
    db = group(sub, "db", "Database operations: create, upgrade, downgrade or reset the schema.")
    command(db, "init", _upgrade, "Create the tables (or upgrade them) in the configured database.",
            "aiflow db init\naiflow --db-url postgresql://user@127.0.0.1/aiflow db init")
    command(db, "upgrade", _upgrade, "Run the migrations up to the schema version this aiflow knows.",
            "aiflow db upgrade")
    p = command(db, "downgrade", _downgrade,
                "Run the migrations down to REVISION, one revision at a time.",
                "aiflow db downgrade -1\naiflow db downgrade 1\naiflow db downgrade base -y",
                confirm=True,
                details="REVISION is a schema version (1, or its revision id 0001), -N for N revisions down, "
                        "or base (0: drop every aiflow table). A downgrade that would delete rows asks first.")
    p.add_argument("revision", metavar="REVISION", help="target schema version, -N, or base")
    command(db, "reset", _reset, "Drop every aiflow table and create them empty (asks first).",
            "aiflow db reset -y", confirm=True)
    command(db, "version", _version,
            "Show the schema version of the database and the latest one (with -o json, every revision).",
            "aiflow db version -o json", output=True)
