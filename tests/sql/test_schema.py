"""Schema versions (upgrade, downgrade, a newer database) and database URL errors."""

from __future__ import annotations

import importlib.util

import pytest
import sqlalchemy as sa

from aiflow_core.errors import ConfigError, SchemaVersionError
from aiflow_storage.sql import SCHEMA_VERSION, SqlStore
from aiflow_storage.sql.version import VERSION_TABLE


def _aiflow_tables(store: SqlStore) -> set[str]:
    with store.engine.connect() as conn:
        return {name for name in sa.inspect(conn).get_table_names() if name.startswith("aiflow_")}


def test_upgrade_downgrade_and_newer_schema(db_url: str) -> None:
    store = SqlStore(db_url)
    try:
        assert store.downgrade(0, force=True) == 0
        assert _aiflow_tables(store) == set()
        assert store.schema_version() == 0
        with pytest.raises(SchemaVersionError, match="run `aiflow db upgrade`"):
            SqlStore(db_url).check_schema()

        assert store.upgrade() == SCHEMA_VERSION == 3
        assert store.schema_version() == 3
        assert "aiflow_event" in _aiflow_tables(store)
        with store.transaction() as tx:
            assert [n.name for n in tx.list_namespaces(None, None)] == ["default"]
            tx.add_namespace("kept", {"a": 1})

        # idempotent: same version, data kept, no second default namespace
        assert store.upgrade() == 3
        assert SqlStore(db_url).upgrade() == 3
        with store.transaction() as tx:
            assert [n.name for n in tx.list_namespaces(None, None)] == ["default", "kept"]
        SqlStore(db_url).check_schema()

        # a database migrated by a newer aiflow
        with store.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))
        assert store.schema_version() == 99
        with pytest.raises(SchemaVersionError) as excinfo:
            SqlStore(db_url).check_schema()
        assert "99" in str(excinfo.value) and "up to 3" in str(excinfo.value)
        # also on a store that already checked the schema before it changed
        for call in (store.upgrade, SqlStore(db_url).upgrade, lambda: store.downgrade(1)):
            with pytest.raises(SchemaVersionError, match=r"version 99.*up to 3"):
                call()
        assert store.schema_version() == 99  # never touched

        with store.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = 'abc123'"))
        with pytest.raises(SchemaVersionError, match=r"'abc123'.*expected one aiflow schema version such as '0003'"):
            store.schema_version()

        with store.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0002'"))
        with pytest.raises(ValueError, match=r"0\.\.3"):
            store.downgrade(4)
        assert store.downgrade(0, force=True) == 0
        assert _aiflow_tables(store) == set()
        assert store.schema_version() == 0
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://alice:s3cr3t-pw@db.example:notaport/x", "postgresql://alice:***@db.example"),
        ("://alice:s3cr3t-pw@host/x", "://alice:***@host/x"),
        ("oracle://alice:s3cr3t-pw@db.example/x", "oracle://alice:***@db.example/x"),
        ("nosuchdb://alice:s3cr3t-pw@db.example/x", "nosuchdb://alice:***@db.example/x"),
        ("postgresql+nosuchdriver://alice:s3cr3t-pw@db.example/x", "alice:***@db.example/x"),
    ],
    ids=["bad-port", "no-scheme", "oracle", "unknown-backend", "unknown-driver"],
)
def test_bad_urls_raise_config_error_without_password(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        SqlStore(url)
    message = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert expected in message
    assert "s3cr3t" not in message and "s3cr3t" not in repr(excinfo.value)
    assert excinfo.value.__cause__ is None or "s3cr3t" not in str(excinfo.value.__cause__)


@pytest.mark.parametrize(
    ("url", "module", "hint"),
    [
        ("postgresql+pg8000://u:s3cr3t-pw@h/x", "pg8000", "pip install 'aiflow-engine[postgres]'"),
        ("mysql+mysqldb://u:s3cr3t-pw@h/x", "MySQLdb", "pip install 'aiflow-engine[mysql]'"),
    ],
)
def test_missing_driver_names_the_extra(url: str, module: str, hint: str) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here, so it is not a missing driver")
    with pytest.raises(ConfigError, match="no driver") as excinfo:
        SqlStore(url)
    message = str(excinfo.value)
    assert hint in message and "u:***@h/x" in message and "s3cr3t" not in message


def test_empty_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="non-empty"):
        SqlStore("  ")
