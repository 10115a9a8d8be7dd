"""Which store a database URL opens: the one place that maps a URL scheme to a store.

``memory://`` opens a fresh :class:`~aiflow_core.testing.memory.MemoryStore`;
every other URL is a SQL database for :class:`~aiflow_storage.sql.SqlStore`,
which checks it (``sqlite``, ``postgresql``, ``mysql``, ``mariadb``). Stores
are imported only when opened, so a memory store loads no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable

from aiflow_core.ports import Store


def _memory_store(url: str, idle_transaction_timeout: float | None) -> Store:
    from aiflow_core.testing.memory import MemoryStore

    return MemoryStore(url)


def _sql_store(url: str, idle_transaction_timeout: float | None) -> Store:
    from aiflow_storage.sql import SqlStore

    return SqlStore(url, idle_transaction_timeout)


#: URL scheme -> the factory of its store (``(url, idle_transaction_timeout)``); URLs of any other scheme go
#: to the SQL store.
STORE_FACTORIES: dict[str, Callable[[str, float | None], Store]] = {"memory": _memory_store}


def open_store(url: str, idle_transaction_timeout: float | None = None) -> Store:
    """Open the store ``url`` names (not yet upgraded).

    A database that can end a transaction left idle (PostgreSQL, MariaDB)
    ends this store's after ``idle_transaction_timeout`` seconds (a process
    frozen inside one then stops holding its locks); None keeps the store's
    default.
    """
    scheme = url.partition("://")[0].lower() if isinstance(url, str) else ""
    return STORE_FACTORIES.get(scheme, _sql_store)(url, idle_transaction_timeout)
