"""The memory store: the Store port over dictionaries, for tests and simulations.

Transactions are serialised by one lock and undone from their undo log when
they raise (see ``tx_base``). Nothing outlives the process, and no other
process can reach the store: executors that run tasks in other processes
need a SQL database.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs

from aiflow_core.errors import DataLossError, InvalidStateError
from aiflow_core.model.clock import Clock, SystemClock
from aiflow_core.model.event import Event
from aiflow_core.ports import Store, StoreTx
from aiflow_core.testing.memory.tx_base import Tables
from aiflow_core.testing.memory.tx_explain import ExplainOps
from aiflow_core.testing.memory.tx_log import LogOps
from aiflow_core.testing.memory.tx_meta import MetaOps
from aiflow_core.testing.memory.tx_plans import PlanOps

#: The URL that selects a fresh memory store (``Engine(db_url=MEMORY_URL)``).
MEMORY_URL = "memory://"
#: The schema version a memory store reports once upgraded.
MEMORY_SCHEMA_VERSION = 1


class MemoryTx(MetaOps, LogOps, PlanOps, ExplainOps, StoreTx):
    """One transaction on the tables of a :class:`MemoryStore`."""


class MemoryStore(Store):
    """A :class:`~aiflow_core.ports.Store` held in this process's memory.

    ``clock`` is the store's own clock, as a database server has one: leases
    and attempt heartbeats are judged by it (default: the system clock).
    Thread-safe: one transaction runs at a time; a transaction that raises
    leaves nothing behind. A thread that opens a transaction while its own
    is still open gets :class:`~aiflow_core.errors.InvalidStateError` (on a
    SQL store it would wait for itself). Callbacks given to
    :meth:`subscribe` run after each commit that appended events.
    """

    shared = False

    def __init__(self, url: str = MEMORY_URL, clock: Clock | None = None) -> None:
        self.url = url
        #: The store's own clock (the system clock unless given): leases and heartbeats are judged by it.
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._tables = Tables()
        self._version = 0
        self._lock = threading.Lock()
        self._holder: int | None = None
        self._subscribers: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"MemoryStore({self.url!r})"

    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[StoreTx]:
        """Open a transaction; commits at the end of the block, undoes every write on error.

        ``readonly`` changes nothing here: transactions are serialised anyway.
        """
        if self._holder == threading.get_ident():
            raise InvalidStateError(
                f"{self!r}: this thread already has a transaction open; finish it before opening another"
            )
        with self._lock:
            self._holder = threading.get_ident()
            tx = MemoryTx(self._tables, self.clock)
            try:
                yield tx
            except BaseException:
                tx.rollback()
                raise
            finally:
                self._holder = None
        if tx.appended:
            for callback in list(self._subscribers):
                callback()

    def events_after(self, offset: int, limit: int) -> Iterator[Event]:
        """Read events after ``offset``; the transaction ends before the first is yielded."""
        with self.transaction(readonly=True) as tx:
            events = tx.read_events(offset, limit)
        yield from events

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` after every commit that appended events; returns the unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def schema_version(self) -> int:
        """0 before :meth:`upgrade`, then :data:`MEMORY_SCHEMA_VERSION`."""
        return self._version

    def upgrade(self) -> int:
        """Make the store ready (with the ``default`` namespace); returns the schema version."""
        with self.transaction() as tx:
            if tx.get_namespace("default") is None:
                tx.add_namespace("default", {})
        self._version = MEMORY_SCHEMA_VERSION
        return self._version

    def downgrade(self, version: int, force: bool = False) -> int:
        """Downgrade to ``version``; 0 forgets everything (refused while rows are held, unless ``force``)."""
        if version < 0 or version > MEMORY_SCHEMA_VERSION:
            raise ValueError(f"cannot downgrade to schema version {version}; expected 0..{MEMORY_SCHEMA_VERSION}")
        if version == 0:
            with self._lock:
                held = {
                    name: len(rows) for name, rows in attrs.asdict(self._tables, recurse=False).items()
                    if rows and name != "floors"
                }
                if held and not force:
                    raise DataLossError(version, held)
                self._tables = Tables()
                self._version = 0
        return version

    def close(self) -> None:
        """Nothing to release: the data stays until the store is dropped."""
