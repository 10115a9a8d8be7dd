"""Shared fixtures: databases (SQLite, PostgreSQL, MariaDB) and a clean AIFLOW_HOME."""

from __future__ import annotations

import os
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
    store.downgrade(0)
    store.upgrade()
    store.close()
    return url


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, upgraded database URL on each backend."""
    if request.param == "sqlite":
        yield _fresh(f"sqlite:///{tmp_path / 'aiflow.db'}")
        return
    url, name = (POSTGRES_URL, "PostgreSQL") if request.param == "postgres" else (MYSQL_URL, "MariaDB")
    require_server(url, name)
    yield _fresh(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database URL."""
    return _fresh(f"sqlite:///{tmp_path / 'aiflow.db'}")
