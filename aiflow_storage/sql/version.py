"""Which schema version a database holds, read without Alembic so that a current database is checked cheaply.

Schema versions are the numbers of the Alembic revisions in ``migrations/``
(revision ``"0002"`` is version 2); 0 is a database without aiflow's tables.
A database made before aiflow used Alembic has no version table but records
version 1 in ``aiflow_schema``; migrations keep that row at the current
version too, so releases from before the migrations refuse a newer database.
"""

from __future__ import annotations

import sqlalchemy as sa

from aiflow_core.errors import SchemaVersionError
from aiflow_storage.sql import schema as t

#: Alembic's version table, named like aiflow's other tables so it never meets a host application's own.
VERSION_TABLE = "aiflow_alembic_version"


def revision_id(version: int) -> str:
    """The Alembic revision of schema ``version`` (``2`` -> ``"0002"``)."""
    return f"{version:04d}"


def has_version_table(conn: sa.Connection) -> bool:
    """Whether the database records an Alembic revision (False before its first migration)."""
    return sa.inspect(conn).has_table(VERSION_TABLE)


def stored_version(conn: sa.Connection) -> int:
    """The schema version of the database on ``conn`` (0 when it holds no aiflow schema).

    Raises :class:`~aiflow_core.errors.SchemaVersionError` for a revision
    that is not an aiflow schema version.
    """
    if has_version_table(conn):
        revisions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        if not revisions:
            return 0
        if len(revisions) > 1 or not revisions[0].isdigit():
            raise SchemaVersionError(
                f"database holds revision {', '.join(map(repr, sorted(revisions)))} in {VERSION_TABLE}; "
                f"expected one aiflow schema version such as {revision_id(t.SCHEMA_VERSION)!r}"
            )
        return int(revisions[0])
    if sa.inspect(conn).has_table(t.schema_info.name):
        return int(conn.execute(sa.select(t.schema_info.c.version)).scalar() or 0)
    return 0
