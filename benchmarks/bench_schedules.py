"""Schedule benchmarks: a simulated week of an every-minute schedule, and many idle schedules.

Run: ``python benchmarks/bench_schedules.py --out benchmarks/results [--quick]``.
Writes ``schedules.json`` and ``schedules.md``.

* A simulated week (six hours with --quick) of ``cron@* * * * *`` on a one-task
  workflow, inline executor and :class:`~aiflow_core.testing.FakeClock`: the
  clock moves one minute at a time and the engine runs until idle after each
  move, so every fire is its own execution (10,080 for the week). Target:
  under 20 s for the week (shorter runs are extrapolated). The week is run
  on the SQLite file and again on the memory store (``memory://``): the
  ratio of the two is what SQL costs per simulated step. The same schedule
  is also run for at most a day in hour-long steps (the engine runs the 60
  fires of each step at their own instants), for comparison. The baseline is
  one single-row INSERT + COMMIT on SQLite with the store's settings; the
  cost per execution is also given as a multiple.
* The scheduler's cost of 10,000 registered schedules (2,000 with --quick)
  whose next fire is years away: the median time of one ``loop.step()`` with
  nothing due, minus the same with no schedule at all (the baseline, same
  engine, same run). Target: under 5 ms.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from typing import Any

from common import (
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

WEEK_TARGET_S = 20.0
WEEK_MINUTES = 7 * 24 * 60
STEP_TARGET_MS = 5.0

ONE_TASK = """
with Workflow(name="minutely") as w:
    PythonOperator(name="work", python_callable=noop)
"""


def simulate(minutes: int, step_minutes: int, baseline_ms: float, db_url: str | None = None) -> dict[str, Any]:
    """Run ``minutes`` of an every-minute schedule, moving the fake clock ``step_minutes`` at a time.

    ``db_url`` None is the default SQLite file under the temporary home.
    """
    from aiflow_core import Engine
    from aiflow_core.testing import FakeClock

    with temp_home("week") as home:
        clock = FakeClock()
        engine = Engine(db_url=db_url, executor="inline", clock=clock)
        try:
            engine.upload_workflows(str(write_workflow(home, "wf.py", ONE_TASK)))
            engine.add_workflow_schedule("cron@* * * * *", "minutely")
            start = time.perf_counter()
            for _ in range(minutes // step_minutes):
                clock.advance(dt.timedelta(minutes=step_minutes))
                engine.run_until_idle()
            wall = time.perf_counter() - start
            executions = engine.list_workflow_executions("minutely")
        finally:
            engine.close()
    succeeded = sum(1 for e in executions if e.status.value == "SUCCESS")
    if len(executions) != minutes or succeeded != minutes:
        raise RuntimeError(f"expected {minutes} successful executions, got {succeeded}/{len(executions)}")
    per_execution_ms = wall / minutes * 1000
    week_s = per_execution_ms * WEEK_MINUTES / 1000
    store = "memory" if db_url == "memory://" else "sqlite"
    log(f"{minutes} minutes in {step_minutes}-minute steps on {store}: {wall:.2f} s, "
        f"{per_execution_ms:.2f} ms/execution, a week {week_s:.1f} s")
    return {
        "store": store,
        "step_minutes": step_minutes,
        "executions": minutes,
        "wall_s": wall,
        "ms_per_execution": per_execution_ms,
        "in_commits": per_execution_ms / baseline_ms,
        "week_s": week_s,
        "measured_week": minutes == WEEK_MINUTES,
        "target_week_s": WEEK_TARGET_S,
        "result": verdict(week_s, WEEK_TARGET_S),
    }


def _step_ms(engine: Any, steps: int) -> float:
    times = []
    for _ in range(steps):
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
    base = results["baseline_commit_ms"]
    lines = [
        "# Schedule benchmark",
        "",
        f"Run on {results['machine']}, {results['mode']} mode, inline executor, fake clock, SQLite "
        f"file. Baseline: one single-row INSERT + COMMIT on SQLite with the store's settings = "
        f"{base:.3f} ms.",
        "",
        "## Every-minute schedule in simulated time",
        "",
    ]
    lines += table(
        ["store", "clock step", "executions", "wall s", "ms/execution", "x commit",
         "week s", "target", "result"],
        [
            [r["store"], f"{r['step_minutes']} min", r["executions"], f"{r['wall_s']:.2f}",
             f"{r['ms_per_execution']:.2f}", f"{r['in_commits']:.0f}",
             f"{r['week_s']:.1f}" + ("" if r["measured_week"] else " (extrapolated)"),
             f"week < {r['target_week_s']:g} s", r["result"]]
            for r in results["simulation"]
        ],
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
    results: dict[str, Any] = {"mode": "quick" if quick else "full", "machine": machine()}
    with temp_home("baseline") as home:
        results["baseline_commit_ms"] = base = sqlite_commit_ms(home / "baseline.db", 200 if quick else 1000)
    log(f"baseline: INSERT + COMMIT {base:.3f} ms")
    minutes = 6 * 60 if quick else WEEK_MINUTES
    results["simulation"] = [
        simulate(minutes, 1, base),
        simulate(minutes, 1, base, db_url="memory://"),
        simulate(min(minutes, 24 * 60), 60, base),
    ]
    results["many_schedules"] = many_schedules(2000 if quick else 10_000, 100 if quick else 300)
    write_results(args.out, "schedules", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
