"""Building SQLAlchemy engines from database URLs, per dialect."""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from aiflow_core.errors import ConfigError, install_hint
from aiflow_core.homefiles import private_dir

_DRIVER_HINTS = {
    "postgresql": install_hint("postgres"),
    "mysql": install_hint("mysql"),
    "mariadb": install_hint("mysql"),
}
_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}


#: Seconds a transaction may sit idle before PostgreSQL or MariaDB ends it, unless told otherwise (engines
#: and clients pass their ``scheduler_lease_ttl``). aiflow's transactions never wait on anything but their own
#: work, so only a frozen process (SIGSTOP, a stalled VM) holds one open that long; ending it frees the rows it
#: locked, so that another engine can take over once the lease runs out. The frozen process's commit then
#: fails, and fencing would refuse it anyway.
IDLE_TRANSACTION_TIMEOUT = 10.0

_PASSWORD = re.compile(r"(//[^/?#@:]*:).*@")  # to the last "@": over-masking is safe


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (also when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1***@", url)


def _create_private(path: Path) -> None:
    """Create a missing SQLite file owner-only; its ``-wal`` and ``-shm`` files take its mode."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)
    os.close(fd)


def normalize_url(url: str) -> sa.URL:
    """Parse ``url``, choosing the bundled drivers when none is named.

    ``postgresql://`` uses psycopg 3 and ``mysql://``/``mariadb://`` use PyMySQL.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"database URL must be a non-empty string, got {url!r}")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a non-numeric port
        raise ConfigError(
            f"database URL {mask_url(url)!r} is malformed; expected e.g. "
            "'sqlite:////path/aiflow.db' or 'postgresql://user@host/db'"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise ConfigError(
            f"database URL {mask_url(url)!r} names backend {backend!r}; "
            "supported: sqlite, postgresql, mysql, mariadb"
        )
    if "+" not in parsed.drivername and backend in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[backend])
    return parsed


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    readonly = conn.get_execution_options().get("aiflow_readonly")
    conn.connection.cursor().execute("BEGIN DEFERRED" if readonly else "BEGIN IMMEDIATE")


def _mariadb_idle_timeout(seconds: float) -> Callable[[Any, Any], None]:
    """The connect hook setting MariaDB's ``idle_transaction_timeout`` (whole seconds, rounded up)."""

    def hook(dbapi_conn: Any, _record: Any) -> None:
        if "mariadb" not in str(dbapi_conn.get_server_info()).lower():
            return  # MySQL has no such setting
        cursor = dbapi_conn.cursor()
        cursor.execute(f"SET SESSION idle_transaction_timeout = {max(1, math.ceil(seconds))}")
        cursor.close()

    return hook


@functools.cache
def _timed_cursor() -> type:
    """The psycopg cursor class whose ``executemany`` leaves the session idle with its timeout running.

    psycopg runs ``executemany`` in pipeline mode and ends the pipeline with
    a Sync followed by a Flush. PostgreSQL starts the
    ``idle_in_transaction_session_timeout`` when it answers the Sync, and the
    Flush stops it without starting it again, so a process frozen after such
    a call would hold its transaction, and its locks, until it resumed. An
    empty statement after the call starts the timeout again.
    """
    import psycopg

    class TimedCursor(psycopg.Cursor[Any]):
        """A psycopg cursor whose ``executemany`` leaves the idle-in-transaction timeout running."""

        def executemany(self, query: Any, params_seq: Any, *, returning: bool = False) -> None:
            super().executemany(query, params_seq, returning=returning)
            if psycopg.Pipeline.is_supported():
                self.connection.execute("")

    return TimedCursor


def _psycopg_cursors(dbapi_conn: Any, _record: Any) -> None:
    """The connect hook giving a psycopg connection the cursors of :func:`_timed_cursor`."""
    dbapi_conn.cursor_factory = _timed_cursor()


def create_engine(url: str, idle_transaction_timeout: float | None = None, **options: Any) -> sa.Engine:
    """Create an engine for ``url`` with the settings aiflow relies on.

    SQLite runs in WAL mode and starts write transactions with ``BEGIN
    IMMEDIATE`` so that concurrent writers queue instead of failing; MySQL and
    MariaDB use READ COMMITTED. PostgreSQL and MariaDB end transactions left
    idle (by a frozen process) for ``idle_transaction_timeout`` seconds
    (default :data:`IDLE_TRANSACTION_TIMEOUT`; MariaDB rounds it up to whole
    seconds).
    """
    idle = IDLE_TRANSACTION_TIMEOUT if idle_transaction_timeout is None else idle_transaction_timeout
    if isinstance(idle, bool) or not isinstance(idle, (int, float)) or not idle > 0:
        raise ConfigError(f"idle_transaction_timeout must be a positive number of seconds, got {idle!r}")
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"pool_pre_ping": backend != "sqlite"}
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _create_private(Path(database).expanduser())
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif backend == "postgresql":
        kwargs["connect_args"] = {"options": f"-c idle_in_transaction_session_timeout={math.ceil(idle * 1000)}ms"}
    elif backend in ("mysql", "mariadb"):
        kwargs["isolation_level"] = "READ COMMITTED"
        kwargs["pool_recycle"] = 3600
    kwargs.update(options)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = _DRIVER_HINTS.get(backend, "")
        raise ConfigError(
            f"no driver for database URL {mask_url(url)!r}: {exc}"
            + (f"; install it with {hint}" if hint else "")
        ) from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
    elif parsed.drivername == "postgresql+psycopg":
        sa.event.listen(engine, "connect", _psycopg_cursors)
    elif backend in ("mysql", "mariadb"):
        sa.event.listen(engine, "connect", _mariadb_idle_timeout(idle))
    return engine
