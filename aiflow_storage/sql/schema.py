"""Tables of the aiflow database: the schema the code works with, at :data:`SCHEMA_VERSION`.

Databases get there through the Alembic revisions in ``migrations/versions``
(revision ``"0003"`` is version 3); every change here comes with a new
revision, and a test checks that the migrated database matches this metadata.

Times are stored as naive UTC and returned as aware UTC. Column types have
MySQL variants where MySQL's defaults are too small (second-precision
DATETIME, 64 KiB TEXT/BLOB).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: The schema version this code works with: the number of the newest revision in ``migrations/versions``.
SCHEMA_VERSION = 3

metadata = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A DATETIME column holding UTC; aware datetimes in, aware UTC out."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        """Microsecond DATETIME on MySQL/MariaDB, plain DATETIME elsewhere."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        """Store as naive UTC."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        """Return aware UTC."""
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LongBlob = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
Json = sa.JSON()
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


#: Holds the schema version for releases made before the migrations (they refuse a newer database).
schema_info = sa.Table(
    "aiflow_schema",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

namespaces = sa.Table(
    "aiflow_namespace",
    metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("properties", Json, nullable=False),
)

workflows = sa.Table(
    "aiflow_workflow",
    metadata,
    _id(),
    sa.Column("namespace", sa.String(255), sa.ForeignKey("aiflow_namespace.name"), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("content", LongText, nullable=False),
    sa.Column("is_enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("snapshot_id", Id, nullable=True),
    sa.Column("create_time", UtcDateTime, nullable=False),
    sa.Column("update_time", UtcDateTime, nullable=False),
    sa.UniqueConstraint("namespace", "name", name="uq_workflow_name"),
)

snapshots = sa.Table(
    "aiflow_workflow_snapshot",
    metadata,
    _id(),
    sa.Column("workflow_id", Id, sa.ForeignKey("aiflow_workflow.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("uri", sa.String(1024), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("workflow_object", LongBlob, nullable=False),
    sa.Column("create_time", UtcDateTime, nullable=False),
)

workflow_executions = sa.Table(
    "aiflow_workflow_execution",
    metadata,
    _id(),
    sa.Column("workflow_id", Id, sa.ForeignKey("aiflow_workflow.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("snapshot_id", Id, sa.ForeignKey("aiflow_workflow_snapshot.id"), nullable=False),
    sa.Column("execution_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("begin_date", UtcDateTime),
    sa.Column("end_date", UtcDateTime),
    sa.Column("cause", Json),
)

task_executions = sa.Table(
    "aiflow_task_execution",
    metadata,
    _id(),
    sa.Column(
        "workflow_execution_id",
        Id,
        sa.ForeignKey("aiflow_workflow_execution.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("task_name", sa.String(255), nullable=False),
    sa.Column("sequence_number", sa.Integer, nullable=False),
    sa.Column("try_number", sa.Integer, nullable=False),
    sa.Column("execution_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cause", Json, nullable=False),
    sa.Column("begin_date", UtcDateTime),
    sa.Column("end_date", UtcDateTime),
    sa.Column("error", LongText),
    sa.Column("log_path", sa.String(1024)),
    sa.Column("heartbeat", UtcDateTime),
    sa.Index("ix_task_execution_wfe", "workflow_execution_id", "task_name", "sequence_number"),
    sa.Index("ix_task_execution_status", "status"),
)

states = sa.Table(
    "aiflow_state",
    metadata,
    sa.Column("scope", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", LongBlob, nullable=False),
)

events = sa.Table(
    "aiflow_event",
    metadata,
    sa.Column("offset", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(1024), nullable=False),
    sa.Column("value", LongText),
    sa.Column("namespace", sa.String(255), nullable=False),
    sa.Column("sender", sa.String(255)),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("workflow_execution_id", Id),
    sa.Column("context", Json),
    sa.Column("create_time", UtcDateTime, nullable=False, index=True),
    sa.Column("idempotency_key", sa.String(255), unique=True),
    sa.Index(
        "ix_event_ns_key",
        "namespace",
        "key",
        mysql_length={"key": 191},
        mariadb_length={"key": 191},
    ),
)

counters = sa.Table(
    "aiflow_counter",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

leases = sa.Table(
    "aiflow_lease",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("expires", UtcDateTime, nullable=False),
    sa.Column("epoch", sa.BigInteger, nullable=False, server_default="0"),
)

timers = sa.Table(
    "aiflow_timer",
    metadata,
    _id(),
    sa.Column("fire_time", UtcDateTime, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dedup_key", sa.String(255), nullable=False, unique=True),
    sa.Column("payload", Json, nullable=False),
)

schedules = sa.Table(
    "aiflow_workflow_schedule",
    metadata,
    _id(),
    sa.Column("workflow_id", Id, sa.ForeignKey("aiflow_workflow.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("expression", sa.String(255), nullable=False),
    sa.Column("is_paused", sa.Boolean, nullable=False),
    sa.Column("misfire_policy", sa.String(16), nullable=False),
    sa.Column("next_fire_time", UtcDateTime),
    sa.Column("last_fire_time", UtcDateTime),
    sa.Column("create_time", UtcDateTime, nullable=False),
    sa.Index("ix_schedule_due", "is_paused", "next_fire_time"),
)

triggers = sa.Table(
    "aiflow_workflow_trigger",
    metadata,
    _id(),
    sa.Column("workflow_id", Id, sa.ForeignKey("aiflow_workflow.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("rule", LongBlob, nullable=False),
    sa.Column("is_paused", sa.Boolean, nullable=False),
    sa.Column("create_time", UtcDateTime, nullable=False),
)

# MySQL/MariaDB: full Unicode, and binary comparison so that names, keys and
# state scopes are case- and accent-sensitive as on SQLite and PostgreSQL.
for _table in metadata.tables.values():
    for _dialect in ("mysql", "mariadb"):
        _table.dialect_kwargs[f"{_dialect}_charset"] = "utf8mb4"
        _table.dialect_kwargs[f"{_dialect}_collate"] = "utf8mb4_bin"
