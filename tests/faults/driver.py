"""One engine process of a fault test: ``python -m faults.driver DB_URL EXECUTOR SKEW`` (``tests`` on the path).

The engine runs its loop until SIGTERM (a clean stop) or until the test kills
it; its clock is the real one shifted by ``SKEW`` seconds, as on a host whose
clock is off. ``ready`` is printed once the loop runs. Lines on standard input
arm fault points (``AIFLOW_FAULT_POINTS`` names those that may be armed):
``arm scheduler.step stop`` makes the process SIGSTOP itself the next time a
step has decided but not committed.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading

from aiflow_core import Engine, faultpoints
from aiflow_core.model.clock import SystemClock


class ShiftedClock:
    """The real clock, ``offset`` ahead (negative: behind)."""

    is_fake = False

    def __init__(self, offset: dt.timedelta) -> None:
        self.offset = offset
        self._real = SystemClock()

    def now(self) -> dt.datetime:
        """The shifted current time."""
        return self._real.now() + self.offset


def _commands(stop: threading.Event) -> None:
    for line in sys.stdin:
        words = line.split()
        if len(words) == 3 and words[0] == "arm":
            faultpoints.arm(words[1], words[2])
    stop.set()  # the test went away


def main(db_url: str, executor: str, skew: float) -> None:
    """Run an engine until SIGTERM, standard input closing, or a kill."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    clock = ShiftedClock(dt.timedelta(seconds=skew))
    with Engine(db_url, executor=executor, clock=clock, parallelism=16, batch_size=50):
        print("ready", flush=True)
        threading.Thread(target=_commands, args=(stop,), daemon=True).start()
        stop.wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
