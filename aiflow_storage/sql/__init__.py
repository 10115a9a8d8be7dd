"""The SQL store: every durable thing of aiflow in one database through SQLAlchemy 2."""

from aiflow_storage.sql.engine import mask_url, normalize_url
from aiflow_storage.sql.schema import SCHEMA_VERSION
from aiflow_storage.sql.store import SqlStore, SqlTx

__all__ = ["SCHEMA_VERSION", "SqlStore", "SqlTx", "mask_url", "normalize_url"]
