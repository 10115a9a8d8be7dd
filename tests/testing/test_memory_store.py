"""What the memory store adds to the shared contract: threads, wake-ups, its selection, its limits."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from aiflow_core.client import Client
from aiflow_core.engine import Engine
from aiflow_core.errors import ConfigError, InvalidStateError, StoreDataError
from aiflow_core.model.event import Event
from aiflow_core.ports import EventFilter
from aiflow_core.stores import open_store
from aiflow_core.testing import FakeClock, WorkflowTester
from aiflow_core.testing.memory import MemoryStore

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
ROOT = Path(__file__).resolve().parents[2]


def _store() -> MemoryStore:
    store = MemoryStore()
    store.upgrade()
    return store


def test_concurrent_writer_threads_get_consecutive_offsets_and_one_event_per_key() -> None:
    store = _store()
    threads, per_thread, batch = 8, 100, 5
    go = threading.Barrier(threads)
    shared: dict[str, set[int]] = {}
    lock = threading.Lock()

    def write(name: str) -> None:
        go.wait()
        for start in range(0, per_thread, batch):
            own = [Event("own", str(n), sender=name) for n in range(start, start + batch)]
            key = f"shared-{start // batch}"
            with store.transaction() as tx:
                stored = tx.append_events([*own, Event("shared", name, idempotency_key=key)], T0)
            with lock:
                shared.setdefault(key, set()).add(stored[-1].offset or 0)

    workers = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with store.transaction() as tx:
        events = tx.read_events(0, 10_000)
        assert [e.offset for e in events] == list(range(1, len(events) + 1))
        assert len(events) == threads * per_thread + per_thread // batch
        assert tx.count_events(EventFilter(keys=["shared"])) == per_thread // batch
    assert all(len(offsets) == 1 for offsets in shared.values())  # every writer got the one stored event


def test_a_thread_cannot_open_a_transaction_inside_its_own() -> None:
    store = _store()
    with store.transaction() as tx:
        tx.append_events([Event("outer")], T0)
        with pytest.raises(InvalidStateError, match="already has a transaction open"), store.transaction():
            pass
    with store.transaction() as tx:  # the outer one committed; the store is usable
        assert [e.key for e in tx.read_events(0, 10)] == ["outer"]


def test_subscribers_hear_of_commits_that_appended_events() -> None:
    store = _store()
    calls: list[str] = []
    unsubscribe = store.subscribe(lambda: calls.append("woken"))
    with store.transaction() as tx:
        tx.add_namespace("quiet", {})  # no events: nobody is woken
    assert calls == []
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.append_events([Event("rolled back")], T0)
        raise RuntimeError("undo")
    assert calls == []
    with store.transaction() as tx:
        tx.append_events([Event("a"), Event("b")], T0)
    assert calls == ["woken"]
    unsubscribe()
    with store.transaction() as tx:
        tx.append_events([Event("c")], T0)
    assert calls == ["woken"]


def test_values_are_stored_as_json_like_a_sql_column() -> None:
    store = _store()
    with store.transaction() as tx:
        stored = tx.append_events([Event("k", context={"pair": (1, 2), "items": [1]})], T0)
        # Returned as appended, as on the SQL stores; what is kept is the JSON text.
        stored[0].context["items"].append(2)  # type: ignore[index]  # the caller's copy, not the store's
        with pytest.raises(StoreDataError, match="context of event 'bad'"):
            tx.append_events([Event("bad", context={"when": T0})], T0)
    with store.transaction() as tx:
        assert [e.context for e in tx.read_events(0, 10)] == [{"pair": [1, 2], "items": [1]}]


def test_memory_url_selects_a_fresh_memory_store_per_client() -> None:
    first, second = Client(db_url="memory://"), Client(db_url="memory://")
    assert isinstance(first.store, MemoryStore) and isinstance(open_store("MEMORY://"), MemoryStore)
    first.add_namespace("only_in_first")
    assert first.get_namespace("only_in_first") is not None
    assert second.get_namespace("only_in_first") is None


def test_a_client_and_an_engine_share_a_store_instance(tmp_path: Path) -> None:
    store = MemoryStore()
    engine = Engine(store=store, executor="inline", clock=FakeClock(), blob=str(tmp_path / "blob"))
    client = Client(store=store)
    try:
        assert client.db_url == "memory://"
        client.send_event("from_the_client", "1")
        assert [e.key for e in engine.list_events(key="from_the_client")] == ["from_the_client"]
    finally:
        engine.close()


def test_the_process_executor_cannot_reach_a_memory_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"executor 'process' runs tasks in other processes.*MemoryStore"):
        Engine(db_url="memory://", executor="process", blob=str(tmp_path / "blob"))


def test_a_workflow_runs_on_a_memory_store_with_the_thread_executor(tmp_path: Path) -> None:
    with WorkflowTester(tmp_path, db_url="memory://", executor="thread") as tester:
        tester.upload_source(
            """
            from aiflow_core.model.workflow import Workflow
            from aiflow_core.operators.python import PythonOperator

            with Workflow(name="two") as w:
                first = PythonOperator(name="first", python_callable=lambda: 1)
                second = PythonOperator(name="second", python_callable=lambda: 2)
                second.start_after(first)
            """
        )
        execution = tester.start("two")
        tester.engine.wait_for_workflow_execution(execution, timeout=30)
        assert isinstance(tester.engine.store, MemoryStore)
        assert [(r.task, r.status.value) for r in tester.history(execution)] == [
            ("first", "SUCCESS"), ("second", "SUCCESS"),
        ]
        assert not (tmp_path / "aiflow.db").exists()


def test_a_memory_engine_loads_no_sqlalchemy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from aiflow_core.testing import FakeClock\n"
        "from aiflow_core.engine import Engine\n"
        f"engine = Engine(db_url='memory://', executor='inline', clock=FakeClock(), blob={str(tmp_path)!r})\n"
        "engine.send_event('k')\n"
        "engine.run_until_idle()\n"
        "engine.close()\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_old_events_are_found_for_deletion_whatever_was_appended_or_undone_before() -> None:
    store = _store()
    hour = dt.timedelta(hours=1)
    with store.transaction() as tx:
        tx.append_events([Event("k", "late")], T0 + 5 * hour)
        assert tx.delete_events_before(10**9, T0 + 3 * hour, 100) == 0  # nothing that old yet
        tx.append_events([Event("k", "early")], T0 + hour)  # a clock set back: older than what is stored
    with pytest.raises(RuntimeError), store.transaction() as tx:
        assert tx.delete_events_before(10**9, T0 + 3 * hour, 100) == 1
        raise RuntimeError("undone")
    with store.transaction() as tx:
        assert [e.value for e in tx.read_events(0, 10)] == ["late", "early"]
        assert tx.delete_events_before(10**9, T0 + 3 * hour, 100) == 1
        assert [e.value for e in tx.read_events(0, 10)] == ["late"]
        assert tx.delete_events_before(10**9, T0 + 6 * hour, 100) == 1
