"""A thread's transactions inside ``SqlStore.pinned()`` share one connection, on every backend."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from aiflow_storage.sql import SqlStore

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def _driver_connection(tx: object) -> object:
    return tx.conn.connection.dbapi_connection  # type: ignore[attr-defined]


def test_transactions_in_the_block_share_one_connection(db_url: str) -> None:
    store = SqlStore(db_url)
    seen, readonly, held = [], [], []
    with store.pinned():
        for flag in (False, True, False):
            with store.transaction(readonly=flag) as tx:
                seen.append(_driver_connection(tx))
                readonly.append(tx.conn.get_execution_options()["aiflow_readonly"])  # type: ignore[attr-defined]
            held.append(store.engine.pool.checkedout())  # type: ignore[attr-defined]
        with store.pinned(), store.transaction() as tx:  # re-entrant
            seen.append(_driver_connection(tx))
    assert all(c is seen[0] for c in seen)
    assert held == [1, 1, 1]  # kept between transactions
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # returned at the end of the block
    assert readonly == [False, True, False]  # the option of one transaction does not stick to the next
    store.close()


def test_a_failed_transaction_leaves_the_kept_connection_usable(db_url: str) -> None:
    store = SqlStore(db_url)
    with store.pinned():
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.add_namespace("lost", {})
            raise RuntimeError("rolled back")
        with store.transaction() as tx:
            tx.add_namespace("kept", {})
        with store.transaction(readonly=True) as tx:
            assert [n.name for n in tx.list_namespaces(None, None)] == ["default", "kept"]
    store.close()


def test_other_threads_use_their_own_connections(db_url: str) -> None:
    store = SqlStore(db_url)
    found: list[object] = []

    def other() -> None:
        with store.transaction(readonly=True) as tx:
            found.append(_driver_connection(tx))

    with store.pinned():
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        with store.transaction(readonly=True) as tx:
            assert _driver_connection(tx) is not found[0]
    store.close()
