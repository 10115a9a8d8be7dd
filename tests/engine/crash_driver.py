"""Runs one engine until it is killed; the crash tests start it as a subprocess.

Usage: ``python tests/engine/crash_driver.py DB_URL BATCH_SIZE``. The engine
uses the thread executor and a fixed lease owner, as a restarted host would,
so that a new process takes the scheduler lease over at once instead of
waiting for the dead one's lease to expire. ``ready`` is printed once the
loop runs; the process then waits until it is killed or sent SIGTERM.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiflow_core import Engine

OWNER = "crash-test-host"


def main(db_url: str, batch_size: int) -> None:
    """Run the engine until SIGKILL (or SIGTERM, which stops it cleanly)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    engine = Engine(db_url, executor="thread", parallelism=32, batch_size=batch_size)
    engine.owner = OWNER
    with engine:
        print("ready", flush=True)
        stop.wait()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
