"""Shared fixtures: databases (SQLite, PostgreSQL, MariaDB) and a clean AIFLOW_HOME."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("AIFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("AIFLOW_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str) -> str | None:
    """Return None if the server answers, else the reason it does not."""
    from aiflow_storage.sql import SqlStore

    try:
        store = SqlStore(url)
        with store.engine.connect():
            pass
        store.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def require_server(url: str, name: str) -> None:
    """Skip (or, under CI=true, fail) when the database server at ``url`` is missing."""
    reason = _reachable(url)
    if reason is None:
        return
    message = f"{name} server at {url} is not reachable ({reason})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def aiflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own AIFLOW_HOME and no stray configuration from the environment."""
    home = tmp_path / "aiflow_home"
    home.mkdir()
    monkeypatch.setenv("AIFLOW_HOME", str(home))
    for var in ("AIFLOW_DB_URL", "AIFLOW_TASK_EXECUTOR", "AIFLOW_BLOB_URL", "AIFLOW_PARALLELISM"):
        monkeypatch.delenv(var, raising=False)
    return home


def _fresh(url: str) -> str:
    from aiflow_storage.sql import SqlStore

    store = SqlStore(url)
    store.downgrade(0, force=True)
    store.upgrade()
    store.close()
    return url


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, str]]:
    """One private database per test session on each server, so parallel runs never collide."""
    from aiflow_storage.sql import SqlStore

    name = f"aiflow_t{os.getpid()}_{uuid.uuid4().hex[:6]}"
    created: dict[str, str] = {}
    stores: list[tuple[str, str]] = []

    def create(kind: str) -> str:
        if kind in created:
            return created[kind]
        admin_url = POSTGRES_URL if kind == "postgres" else MYSQL_URL
        require_server(admin_url, "PostgreSQL" if kind == "postgres" else "MariaDB")
        admin = SqlStore(admin_url)
        with admin.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            extra = "" if kind == "postgres" else " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            conn.exec_driver_sql(f"CREATE DATABASE {name}{extra}")
        admin.close()
        created[kind] = _with_database(admin_url, name)
        stores.append((kind, admin_url))
        return created[kind]

    yield _LazyDatabases(create)  # type: ignore[misc]
    from aiflow_storage.sql import SqlStore as Store

    for kind, admin_url in stores:
        admin = Store(admin_url)
        with admin.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if kind == "postgres":
                conn.exec_driver_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                )
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.close()


class _LazyDatabases(dict):  # type: ignore[type-arg]
    def __init__(self, create: object) -> None:
        super().__init__()
        self._create = create

    def __missing__(self, kind: str) -> str:
        return self._create(kind)  # type: ignore[operator,no-any-return]


def _database(kind: str, tmp_path: Path, server_databases: dict[str, str]) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return _fresh(f"sqlite:///{tmp_path / 'aiflow.db'}")
    return _fresh(server_databases[kind])


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, server_databases: dict[str, str]) -> str:
    """A fresh, upgraded database URL on each backend (a private database per session on servers)."""
    return _database(request.param, tmp_path, server_databases)


@pytest.fixture(params=["memory", "sqlite", "postgres", "mysql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, server_databases: dict[str, str]) -> str:
    """Like ``db_url``, and also ``memory://`` (a fresh memory store): every store behind the port."""
    return _database(request.param, tmp_path, server_databases)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database URL."""
    return _fresh(f"sqlite:///{tmp_path / 'aiflow.db'}")
