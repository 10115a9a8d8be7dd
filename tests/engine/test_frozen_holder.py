"""A lease holder frozen inside a transaction does not keep the next holder from writing (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from aiflow_core.api.observe import LEASE_NAME
from aiflow_core.engine.leadership import Leadership
from aiflow_storage.sql import SqlStore

ROOT = Path(__file__).resolve().parents[2]
#: Seconds the frozen holder's lease lasts.
TTL = 1.0

# Takes the lease, then, inside a transaction holding the event counter's lock (as a scheduler step does)
# and after a batch write (executemany), freezes itself; once resumed it tries to commit and prints what
# it got.
HOLDER = """
import os, signal, sys
from aiflow_core.api.observe import LEASE_NAME
from aiflow_storage.sql import SqlStore

url, idle, ttl = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
store = SqlStore(url, idle_transaction_timeout=idle)
store.name_sessions("holder")
with store.transaction() as tx:
    assert tx.acquire_lease(LEASE_NAME, "holder", ttl) is not None
try:
    with store.transaction() as tx:
        tx.get_checkpoint("frozen")
        tx.set_checkpoint("frozen", 1)
        tx.finish()  # writes the counters in one batch
        print("frozen", flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)
    print("committed", flush=True)
except Exception as exc:
    print(type(exc).__module__, type(exc).__name__, flush=True)
"""


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres", "mysql"], indirect=True)
def test_a_holder_frozen_inside_a_transaction_does_not_keep_the_next_holder_from_writing(db_url: str) -> None:
    """On PostgreSQL the holder's idle timeout is set far beyond the test: only the taker, which ends the
    expired holder's sessions (``pg_terminate_backend`` on its ``application_name``), frees its locks. On
    MariaDB, where the taker cannot find another process's sessions, the server's idle_transaction_timeout
    (set to the lease's length, as engines set it) does. Resumed, the holder's commit fails with a store
    error, not a driver's."""
    postgres = db_url.startswith("postgresql")
    idle = 600.0 if postgres else TTL
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url, str(idle), str(TTL)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    store = SqlStore(db_url, idle_transaction_timeout=600.0)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "frozen", holder.stderr
        leadership = Leadership(
            store=store, owner="taker", ttl=30.0, grace=1.0, on_elected=lambda epochs: None,
            on_deposed=lambda reason: None, queue=lambda event: None, own_attempts=set,
        )
        while not leadership.ensure():  # until the holder's lease has expired by the database's clock
            threading.Event().wait(0.2)
        wrote: list[int] = []

        def write() -> None:
            with store.transaction() as tx:
                tx.set_checkpoint("frozen", 2)
                leadership.fence(tx)
            wrote.append(2)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(120.0)  # only a hang without the fix comes near this
        assert wrote == [2], "the new holder could not write: the frozen holder kept its locks"
        assert _stopped(holder.pid), "the holder resumed before the new holder wrote"
        with store.transaction() as tx:
            lease = tx.get_lease(LEASE_NAME)
            assert lease is not None and lease.owner == "taker" and tx.get_checkpoint("frozen") == 2
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        out, err = holder.communicate(timeout=60)
        store.close()
    assert out.split() == ["aiflow_core.errors", "StoreUnavailableError"], (out, err)
