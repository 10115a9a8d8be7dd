"""Schema migrations: the Alembic revisions shipped in ``migrations/``, run under a lock per dialect.

Alembic is configured in code (no ``alembic.ini``) and imported only here,
which the store imports when a database needs migrating.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory

from aiflow_core.errors import DataLossError
from aiflow_storage.sql.version import VERSION_TABLE, has_version_table, revision_id, stored_version

#: The Alembic script directory shipped in the package.
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK = 0x6169666C6F77  # "aiflow": the key of the PostgreSQL advisory lock
_MYSQL_LOCK_WAIT = 600  # seconds another process may hold the MySQL/MariaDB lock


def _config(conn: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = conn
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    """The revisions shipped in the package."""
    return ScriptDirectory.from_config(_config())


def configure_environment(context: Any) -> None:
    """Configure Alembic's environment (``migrations/env.py``) on the connection it was handed."""
    context.configure(
        connection=context.config.attributes["connection"],
        version_table=VERSION_TABLE,
        on_version_apply=_record_version,
    )


def _record_version(*, ctx: MigrationContext, step: MigrationInfo, heads: set[str], run_args: Any) -> None:
    """Keep ``aiflow_schema.version`` at the current version (releases before Alembic read it)."""
    if heads and ctx.connection is not None:
        ctx.connection.execute(sa.text("UPDATE aiflow_schema SET version = :v"), {"v": int(max(heads))})


@contextmanager
def locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that holds the database's migration lock; commits at the end.

    PostgreSQL takes a transaction-scoped advisory lock, MySQL/MariaDB a named
    lock per database, and SQLite's ``BEGIN IMMEDIATE`` (the store's engine
    begins every write that way) holds the database's write lock. A second
    process migrating the same database waits, then finds it current.
    """
    with engine.connect() as conn:
        dialect = engine.dialect.name
        if dialect in ("mysql", "mariadb"):
            name = conn.execute(sa.text("SELECT CONCAT('aiflow_migrate.', DATABASE())")).scalar_one()
            if conn.execute(sa.text("SELECT GET_LOCK(:n, :w)"), {"n": name, "w": _MYSQL_LOCK_WAIT}).scalar() != 1:
                raise TimeoutError(f"another process held the migration lock {name!r} for {_MYSQL_LOCK_WAIT} s")
            conn.commit()
        try:
            with conn.begin():
                if dialect == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
                yield conn
        finally:
            if dialect in ("mysql", "mariadb"):
                conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
                conn.commit()


def upgrade(conn: sa.Connection) -> None:
    """Migrate the database on ``conn`` to the newest version.

    A database made before aiflow used Alembic (version 1 recorded in
    ``aiflow_schema``, no version table) is stamped as revision 1 first,
    leaving its data as it is.
    """
    config = _config(conn)
    if not has_version_table(conn) and stored_version(conn) == 1:
        command.stamp(config, revision_id(1))
    command.upgrade(config, "head")


def downgrade(conn: sa.Connection, version: int, force: bool = False) -> int:
    """Migrate the database on ``conn`` down to ``version``, one revision at a time, and return it.

    Unless ``force`` is true, a downgrade whose revisions would delete stored
    data raises :class:`~aiflow_core.errors.DataLossError` before any of
    them runs. Version 0 drops every aiflow table, the version table included.
    """
    current = stored_version(conn)
    if version >= current:
        return current
    if not force:
        rows = data_lost(conn, current, version)
        if rows:
            raise DataLossError(version, rows)
    config = _config(conn)
    if not has_version_table(conn):
        command.stamp(config, revision_id(current))
    command.downgrade(config, revision_id(version) if version else "base")
    if version == 0:
        conn.execute(sa.text(f"DROP TABLE {VERSION_TABLE}"))
    return version


def data_lost(conn: sa.Connection, current: int, version: int) -> dict[str, int]:
    """Rows that downgrading from ``current`` to ``version`` would delete, by table (or ``table.column``)."""
    inspector = sa.inspect(conn)
    rows: dict[str, int] = {}
    for script in scripts().iterate_revisions(revision_id(current), revision_id(version) if version else "base"):
        module = script.module
        for name in module.DOWNGRADE_DROPS:
            table, _, column = name.partition(".")
            if not inspector.has_table(table):
                continue
            query = sa.select(sa.func.count()).select_from(sa.table(table))
            if column:
                query = query.where(sa.column(column).is_not(None))
            count = int(conn.execute(query).scalar_one())
            if count:
                rows[name] = count
    return rows


def history() -> list[dict[str, Any]]:
    """The shipped revisions, oldest first: version, revision id and what each does."""
    return [
        {"version": int(s.revision), "revision": s.revision, "description": (s.doc or "").strip()}
        for s in reversed(list(scripts().walk_revisions()))
    ]
