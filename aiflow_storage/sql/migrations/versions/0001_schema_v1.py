"""Schema version 1: every table of aiflow 0.1 (the schema made before migrations existed).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Tables and ``table.column``s whose data the downgrade destroys (checked before it runs).
DOWNGRADE_DROPS = (
    "aiflow_workflow_trigger",
    "aiflow_workflow_schedule",
    "aiflow_timer",
    "aiflow_lease",
    "aiflow_counter",
    "aiflow_event",
    "aiflow_state",
    "aiflow_task_execution",
    "aiflow_workflow_execution",
    "aiflow_workflow_snapshot",
    "aiflow_workflow",
    "aiflow_namespace",
)

# The column types as version 1 declared them, frozen here.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LONG_BLOB = sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
MYSQL: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}


def _id() -> sa.Column[int]:
    return sa.Column("id", ID, primary_key=True, autoincrement=True)


def _workflow_id() -> sa.Column[int]:
    return sa.Column("workflow_id", ID, sa.ForeignKey("aiflow_workflow.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    """Create the tables of version 1."""
    op.create_table(
        "aiflow_schema",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "aiflow_namespace",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("properties", sa.JSON, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "aiflow_workflow",
        _id(),
        sa.Column("namespace", sa.String(255), sa.ForeignKey("aiflow_namespace.name"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content", LONG_TEXT, nullable=False),
        sa.Column("is_enabled", sa.Boolean, nullable=False),
        sa.Column("snapshot_id", ID, nullable=True),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("update_time", TIME, nullable=False),
        sa.UniqueConstraint("namespace", "name", name="uq_workflow_name"),
        **MYSQL,
    )
    op.create_table(
        "aiflow_workflow_snapshot",
        _id(),
        _workflow_id(),
        sa.Column("uri", sa.String(1024), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("workflow_object", LONG_BLOB, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        **MYSQL,
    )
    op.create_index("ix_aiflow_workflow_snapshot_workflow_id", "aiflow_workflow_snapshot", ["workflow_id"])
    op.create_table(
        "aiflow_workflow_execution",
        _id(),
        _workflow_id(),
        sa.Column("snapshot_id", ID, sa.ForeignKey("aiflow_workflow_snapshot.id"), nullable=False),
        sa.Column("execution_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("begin_date", TIME),
        sa.Column("end_date", TIME),
        sa.Column("cause", sa.JSON),
        **MYSQL,
    )
    op.create_index("ix_aiflow_workflow_execution_workflow_id", "aiflow_workflow_execution", ["workflow_id"])
    op.create_index("ix_aiflow_workflow_execution_status", "aiflow_workflow_execution", ["status"])
    op.create_table(
        "aiflow_task_execution",
        _id(),
        sa.Column(
            "workflow_execution_id",
            ID,
            sa.ForeignKey("aiflow_workflow_execution.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("task_name", sa.String(255), nullable=False),
        sa.Column("sequence_number", sa.Integer, nullable=False),
        sa.Column("try_number", sa.Integer, nullable=False),
        sa.Column("execution_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cause", sa.JSON, nullable=False),
        sa.Column("begin_date", TIME),
        sa.Column("end_date", TIME),
        sa.Column("error", LONG_TEXT),
        sa.Column("log_path", sa.String(1024)),
        **MYSQL,
    )
    op.create_index(
        "ix_task_execution_wfe", "aiflow_task_execution", ["workflow_execution_id", "task_name", "sequence_number"]
    )
    op.create_table(
        "aiflow_state",
        sa.Column("scope", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", LONG_BLOB, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "aiflow_event",
        sa.Column("offset", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("value", LONG_TEXT),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(255)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("workflow_execution_id", ID),
        sa.Column("context", sa.JSON),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("idempotency_key", sa.String(255)),
        sa.UniqueConstraint("idempotency_key"),
        **MYSQL,
    )
    op.create_index("ix_aiflow_event_create_time", "aiflow_event", ["create_time"])
    op.create_index(
        "ix_event_ns_key", "aiflow_event", ["namespace", "key"], mysql_length={"key": 191}, mariadb_length={"key": 191}
    )
    op.create_table(
        "aiflow_counter",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "aiflow_lease",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("expires", TIME, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "aiflow_timer",
        _id(),
        sa.Column("fire_time", TIME, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.UniqueConstraint("dedup_key"),
        **MYSQL,
    )
    op.create_index("ix_aiflow_timer_fire_time", "aiflow_timer", ["fire_time"])
    op.create_table(
        "aiflow_workflow_schedule",
        _id(),
        _workflow_id(),
        sa.Column("expression", sa.String(255), nullable=False),
        sa.Column("is_paused", sa.Boolean, nullable=False),
        sa.Column("misfire_policy", sa.String(16), nullable=False),
        sa.Column("next_fire_time", TIME),
        sa.Column("last_fire_time", TIME),
        sa.Column("create_time", TIME, nullable=False),
        **MYSQL,
    )
    op.create_index("ix_aiflow_workflow_schedule_workflow_id", "aiflow_workflow_schedule", ["workflow_id"])
    op.create_index("ix_schedule_due", "aiflow_workflow_schedule", ["is_paused", "next_fire_time"])
    op.create_table(
        "aiflow_workflow_trigger",
        _id(),
        _workflow_id(),
        sa.Column("rule", LONG_BLOB, nullable=False),
        sa.Column("is_paused", sa.Boolean, nullable=False),
        sa.Column("create_time", TIME, nullable=False),
        **MYSQL,
    )
    op.create_index("ix_aiflow_workflow_trigger_workflow_id", "aiflow_workflow_trigger", ["workflow_id"])
    op.execute(sa.text("INSERT INTO aiflow_schema (id, version) VALUES (1, 1)"))


def downgrade() -> None:
    """Drop every table of version 1 (dependent tables first)."""
    for table in (*DOWNGRADE_DROPS, "aiflow_schema"):
        op.drop_table(table)
