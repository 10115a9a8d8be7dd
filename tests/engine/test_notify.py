"""Stores announce new events to other processes where the database can (PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from aiflow_storage.sql import SqlStore

SEND = "from aiflow_core import Client\nClient({url!r}).send_event('ping')\n"


def _send_from_another_process(url: str) -> None:
    subprocess.run([sys.executable, "-c", SEND.format(url=url)], check=True, timeout=60)


def test_postgres_subscribers_hear_events_appended_by_other_processes(server_databases: dict[str, str]) -> None:
    url = server_databases["postgres"]
    store = SqlStore(url)
    store.upgrade()
    heard = threading.Event()
    unsubscribe = store.subscribe(heard.set)
    try:
        time.sleep(0.3)
        assert not heard.is_set()
        _send_from_another_process(url)
        assert heard.wait(20), "no notification arrived"
    finally:
        unsubscribe()
        store.close()


def test_sqlite_has_no_channel_and_engines_poll(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = SqlStore(url)
    store.upgrade()
    heard = threading.Event()
    unsubscribe = store.subscribe(heard.set)
    _send_from_another_process(url)
    assert not heard.wait(0.5)
    unsubscribe()
    store.close()
