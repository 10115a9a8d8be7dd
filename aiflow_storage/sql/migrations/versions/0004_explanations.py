"""Explanations: what the scheduler evaluated for each event (``aiflow_explanation``).

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Tables and ``table.column``s whose data the downgrade destroys (checked before it runs).
DOWNGRADE_DROPS = ("aiflow_explanation",)

# The column types as this revision declares them, frozen here.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL: dict[str, Any] = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}


def upgrade() -> None:
    """Create ``aiflow_explanation`` and its indexes."""
    op.create_table(
        "aiflow_explanation",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("event_offset", sa.BigInteger, nullable=False),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("workflow_execution_id", ID),
        sa.Column("workflow_id", ID),
        sa.Column("task_name", sa.String(255)),
        sa.Column("create_time", TIME, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        **MYSQL,
    )
    op.create_index("ix_aiflow_explanation_event_offset", "aiflow_explanation", ["event_offset"])
    op.create_index("ix_aiflow_explanation_workflow_id", "aiflow_explanation", ["workflow_id"])
    op.create_index("ix_aiflow_explanation_create_time", "aiflow_explanation", ["create_time"])
    op.create_index("ix_explanation_wfe_task", "aiflow_explanation", ["workflow_execution_id", "task_name", "id"])


def downgrade() -> None:
    """Drop ``aiflow_explanation``."""
    op.drop_table("aiflow_explanation")
