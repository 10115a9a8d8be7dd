"""Indexes for the newest-first pages of events by key, sender and workflow execution (the web UI's filters).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: Tables and ``table.column``s whose data the downgrade destroys (checked before it runs).
DOWNGRADE_DROPS: tuple[str, ...] = ()

def upgrade() -> None:
    """Add ``ix_event_key_offset``, ``ix_event_sender_offset`` and ``ix_event_wfe_offset``."""
    op.create_index(
        "ix_event_key_offset", "aiflow_event", ["key", "offset"],
        mysql_length={"key": 191}, mariadb_length={"key": 191},
    )
    op.create_index("ix_event_sender_offset", "aiflow_event", ["sender", "offset"])
    op.create_index("ix_event_wfe_offset", "aiflow_event", ["workflow_execution_id", "offset"])


def downgrade() -> None:
    """Drop the three indexes."""
    op.drop_index("ix_event_wfe_offset", table_name="aiflow_event")
    op.drop_index("ix_event_sender_offset", table_name="aiflow_event")
    op.drop_index("ix_event_key_offset", table_name="aiflow_event")
