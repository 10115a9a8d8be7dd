"""An engine process for the schedule and trigger crash test.

Usage: ``python crash_schedule_driver.py DB_URL HOURS``. Steps a fake clock
from 2024-01-01T00:00Z fire by fire up to HOURS later, running the engine
until idle at each instant. Prints ``ready`` once the engine is built and
``DONE`` at the end. Killed and restarted at random moments by the test;
every run resumes from what the database holds.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from aiflow_core import Engine
from aiflow_core.testing import FakeClock

WORKFLOW = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="scheduled") as s:
    PythonOperator(name="t", python_callable=work)

with Workflow(name="triggered") as t:
    PythonOperator(name="t", python_callable=work)
"""

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def main() -> None:
    """Run until every fire up to the horizon is processed."""
    db_url, hours = sys.argv[1], int(sys.argv[2])
    home = Path(db_url.removeprefix("sqlite:///")).parent
    clock = FakeClock(START)
    engine = Engine(db_url=db_url, blob=str(home / "blob"), executor="inline", clock=clock, history_retention=None)
    print("ready", flush=True)
    target = START + dt.timedelta(hours=hours)
    while True:
        engine.run_until_idle()
        wakeup = engine.loop.next_wakeup()
        if wakeup is None or wakeup > target:
            break
        if wakeup > clock.now():
            clock.set(wakeup)
    print("DONE", flush=True)
    engine.close()


if __name__ == "__main__":
    main()
