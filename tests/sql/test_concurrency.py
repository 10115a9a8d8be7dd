"""The event log and checkpoints under concurrent writers: real processes and connections."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from aiflow_core.model.event import Event
from aiflow_storage.sql import SqlStore

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
EVENTS_PER_PROCESS = 200
BATCH = 5

# Each writer appends its own events in small transactions; every batch also carries one
# event whose idempotency key all writers share, so the same key races across processes.
WRITER = """
import datetime as dt, json, os, sys, time
from aiflow_core.model.event import Event
from aiflow_storage.sql import SqlStore

url, name, go = sys.argv[1:4]
total, batch = int(sys.argv[4]), int(sys.argv[5])
store = SqlStore(url)
while not os.path.exists(go):
    time.sleep(0.002)
shared = {}
now = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
for start in range(0, total, batch):
    own = [Event("own", str(n), sender=name) for n in range(start, start + batch)]
    key = f"shared-{start // batch}"
    with store.transaction() as tx:
        stored = tx.append_events([*own, Event("shared", name, idempotency_key=key)], now)
    shared[key] = stored[-1].offset
store.close()
print(json.dumps(shared))
"""


def test_concurrent_writer_processes(db_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                db_url,
                f"w{i}",
                str(go),
                str(EVENTS_PER_PROCESS),
                str(BATCH),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(PROCESSES)
    ]
    go.touch()
    outputs = [w.communicate(timeout=120) for w in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    shared_offsets = [json.loads(out) for out, _ in outputs]

    store = SqlStore(db_url)
    try:
        with store.transaction() as tx:
            events = tx.read_events(0, 10_000)
    finally:
        store.close()
    batches = EVENTS_PER_PROCESS // BATCH
    total = PROCESSES * EVENTS_PER_PROCESS + batches
    assert [e.offset for e in events] == list(range(1, total + 1))
    own = [e for e in events if e.key == "own"]
    assert len(own) == PROCESSES * EVENTS_PER_PROCESS
    for i in range(PROCESSES):
        values = [int(e.value or "") for e in own if e.sender == f"w{i}"]
        assert values == list(range(EVENTS_PER_PROCESS)), f"writer w{i} out of order"
    shared = {e.idempotency_key: e.offset for e in events if e.key == "shared"}
    assert len(shared) == batches  # each shared key stored once, whoever won
    for offsets in shared_offsets:
        assert offsets == shared  # every writer was handed the stored event


def _append_in_thread(
    store: SqlStore, events: list[Event], result: list[object]
) -> threading.Thread:
    """Append ``events`` in another thread; ``result`` receives their offsets or the error."""

    def run() -> None:
        try:
            with store.transaction() as tx:
                result.extend(e.offset for e in tx.append_events(events, T0))
        except Exception as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_rolled_back_append_leaves_no_gap(db_url: str) -> None:
    store = SqlStore(db_url)
    try:
        # A waiting writer takes over the offsets of one that rolls back (on a fresh log).
        waiter: list[object] = []
        with pytest.raises(RuntimeError), store.transaction() as tx:
            assert [e.offset for e in tx.append_events([Event("a"), Event("b")], T0)] == [1, 2]
            thread = _append_in_thread(store, [Event("c")], waiter)
            thread.join(0.5)
            assert thread.is_alive(), "a second writer did not wait for the first"
            raise RuntimeError("roll back")
        thread.join(30)
        assert waiter == [1]
        # A rollback with nobody waiting leaves no gap either.
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.append_events([Event("d", idempotency_key="d")], T0)
            raise RuntimeError("roll back")
        with store.transaction() as tx:
            stored = tx.append_events([Event("e"), Event("d", idempotency_key="d")], T0)
            assert [e.offset for e in stored] == [2, 3]
        with store.transaction() as tx:
            assert [(e.offset, e.key) for e in tx.read_events(0, 10)] == [
                (1, "c"),
                (2, "e"),
                (3, "d"),
            ]
        # A writer waiting with the same idempotency key gets the committed event back.
        racer: list[object] = []
        with store.transaction() as tx:
            assert [e.offset for e in tx.append_events([Event("f", idempotency_key="f")], T0)] == [
                4
            ]
            thread = _append_in_thread(store, [Event("g"), Event("f2", idempotency_key="f")], racer)
            thread.join(0.5)
            assert thread.is_alive(), "a second writer did not wait for the first"
        thread.join(30)
        assert racer == [5, 4]
        with store.transaction() as tx:
            assert tx.max_offset() == 5 and tx.read_events(3, 10)[0].key == "f"
    finally:
        store.close()


def test_checkpoint_reads_serialize(db_url: str) -> None:
    store = SqlStore(db_url)
    try:
        for name, initial in (("fresh", 0), ("existing", 4)):
            if initial:
                with store.transaction() as tx:
                    tx.set_checkpoint(name, initial)
            seen: list[int] = []

            def second(name: str = name, seen: list[int] = seen) -> None:
                with store.transaction() as tx:
                    seen.append(tx.get_checkpoint(name))
                    tx.set_checkpoint(name, seen[-1] + 1)

            with store.transaction() as tx:
                assert tx.get_checkpoint(name) == initial
                thread = threading.Thread(target=second, daemon=True)
                thread.start()
                thread.join(0.5)
                assert seen == [], f"{name}: the second reader did not wait for the first"
                tx.set_checkpoint(name, initial + 10)
            thread.join(30)
            assert seen == [initial + 10]  # it read what the first committed
            with store.transaction() as tx:
                assert tx.get_checkpoint(name) == initial + 11
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres", "mysql"], indirect=True)
def test_a_transaction_left_idle_by_a_frozen_process_is_ended_and_frees_the_lease_row(db_url: str) -> None:
    """A process frozen inside a transaction (here: a thread that stops sending statements) keeps the
    lease row locked; the server ends the idle transaction, so another engine can take the lease once it
    expired, and the frozen one's commit fails instead of landing."""
    from aiflow_core.errors import StoreError

    idle = 2.5  # as an engine whose scheduler_lease_ttl is 2.5 s sets it
    frozen, other = SqlStore(db_url, idle_transaction_timeout=idle), SqlStore(db_url)
    taken: list[object] = []
    try:
        with frozen.engine.connect() as conn:
            setting = "idle_in_transaction_session_timeout" if frozen.dialect == "postgresql" else \
                "@@idle_transaction_timeout"
            shown = conn.exec_driver_sql(f"SHOW {setting}" if frozen.dialect == "postgresql" else
                                         f"SELECT {setting}").scalar()
        assert str(shown) in ("2500ms", "3"), shown  # MariaDB counts whole seconds
        with frozen.transaction() as tx:
            tx.release_lease("idle-test", "nobody")
        commit_error: list[BaseException] = []

        def freeze() -> None:
            try:
                with frozen.transaction() as tx:
                    assert tx.acquire_lease("idle-test", "frozen", 1) is not None
                    tx.set_checkpoint("idle-test", 1)
                    tx.finish()  # a batch write (executemany) last: psycopg pipelines it
                    threading.Event().wait(idle + 5)  # holds the row, sends nothing
            except BaseException as exc:
                commit_error.append(exc)

        thread = threading.Thread(target=freeze)
        thread.start()
        threading.Event().wait(1.5)  # the frozen holder's lease (1 s) has run out; its row is still locked
        with other.transaction() as tx:
            taken.append(tx.acquire_lease("idle-test", "other", 10))
        thread.join()
        lease = taken[0]
        assert lease is not None and getattr(lease, "owner", None) == "other"
        assert commit_error and isinstance(commit_error[0], StoreError), commit_error
    finally:
        frozen.close()
        other.close()
