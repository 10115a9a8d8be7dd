"""Schedule benchmarks: a simulated week of an every-minute schedule, and many idle schedules.

Run: ``python benchmarks/bench_schedules.py --out benchmarks/results [--quick]``.
Writes ``schedules.json`` and ``schedules.md``.

* A simulated week (six hours with --quick) of ``cron@* * * * *`` on a one-task
  workflow, inline executor and :class:`~aiflow_core.testing.FakeClock`: the
  clock moves one minute at a time and the engine runs until idle after each
  move, so every fire is its own execution (10,080 for the week). The week
  is run on the SQLite file and again on the memory store (``memory://``).
  Targets: the memory store at least 5 times faster than SQLite in the same
  run, and on SQLite at most 40 baseline commits per execution. The baseline
  is one single-row INSERT + COMMIT through the ``sqlite3`` driver (WAL,
  ``synchronous=NORMAL``, a connection kept open), measured in the same
  process just before each simulation. The same schedule is also run for at
  most a day in hour-long steps on SQLite (the engine runs the 60 fires of
  each step at their own instants), for comparison. The process's user and
  system CPU time per execution are recorded beside the wall time (the
  system time is mostly the file system: each execution's working copy).
* The scheduler's cost of 10,000 registered schedules (2,000 with --quick)
  whose next fire is years away: the median time of one ``loop.step()`` with
  nothing due, minus the same with no schedule at all (the baseline, same
  engine, same run). Target: under 5 ms.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from typing import Any

from common import (
    at_most,
    machine,
    make_logger,
    parse_args,
    sqlite_commit_ms,
    table,
    temp_home,
    verdict,
    write_results,
    write_workflow,
)

log = make_logger("bench_schedules")

WEEK_MINUTES = 7 * 24 * 60
SQLITE_TARGET_COMMITS = 40.0
MEMORY_SPEEDUP_TARGET = 5.0
BASELINE_COMMITS = 1000
STEP_TARGET_MS = 5.0

ONE_TASK = """
with Workflow(name="minutely") as w:
    PythonOperator(name="work", python_callable=noop)
"""


def simulate(minutes: int, step_minutes: int, db_url: str | None = None) -> dict[str, Any]:
    """Run ``minutes`` of an every-minute schedule, moving the fake clock ``step_minutes`` at a time.

    ``db_url`` None is the default SQLite file under the temporary home. The
    baseline commit is measured just before, in the same process.
    """
    from aiflow_core import Engine
    from aiflow_core.testing import FakeClock

    with temp_home("week") as home:
        baseline_ms = sqlite_commit_ms(home / "baseline.db", BASELINE_COMMITS)
        clock = FakeClock()
        engine = Engine(db_url=db_url, executor="inline", clock=clock)
        try:
            engine.upload_workflows(str(write_workflow(home, "wf.py", ONE_TASK)))
            engine.add_workflow_schedule("cron@* * * * *", "minutely")
            start, cpu = time.perf_counter(), os.times()
            for _ in range(minutes // step_minutes):
                clock.advance(dt.timedelta(minutes=step_minutes))
                engine.run_until_idle()
            wall, cpu_end = time.perf_counter() - start, os.times()
            executions = engine.list_workflow_executions("minutely")
        finally:
            engine.close()
    succeeded = sum(1 for e in executions if e.status.value == "SUCCESS")
    if len(executions) != minutes or succeeded != minutes:
        raise RuntimeError(f"expected {minutes} successful executions, got {succeeded}/{len(executions)}")
    per_execution_ms = wall / minutes * 1000
    week_s = per_execution_ms * WEEK_MINUTES / 1000
    store = "memory" if db_url == "memory://" else "sqlite"
    in_commits = per_execution_ms / baseline_ms
    user_ms = (cpu_end.user - cpu.user) / minutes * 1000
    system_ms = (cpu_end.system - cpu.system) / minutes * 1000
    log(f"{minutes} minutes in {step_minutes}-minute steps on {store}: {wall:.2f} s, "
        f"{per_execution_ms:.2f} ms/execution = {in_commits:.0f} baseline commits of {baseline_ms:.4f} ms "
        f"(CPU {user_ms:.2f} ms user, {system_ms:.2f} ms system), a week {week_s:.1f} s")
    return {
        "store": store,
        "step_minutes": step_minutes,
        "executions": minutes,
        "wall_s": wall,
        "baseline_commit_ms": baseline_ms,
        "ms_per_execution": per_execution_ms,
        "user_cpu_ms_per_execution": user_ms,
        "system_cpu_ms_per_execution": system_ms,
        "in_commits": in_commits,
        "week_s": week_s,
        "measured_week": minutes == WEEK_MINUTES,
    }


def judge(sqlite: dict[str, Any], memory: dict[str, Any]) -> list[dict[str, Any]]:
    """The week's two targets: commits per execution on SQLite, and memory's speed-up over SQLite."""
    speedup = sqlite["ms_per_execution"] / memory["ms_per_execution"]
    return [
        {"target": "SQLite: baseline commits per execution", "value": f"{sqlite['in_commits']:.0f}",
         "limit": f"<= {SQLITE_TARGET_COMMITS:g}", "result": at_most(sqlite["in_commits"], SQLITE_TARGET_COMMITS)},
        {"target": "memory store: times faster than SQLite", "value": f"{speedup:.2f}",
         "limit": f">= {MEMORY_SPEEDUP_TARGET:g}", "result": at_most(MEMORY_SPEEDUP_TARGET, speedup)},
    ]


def _step_ms(engine: Any, steps: int) -> float:
    times = []
    for _ in range(steps):
        engine.leadership.ensure()  # renew the lease as the engine's loop would (slow registrations outlast it)
        start = time.perf_counter()
        result = engine.loop.step()
        times.append(time.perf_counter() - start)
        if result.applied or result.commands:
            raise RuntimeError(f"the loop found work while nothing was due: {result}")
    return statistics.median(times) * 1000


def many_schedules(count: int, steps: int) -> dict[str, Any]:
    """Median step time with ``count`` far-future schedules minus the same with none."""
    from aiflow_core import Engine

    with temp_home("many") as home:
        engine = Engine(executor="inline")
        try:
            engine.upload_workflows(str(write_workflow(home, "wf.py", ONE_TASK)))
            workflow = engine.get_workflow("minutely")
            assert workflow is not None
            engine.run_until_idle()
            _step_ms(engine, 20)
            empty_ms = _step_ms(engine, steps)
            now = engine.clock.now()
            far = now.replace(year=now.year + 10)
            log(f"registering {count} schedules due in 10 years")
            with engine.store.transaction() as tx:
                for _ in range(count):
                    tx.add_schedule(workflow.id, "cron@0 0 1 1 *", far, "coalesce", now)
            _step_ms(engine, 20)
            loaded_ms = _step_ms(engine, steps)
        finally:
            engine.close()
    difference = loaded_ms - empty_ms
    log(f"step with {count} idle schedules {loaded_ms:.3f} ms, with none {empty_ms:.3f} ms")
    return {
        "schedules": count,
        "steps": steps,
        "step_ms_no_schedules": empty_ms,
        "step_ms_with_schedules": loaded_ms,
        "difference_ms": difference,
        "ratio": loaded_ms / empty_ms,
        "target_ms": STEP_TARGET_MS,
        "result": verdict(difference, STEP_TARGET_MS),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Schedule benchmark",
        "",
        f"Run on {results['machine']}, {results['mode']} mode, inline executor, fake clock. Baseline "
        f"commit: one single-row INSERT + COMMIT through the sqlite3 driver (WAL, synchronous=NORMAL, "
        f"connection kept open), median of {results['baseline_commits']}, measured just before each "
        f"simulation.",
        "",
        "## Every-minute schedule in simulated time",
        "",
    ]
    lines += table(
        ["store", "clock step", "executions", "wall s", "ms/execution", "CPU ms user / system", "baseline commit ms",
         "commits/execution", "week s"],
        [
            [r["store"], f"{r['step_minutes']} min", r["executions"], f"{r['wall_s']:.2f}",
             f"{r['ms_per_execution']:.3f}",
             f"{r['user_cpu_ms_per_execution']:.2f} / {r['system_cpu_ms_per_execution']:.2f}",
             f"{r['baseline_commit_ms']:.4f}", f"{r['in_commits']:.0f}",
             f"{r['week_s']:.1f}" + ("" if r["measured_week"] else " (extrapolated)")]
            for r in results["simulation"]
        ],
    )
    lines += [""]
    lines += table(
        ["target (one-minute steps)", "value", "limit", "result"],
        [[t["target"], t["value"], t["limit"], t["result"]] for t in results["targets"]],
    )
    m = results["many_schedules"]
    lines += ["", "## Loop step with many idle schedules", ""]
    lines += table(
        ["schedules", "step ms (none)", "step ms (with)", "difference ms", "ratio", "target", "result"],
        [[m["schedules"], f"{m['step_ms_no_schedules']:.3f}", f"{m['step_ms_with_schedules']:.3f}",
          f"{m['difference_ms']:.3f}", f"{m['ratio']:.2f}", f"< {m['target_ms']:g} ms", m["result"]]],
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    args = parse_args(doc.splitlines()[0], argv)
    quick = args.quick
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full", "machine": machine(), "baseline_commits": BASELINE_COMMITS,
    }
    minutes = 6 * 60 if quick else WEEK_MINUTES
    sqlite, memory = simulate(minutes, 1), simulate(minutes, 1, db_url="memory://")
    results["simulation"] = [sqlite, memory, simulate(min(minutes, 24 * 60), 60)]
    results["targets"] = judge(sqlite, memory)
    results["many_schedules"] = many_schedules(2000 if quick else 10_000, 100 if quick else 300)
    write_results(args.out, "schedules", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
