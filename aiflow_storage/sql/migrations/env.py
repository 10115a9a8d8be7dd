"""Alembic environment of aiflow: migrates the connection that :mod:`aiflow_storage.sql.migrate` hands over.

There is no ``alembic.ini``: the configuration is built in code, and the
connection arrives in ``config.attributes["connection"]`` already inside the
transaction (and lock) of the caller.
"""

from __future__ import annotations

from alembic import context

from aiflow_storage.sql.migrate import configure_environment

configure_environment(context)
with context.begin_transaction():
    context.run_migrations()
