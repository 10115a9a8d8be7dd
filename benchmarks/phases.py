"""Where the time goes: phase timers around the engine's functions, for the README's account.

Not a benchmark with targets: it prints, per scheduled execution or per task,
the wall time, the process's CPU time and how much of both each timed phase
took (``perf_counter`` and ``thread_time`` around the function, in the thread
that called it), with the baseline commit measured just before.

Run::

    python benchmarks/phases.py schedule --store memory --executions 400
    python benchmarks/phases.py schedule --store sqlite --executions 400
    python benchmarks/phases.py chain --tasks 200 --repeats 5
    python benchmarks/phases.py fan-out --tasks 1000 --repeats 2

``schedule`` runs the schedule benchmark's every-minute workflow (inline
executor, fake clock, 20 warm-up executions first); ``chain`` and
``fan-out`` run the engine benchmark's workflows on the thread executor.
CPU time moves far less than wall time when other processes load the
machine, so compare two versions of the code on it, alternating runs.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench_engine import CHAIN, FAN_OUT
from bench_schedules import ONE_TASK
from common import sqlite_commit_ms, temp_home, write_workflow

WALL: collections.Counter[str] = collections.Counter()
CPU: collections.Counter[str] = collections.Counter()
CALLS: collections.Counter[str] = collections.Counter()


def _timed(owner: Any, name: str, label: str) -> Callable[[], None]:
    """Wrap ``owner.name`` with the phase timers; returns the function that unwraps it."""
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            WALL[label] += time.perf_counter() - wall
            CPU[label] += time.thread_time() - cpu
            CALLS[label] += 1

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


@contextmanager
def phases(shape: str) -> Iterator[None]:
    """Time the phases that matter for ``shape`` (``schedule``, ``chain`` or ``fan-out``)."""
    from aiflow_core.engine.core import Engine
    from aiflow_core.engine.handover import Handover
    from aiflow_core.engine.leadership import Leadership
    from aiflow_core.executors import definitions
    from aiflow_core.executors.thread import ThreadExecutor
    from aiflow_core.scheduler.apply import Applier
    from aiflow_core.scheduler.explain import ExplanationRecorder
    from aiflow_core.scheduler.loop import SchedulerLoop
    from aiflow_core.scheduler.schedules import ScheduleFirer
    from aiflow_storage.blob.snapshot_store import SnapshotStore
    from aiflow_storage.sql.tx_base import TxBase
    from aiflow_storage.sql.tx_log import LogOps

    timed = [
        (SchedulerLoop, "step", "loop: step (all of it)"),
        (Applier, "apply", "loop: apply events"),
        (Handover, "_prepare", "loop: prepare the job"),
        (SnapshotStore, "working_dir", "loop: working copy"),
        (definitions, "load_workflows", "loop: run the workflow file"),
        (TxBase, "finish", "loop: SQL write events, counters, commit"),
        (LogOps, "append_events", "loop: SQL append events"),
        (LogOps, "get_checkpoint", "loop: SQL locking read of the checkpoint"),
        (Leadership, "fence", "loop: fencing read"),
        (ExplanationRecorder, "flush", "loop: explanations"),
        (ScheduleFirer, "fire_due", "loop: schedule fires (cron)"),
    ]
    if shape != "schedule":
        timed += [
            (ThreadExecutor, "submit", "loop: hand-over to a worker"),
            (Engine, "_wait_for_wake", "loop: waiting for a wake-up"),
            (ThreadExecutor, "_run", "worker: run (with its RUNNING report)"),
            (Engine, "_report", "worker: report"),
        ]
    undo = [_timed(owner, name, label) for owner, name, label in timed]
    try:
        yield
    finally:
        for restore in reversed(undo):
            restore()


def _clear() -> None:
    """Forget what the warm-up took."""
    for counter in (WALL, CPU, CALLS):
        counter.clear()


def _show(title: str, count: int, walls: list[float], cpu: float, baseline_ms: float) -> None:
    """Print the figures per execution or task; ``walls`` (one per run) and ``cpu`` cover ``count`` of them."""
    per = statistics.median(walls) * len(walls) / count * 1000
    print(f"{title}: {per:.3f} ms wall (median run) = {per / baseline_ms:.0f} baseline commits of "
          f"{baseline_ms:.4f} ms; process CPU {cpu / count * 1000:.3f} ms")
    for label in sorted(WALL):
        print(f"  {label:45s} {CALLS[label] / count:6.2f} calls, wall {WALL[label] / count * 1000:7.3f} ms, "
              f"CPU {CPU[label] / count * 1000:7.3f} ms")


def schedule(store: str, executions: int) -> None:
    """Per scheduled execution of an every-minute schedule (inline executor, fake clock)."""
    from aiflow_core import Engine
    from aiflow_core.testing import FakeClock

    with temp_home("phases") as home:
        baseline_ms = sqlite_commit_ms(home / "baseline.db", 1000)
        clock = FakeClock()
        with phases("schedule"):  # before the engine: it keeps bound methods
            engine = Engine(db_url="memory://" if store == "memory" else None, executor="inline", clock=clock)
            try:
                engine.upload_workflows(str(write_workflow(home, "wf.py", ONE_TASK)))
                engine.add_workflow_schedule("cron@* * * * *", "minutely")
                for _ in range(20):
                    clock.advance(dt.timedelta(minutes=1))
                    engine.run_until_idle()
                _clear()
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(executions):
                    clock.advance(dt.timedelta(minutes=1))
                    engine.run_until_idle()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            finally:
                engine.close()
    _show(f"{executions} scheduled executions on {store}", executions, [wall], cpu, baseline_ms)


def tasks(shape: str, count: int, repeats: int) -> None:
    """Per task of a chain or fan-out on the thread executor (SQLite)."""
    from aiflow_core import Engine

    with temp_home("phases") as home:
        baseline_ms = sqlite_commit_ms(home / "baseline.db", 1000)
        template = CHAIN if shape == "chain" else FAN_OUT
        warm = write_workflow(home, "warm.py", FAN_OUT.format(name="warm", n=10))
        path = write_workflow(home, "wf.py", template.format(name="wf", n=count))
        total = count if shape == "chain" else count + 1
        with phases(shape), Engine(executor="thread", parallelism=10) as engine:
            engine.upload_workflows(str(warm))
            engine.upload_workflows(str(path))
            engine.wait_for_workflow_execution(engine.start_workflow_execution("warm"), timeout=300)
            walls = []
            _clear()
            cpu = time.process_time()
            for _ in range(repeats):
                start = time.perf_counter()
                engine.wait_for_workflow_execution(engine.start_workflow_execution("wf"), timeout=600)
                walls.append(time.perf_counter() - start)
            cpu = time.process_time() - cpu
    _show(f"{shape} of {total} tasks, {repeats} executions", total * repeats, walls, cpu, baseline_ms)


def main() -> None:
    """Parse the command line and run one measurement."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shape", choices=["schedule", "chain", "fan-out"])
    parser.add_argument("--store", choices=["memory", "sqlite"], default="sqlite")
    parser.add_argument("--executions", type=int, default=400)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.shape == "schedule":
        schedule(args.store, args.executions)
    else:
        tasks(args.shape, args.tasks, args.repeats)


if __name__ == "__main__":
    main()
