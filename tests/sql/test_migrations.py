"""Alembic migrations on SQLite, PostgreSQL and MariaDB: the migrated schema is the code's, a database made
before migrations upgrades in place, downgrades go one revision at a time and refuse to delete data."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from legacy_v1 import create_v1_database
from legacy_v1 import metadata as v1_metadata

from aiflow_core import Client, Engine, WorkflowStatus
from aiflow_core.errors import DataLossError, InvalidArgumentError
from aiflow_storage.sql import SCHEMA_VERSION, SqlStore, migrate, schema
from aiflow_storage.sql.version import VERSION_TABLE

ROOT = Path(__file__).resolve().parents[2]

WORKFLOW = """
from aiflow_core import PythonOperator, Workflow

def work():
    return 42

with Workflow(name="kept") as w:
    PythonOperator(name="work", python_callable=work)
"""


@pytest.fixture
def empty_url(db_url: str) -> str:
    """The database of ``db_url`` with no aiflow table left."""
    store = SqlStore(db_url)
    store.downgrade(0, force=True)
    store.close()
    return db_url


def _differences(store: SqlStore, metadata: sa.MetaData) -> list[Any]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        return list(compare_metadata(context, metadata))


def _tables(store: SqlStore) -> set[str]:
    with store.engine.connect() as conn:
        return {name for name in sa.inspect(conn).get_table_names() if name.startswith("aiflow_")}


def _indexes(store: SqlStore, table: str) -> set[str]:
    with store.engine.connect() as conn:
        return {ix["name"] for ix in sa.inspect(conn).get_indexes(table) if ix["name"]}


def _dump(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every version 1 table, in primary key order."""
    with store.engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]
            for table in v1_metadata.sorted_tables
        }


def test_migrated_database_matches_the_metadata(empty_url: str) -> None:
    store = SqlStore(empty_url)
    try:
        assert store.upgrade() == SCHEMA_VERSION
        assert _differences(store, schema.metadata) == []
        assert _tables(store) == set(schema.metadata.tables) | {VERSION_TABLE}
    finally:
        store.close()


def test_head_is_the_version_the_code_knows() -> None:
    assert migrate.scripts().get_current_head() == f"{SCHEMA_VERSION:04d}"
    assert [r["version"] for r in migrate.history()] == list(range(1, SCHEMA_VERSION + 1))


def test_upgrade_and_downgrade_one_revision_at_a_time(empty_url: str) -> None:
    store = SqlStore(empty_url)
    try:
        store.upgrade()
        with store.transaction() as tx:
            tx.add_namespace("kept", {"a": 1})
        assert "ix_task_execution_status" in _indexes(store, "aiflow_task_execution")

        assert store.downgrade(1) == 1
        assert store.schema_version() == 1
        assert "ix_task_execution_status" not in _indexes(store, "aiflow_task_execution")
        assert _differences(store, v1_metadata) == []  # revision 1 is exactly the schema made before migrations
        with store.engine.connect() as conn:  # releases before migrations read this row
            assert conn.execute(sa.select(schema.schema_info.c.version)).scalar_one() == 1

        assert store.upgrade() == SCHEMA_VERSION
        assert "ix_task_execution_status" in _indexes(store, "aiflow_task_execution")
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(schema.schema_info.c.version)).scalar_one() == SCHEMA_VERSION
        with store.transaction() as tx:
            assert [n.name for n in tx.list_namespaces(None, None)] == ["default", "kept"]
        with pytest.raises(InvalidArgumentError, match=rf"0\.\.{SCHEMA_VERSION}"):
            store.downgrade(SCHEMA_VERSION + 1)
    finally:
        store.close()


def test_a_version_2_database_with_a_held_lease_upgrades_to_fenced_leases(empty_url: str) -> None:
    """Revision 3 adds the lease epoch and the attempts' heartbeats; a lease taken before counts as epoch 0,
    so the next holder gets epoch 1, and a task execution made before has no heartbeat yet."""
    store = SqlStore(empty_url)
    try:
        store.upgrade()
        assert store.downgrade(2) == 2
        with store.engine.begin() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("aiflow_lease")}
            assert columns == {"name", "owner", "expires"}
            conn.execute(
                sa.text("INSERT INTO aiflow_lease (name, owner, expires) VALUES ('scheduler', 'old:1:x', :t)"),
                {"t": dt.datetime(2020, 1, 1)},
            )
        assert store.upgrade() == SCHEMA_VERSION
        assert _differences(store, schema.metadata) == []
        with store.transaction() as tx:
            old = tx.get_lease("scheduler")
            assert old is not None and (old.owner, old.epoch, old.live) == ("old:1:x", 0, False)
            taken = tx.acquire_lease("scheduler", "new:2:y", 10)
            assert taken is not None and taken.epoch == 1
        assert store.downgrade(2) == 2  # the epoch only coordinates running engines: nothing to refuse
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT owner FROM aiflow_lease")).scalar_one() == "new:2:y"
    finally:
        store.close()


def test_downgrade_that_would_delete_rows_is_refused_unless_forced(empty_url: str) -> None:
    store = SqlStore(empty_url)
    try:
        store.upgrade()
        with store.transaction() as tx:
            tx.add_namespace("kept", {})
        with pytest.raises(DataLossError) as info:
            store.downgrade(0)
        assert info.value.rows == {"aiflow_namespace": 2}
        assert "2 rows of aiflow_namespace" in str(info.value) and isinstance(info.value, RuntimeError)
        assert store.schema_version() == SCHEMA_VERSION  # nothing changed
        with store.transaction() as tx:
            assert len(tx.list_namespaces(None, None)) == 2

        assert store.downgrade(0, force=True) == 0
        assert _tables(store) == set()
        assert store.schema_version() == 0
    finally:
        store.close()


def test_a_database_made_before_migrations_upgrades_in_place(
    empty_url: str, tmp_path: Path, aiflow_home: Path
) -> None:
    # Rows as the engine writes them (workflow, snapshot, execution, task execution, events, counters),
    # copied into a database whose tables were made the way aiflow made them before it used migrations.
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    blob = str(tmp_path / "blob")
    (tmp_path / "kept.py").write_text(WORKFLOW, encoding="utf-8")
    with Engine(source_url, blob=blob, executor="inline") as source:
        source.upload_workflows(str(tmp_path / "kept.py"))
        first = source.start_workflow_execution("kept")
        assert source.wait_for_workflow_execution(first, timeout=30).status is WorkflowStatus.SUCCESS
        source.send_event("before", "kept value")
    legacy = SqlStore(empty_url)
    create_v1_database(legacy.engine)
    copied = SqlStore(source_url)
    with copied.engine.connect() as src, legacy.engine.begin() as dst:
        for table in v1_metadata.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(sa.select(table))]
            if rows and table.name not in ("aiflow_schema", "aiflow_namespace"):
                dst.execute(sa.insert(table), rows)
                if dst.dialect.name == "postgresql" and "id" in table.c:  # explicit ids leave the sequence behind
                    top = max(r["id"] for r in rows)
                    dst.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {top})"))
    copied.close()
    before = _dump(legacy)
    assert before["aiflow_workflow_execution"] and before["aiflow_task_execution"] and before["aiflow_event"]
    assert legacy.schema_version() == 1 and VERSION_TABLE not in _tables(legacy)

    Client(empty_url, blob=blob).close()  # first use upgrades
    after = _dump(legacy)
    assert after.pop("aiflow_schema") == [(1, SCHEMA_VERSION)]
    before.pop("aiflow_schema")
    assert after == before
    assert legacy.schema_version() == SCHEMA_VERSION
    assert _differences(legacy, schema.metadata) == []
    with Engine(empty_url, blob=blob, executor="inline") as engine:
        assert engine.get_workflow_execution(first).status is WorkflowStatus.SUCCESS
        assert [e.value for e in engine.list_events("before")] == ["kept value"]
        again = engine.start_workflow_execution("kept")
        assert engine.wait_for_workflow_execution(again, timeout=30).status is WorkflowStatus.SUCCESS
    legacy.close()


UPGRADER = textwrap.dedent("""
    import os, sys, time
    from aiflow_storage.sql import SqlStore, migrate
    migrate.scripts()  # load everything first so that the processes start upgrading together
    store = SqlStore(sys.argv[1])
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.002)
    print(store.upgrade())
""")


def test_processes_upgrading_one_fresh_database_at_once(empty_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADER, empty_url, str(go)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(3)
    ]
    go.touch()
    results = [p.communicate(timeout=120) for p in processes]
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(processes, results, strict=True)] == [
        (0, str(SCHEMA_VERSION))
    ] * 3, [err for _, err in results]
    store = SqlStore(empty_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with store.engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {VERSION_TABLE}")).scalar_one() == 1
        with store.transaction() as tx:
            assert [n.name for n in tx.list_namespaces(None, None)] == ["default"]
    finally:
        store.close()


def test_first_use_of_a_current_database_does_not_load_alembic(sqlite_url: str) -> None:
    code = (
        "import sys\n"
        "from aiflow_core import Client\n"
        f"Client({sqlite_url!r}).close()\n"
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"
