"""Waking schedulers of other processes: PostgreSQL LISTEN/NOTIFY on new events.

Appending events on PostgreSQL sends ``NOTIFY aiflow_events`` in the same
transaction (delivered at commit). A subscriber holds one listening
connection in a daemon thread and calls its callback on every notification.
Other databases have no such channel; engines there poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

log = logging.getLogger("aiflow.store")

CHANNEL = "aiflow_events"


def notify(conn: sa.Connection) -> None:
    """Announce new events to listeners (PostgreSQL only; a no-op elsewhere)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"NOTIFY {CHANNEL}")


class Listener:
    """Calls ``callback`` whenever another transaction appended events (PostgreSQL)."""

    def __init__(self, engine: sa.Engine, callback: Callable[[], None]) -> None:
        self._engine = engine
        self._callback = callback
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aiflow-listen", daemon=True)
        self._thread.start()

    def _connect(self) -> Any:
        raw = self._engine.raw_connection()
        connection = raw.driver_connection
        connection.autocommit = True  # type: ignore[union-attr]
        connection.execute(f"LISTEN {CHANNEL}")  # type: ignore[union-attr]
        return raw

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                raw = self._connect()
            except Exception:
                log.warning("cannot listen for new events; polling only", exc_info=True)
                self._stopped.wait(5.0)
                continue
            try:
                while not self._stopped.is_set():
                    for _ in raw.driver_connection.notifies(timeout=0.5):
                        self._callback()
            except Exception:
                log.warning("event listener connection lost; reconnecting", exc_info=True)
            finally:
                raw.invalidate()

    def close(self) -> None:
        """Stop listening."""
        self._stopped.set()
        self._thread.join(2.0)
