"""An index on task executions by status: the engine lists the alive ones (queued, running, stopping) when it starts.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Tables and ``table.column``s whose data the downgrade destroys (checked before it runs).
DOWNGRADE_DROPS: tuple[str, ...] = ()


def upgrade() -> None:
    """Add ``ix_task_execution_status``."""
    op.create_index("ix_task_execution_status", "aiflow_task_execution", ["status"])


def downgrade() -> None:
    """Drop ``ix_task_execution_status``."""
    op.drop_index("ix_task_execution_status", table_name="aiflow_task_execution")
