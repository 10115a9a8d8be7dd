"""The SQL metadata store: transactions and schema versions."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from aiflow_core.errors import InvalidArgumentError, SchemaVersionError, StoreError
from aiflow_core.ports import Store, StoreTx
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.engine import create_engine, mask_url
from aiflow_storage.sql.errors import store_error
from aiflow_storage.sql.notify import Listener
from aiflow_storage.sql.tx_explain import ExplainOps
from aiflow_storage.sql.tx_log import LogOps
from aiflow_storage.sql.tx_meta import MetaOps
from aiflow_storage.sql.tx_plans import PlanOps
from aiflow_storage.sql.version import stored_version

log = logging.getLogger("aiflow.store")

_SESSIONS_OF = sa.text(
    "SELECT pid FROM pg_stat_activity WHERE application_name = :name AND pid <> pg_backend_pid()"
)

_TERMINATE = sa.text("SELECT pg_terminate_backend(:pid)")


def session_name(owner: str) -> str:
    """The PostgreSQL ``application_name`` of the sessions of lease holder ``owner``.

    ``aiflow <owner>``, or ``aiflow <digest of owner>`` when that is not
    ASCII or longer than the server keeps (63 bytes).
    """
    name = f"aiflow {owner}"
    if name.isascii() and len(name) <= 63:
        return name
    return "aiflow " + hashlib.sha256(owner.encode()).hexdigest()[:40]


class SqlTx(MetaOps, LogOps, PlanOps, ExplainOps, StoreTx):
    """One transaction on one connection."""


class SqlStore(Store):
    """A :class:`~aiflow_core.ports.Store` over SQLAlchemy 2 (SQLite, PostgreSQL, MySQL/MariaDB).

    ``upgrade()`` creates or upgrades the schema by running the Alembic
    migrations shipped in :mod:`aiflow_storage.sql.migrate`; opening a
    database whose schema is newer than
    :data:`~aiflow_storage.sql.schema.SCHEMA_VERSION` raises
    :class:`~aiflow_core.errors.SchemaVersionError`.
    """

    def __init__(self, url: str, idle_transaction_timeout: float | None = None, **engine_options: object) -> None:
        self.url = url
        self.engine = create_engine(url, idle_transaction_timeout, **engine_options)
        self.dialect = self.engine.dialect.name
        self._schema_checked = False
        self._lock = threading.Lock()
        self._pinned = threading.local()
        #: The ``application_name`` of new connections (PostgreSQL), set by :meth:`name_sessions`.
        self._session_name: str | None = None
        if self.dialect == "postgresql":
            sa.event.listen(self.engine, "do_connect", self._name_connection)

    def __repr__(self) -> str:
        return f"SqlStore({mask_url(self.url)!r})"

    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[StoreTx]:
        """Open a transaction; commits at the end of the block, rolls back on error.

        Inside :meth:`pinned` the thread's kept connection is used, else one
        from the pool. Database errors come out as the StoreError family
        (see :mod:`aiflow_storage.sql.errors`).
        """
        pinned: sa.Connection | None = getattr(self._pinned, "conn", None)
        try:
            if pinned is None:
                with self._connect() as conn, self._begin(conn, readonly) as tx:
                    yield tx
                return
            if pinned.invalidated or pinned.closed:
                pinned.close()
                pinned = self._pinned.conn = self._connect()
            with self._begin(pinned, readonly) as tx:
                yield tx
        except sa.exc.SQLAlchemyError as exc:
            raise store_error(exc, self.url) from exc

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Raise database errors of the block as the StoreError family (opening included)."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise store_error(exc, self.url) from exc

    def _connect(self) -> sa.Connection:
        """A connection from the pool; StoreUnavailableError (naming the masked URL) if there is none."""
        try:
            return self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise store_error(exc, self.url, connecting=True) from exc

    @staticmethod
    @contextmanager
    def _begin(conn: sa.Connection, readonly: bool) -> Iterator[SqlTx]:
        # Set both ways: a kept connection carries its options from one transaction to the next.
        conn.execution_options(aiflow_readonly=readonly)
        with conn.begin():
            tx = SqlTx(conn)
            yield tx
            tx.finish()

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block, this thread's transactions share one connection (re-entrant)."""
        if getattr(self._pinned, "conn", None) is not None:
            yield
            return
        self._pinned.conn = self._connect()
        try:
            yield
        finally:
            conn, self._pinned.conn = self._pinned.conn, None
            conn.close()

    def schema_version(self) -> int:
        """The stored schema version (0 when the database holds no aiflow schema)."""
        with self._connect() as conn:
            return stored_version(conn.execution_options(aiflow_readonly=True))

    def check_schema(self) -> None:
        """Raise unless the schema exists and is the version this code knows."""
        if self._schema_checked:
            return
        self._check_version(self.schema_version())
        self._schema_checked = True

    def _check_version(self, version: int) -> None:
        if version > t.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"database {mask_url(self.url)!r} has schema version {version}; this aiflow knows "
                f"versions up to {t.SCHEMA_VERSION}; upgrade aiflow"
            )
        if version < t.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"database {mask_url(self.url)!r} has schema version {version}, expected "
                f"{t.SCHEMA_VERSION}; run `aiflow db upgrade`"
            )

    def upgrade(self) -> int:
        """Create or upgrade the schema to the newest version by running the migrations, and return it.

        Cheap when the database is current (one read, no Alembic). Processes
        migrating one database at once take turns under a lock.
        """
        with self._lock, self._translated():
            with self._connect() as conn:
                conn.execution_options(aiflow_readonly=True)  # SQLite: no write lock to look
                version = stored_version(conn)
                ready = version == t.SCHEMA_VERSION and SqlTx(conn).get_namespace("default") is not None
            if version > t.SCHEMA_VERSION:
                self._schema_checked = False  # a newer aiflow may have upgraded it since
                self._check_version(version)
            if not ready:
                from aiflow_storage.sql import migrate

                with migrate.locked(self.engine) as conn:
                    current = stored_version(conn)  # another process may have migrated it meanwhile
                    if current > t.SCHEMA_VERSION:
                        self._check_version(current)
                    migrate.upgrade(conn)
                    tx = SqlTx(conn)
                    if tx.get_namespace("default") is None:
                        tx.add_namespace("default", {})
                    tx.finish()
            self._schema_checked = True
            return t.SCHEMA_VERSION

    def downgrade(self, version: int, force: bool = False) -> int:
        """Downgrade the schema to ``version`` (0 drops every aiflow table), one revision at a time.

        Unless ``force`` is true, raises :class:`~aiflow_core.errors.DataLossError`
        (changing nothing) when the downgrade would delete stored rows, as going
        to version 0 always does once the schema holds its default namespace.
        """
        if not 0 <= version <= t.SCHEMA_VERSION:
            raise InvalidArgumentError(
                f"cannot downgrade to schema version {version}; expected 0..{t.SCHEMA_VERSION}"
            )
        from aiflow_storage.sql import migrate

        with self._lock, self._translated(), migrate.locked(self.engine) as conn:
            self._schema_checked = False
            current = stored_version(conn)
            if current > t.SCHEMA_VERSION:
                self._check_version(current)
            return migrate.downgrade(conn, version, force=force)

    def _name_connection(self, _dialect: object, _record: object, _args: object, kwargs: dict[str, object]) -> None:
        if self._session_name is not None:
            kwargs["application_name"] = self._session_name

    def name_sessions(self, owner: str) -> None:
        """On PostgreSQL, name this store's sessions after ``owner`` (``application_name``, see :func:`session_name`).

        Pooled connections opened before are closed, so that every session
        of this store carries the name.
        """
        name = session_name(owner)
        if self.dialect != "postgresql" or name == self._session_name:
            return
        self._session_name = name
        self.engine.dispose()

    def end_sessions(self, owner: str) -> int:
        """On PostgreSQL, end (``pg_terminate_backend``) the sessions named after ``owner``; returns how many.

        A session the database does not let this user end is left, with a
        warning; so is every session when the database cannot be asked.
        Other databases: nothing (MariaDB ends a frozen holder's transaction
        by its ``idle_transaction_timeout`` alone).
        """
        if self.dialect != "postgresql":
            return 0
        ended = 0
        try:
            with self._translated(), self._connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for pid in conn.execute(_SESSIONS_OF, {"name": session_name(owner)}).scalars().all():
                    try:
                        ended += bool(conn.execute(_TERMINATE, {"pid": pid}).scalar())
                    except sa.exc.DBAPIError as exc:
                        log.warning("cannot end session %s of %s: %s", pid, owner, store_error(exc, self.url))
        except StoreError as exc:
            log.warning("cannot end the sessions of %s: %s", owner, exc)
        return ended

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """On PostgreSQL, call ``callback`` on every commit that appended events (LISTEN/NOTIFY)."""
        if self.dialect != "postgresql":
            return lambda: None
        listener = Listener(self.engine, callback)
        return listener.close

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()
