"""Fenced leadership: the lease's epoch (fencing token) and the heartbeat of each task attempt.

``aiflow_lease.epoch`` grows with every change of the lease's holder;
``aiflow_task_execution.heartbeat`` is the database time of the last
heartbeat recorded for the task execution's running attempt. Leases taken
before this revision start at epoch 0.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Tables and ``table.column``s whose data the downgrade destroys (checked before it runs). The epoch and
#: the heartbeats only coordinate running engines: releases before this revision neither read nor need them.
DOWNGRADE_DROPS: tuple[str, ...] = ()

# The column type as this revision declares it, frozen here.
TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Add ``aiflow_lease.epoch`` and ``aiflow_task_execution.heartbeat``."""
    op.add_column("aiflow_lease", sa.Column("epoch", sa.BigInteger, nullable=False, server_default="0"))
    op.add_column("aiflow_task_execution", sa.Column("heartbeat", TIME))


def downgrade() -> None:
    """Drop them."""
    op.drop_column("aiflow_task_execution", "heartbeat")
    op.drop_column("aiflow_lease", "epoch")
