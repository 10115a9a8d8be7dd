"""Cost of explanations: scheduling with ``explanations`` at ``decisions`` (and ``full``) against ``off``.

Run: ``python benchmarks/bench_explain.py --out benchmarks/results [--quick]``.
Writes ``explain.json`` and ``explain.md``.

The scheduler's own work is timed on a stepped engine (inline executor, fake
clock, SQLite file; also the memory store), so nothing but scheduling is
measured: ``run_until_idle()`` from the start of an execution until it ends.

* chain: N no-op tasks, each ``start_after`` the previous one (every status
  change is evaluated by the next task's rule: one explanation row each);
* events: a task waiting for two events (``MeetAllCondition``) and a consumer
  whose condition sums the values of ``num_event`` (state kept, rendered into
  each row), fed M events one at a time.

Each workload runs at every level in turn, several rounds interleaved
(``off``, ``decisions``, ``full``, ``off``, ...), on fresh engines; the ratio
is the median over the rounds of the time at ``decisions`` over the time at
``off`` of the same round (run side by side, so they share the machine's
state), in CPU time of the measuring process (the engine steps in its thread; CPU time
is the scheduler's own work, which other processes on the machine disturb far
less than wall time, also recorded). Target: at most 1.2 on SQLite.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_engine import CHAIN
from common import at_most, machine, make_logger, parse_args, table, temp_home, write_results, write_workflow

log = make_logger("bench_explain")

LEVELS = ("off", "decisions", "full")
TARGET_RATIO = 1.2

EVENTS = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.internal.conditions import MeetAllCondition, SingleEventCondition
from aiflow_core.model.state import ValueStateDescriptor


class NumCondition(Condition):
    def is_met(self, event, context):
        state = context.get_state(ValueStateDescriptor(name="num_state"))
        total = (state.value() or 0) + int(event.value)
        state.update(total)
        return total >= {total}


with Workflow(name="events") as w:
    both = PythonOperator(name="both", python_callable=noop)
    both.action_on_condition(
        action=TaskAction.START,
        condition=MeetAllCondition(conditions=[SingleEventCondition("a"), SingleEventCondition("num_event")]),
    )
    consumer = PythonOperator(name="consumer", python_callable=noop)
    consumer.action_on_condition(action=TaskAction.START, condition=NumCondition(expect_event_keys=["num_event"]))
"""


def _run(home: Path, url: str, level: str, workload: str, size: int) -> tuple[float, float]:
    """Wall and CPU seconds of scheduling one execution of ``workload`` at ``level`` on a fresh engine."""
    from aiflow_core import Engine
    from aiflow_core.testing import FakeClock

    engine = Engine(db_url=url, executor="inline", clock=FakeClock(), explanations=level,
                    log_dir=home / "logs", history_retention=None)
    try:
        engine.upload_workflows(str(home / f"{workload}.py"))
        engine.run_until_idle()
        start, cpu = time.perf_counter(), time.process_time()
        execution_id = engine.start_workflow_execution(workload)
        if workload == "events":
            engine.run_until_idle()
            engine.send_event("a")
            for _ in range(size):
                engine.send_event("num_event", "1")
                engine.run_until_idle()
        engine.run_until_idle()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        execution = engine.get_workflow_execution(execution_id)
        if execution is None or execution.status.value != "SUCCESS":
            raise RuntimeError(f"{workload} at {level}: execution ended {execution and execution.status.value}")
        rows = len(engine.list_evaluations(limit=100_000))
        if (rows == 0) != (level == "off"):
            raise RuntimeError(f"{workload} at {level}: {rows} explanation rows")
    finally:
        engine.close()
    return seconds, cpu


def measure(store: str, workload: str, size: int, rounds: int) -> dict[str, Any]:
    """Median wall and CPU seconds per level of ``rounds`` interleaved runs, and the ratios against ``off``."""
    times: dict[str, list[float]] = {level: [] for level in LEVELS}
    cpus: dict[str, list[float]] = {level: [] for level in LEVELS}
    with temp_home(f"explain-{store}-{workload}") as home:
        write_workflow(home, "chain.py", CHAIN.format(name="chain", n=size))
        write_workflow(home, "events.py", EVENTS.format(total=size))
        for round_number in range(rounds + 1):
            for level in LEVELS:
                url = "memory://" if store == "memory" else f"sqlite:///{home / f'{level}-{round_number}.db'}"
                seconds, cpu = _run(home, url, level, workload, size)
                if round_number:  # the first round warms up imports and caches
                    times[level].append(seconds)
                    cpus[level].append(cpu)
    medians = {level: statistics.median(values) for level, values in times.items()}
    cpu_medians = {level: statistics.median(values) for level, values in cpus.items()}

    def paired(level: str, runs: dict[str, list[float]]) -> float:
        """The median over rounds of the ratio of ``level`` to ``off`` in the same round (run side by side)."""
        return statistics.median(a / b for a, b in zip(runs[level], runs["off"], strict=True))

    ratio, full_ratio, wall_ratio = paired("decisions", cpus), paired("full", cpus), paired("decisions", times)
    log(f"{workload} ({size}) on {store}: CPU off {cpu_medians['off']:.3f} s, decisions "
        f"{cpu_medians['decisions']:.3f} s (x{ratio:.3f}), full {cpu_medians['full']:.3f} s (x{full_ratio:.3f}); "
        f"wall decisions/off x{wall_ratio:.3f}")
    return {
        "store": store, "workload": workload, "size": size, "rounds": rounds, "runs_s": times, "runs_cpu_s": cpus,
        "median_s": medians, "median_cpu_s": cpu_medians, "ratio_decisions": ratio, "ratio_full": full_ratio,
        "wall_ratio_decisions": wall_ratio,
        "target": f"<= {TARGET_RATIO:g}" if store == "sqlite" else "(for information)",
        "result": at_most(ratio, TARGET_RATIO) if store == "sqlite" else "-",
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Explanations benchmark",
        "",
        f"Run on {results['machine']}, {results['mode']} mode. Stepped engine (inline executor, fake clock), "
        "scheduling time of one execution from its start to its end, at each `explanations` level in turn "
        f"({results['runs'][0]['rounds']} interleaved rounds, a fresh engine and database each); times are "
        "medians, ratios the median over rounds of the ratio to `off` in the same round. The "
        "verdict is on CPU time (the scheduler's own work: the engine steps in the measuring thread), which "
        "other processes on a shared machine disturb far less than wall time; wall figures are given too.",
        "",
    ]
    lines += table(
        ["workload", "store", "CPU off s", "CPU decisions s", "CPU full s", "decisions/off", "full/off",
         "wall off s", "wall decisions/off", "target", "result"],
        [
            [f"{r['workload']} ({r['size']})", r["store"], f"{r['median_cpu_s']['off']:.3f}",
             f"{r['median_cpu_s']['decisions']:.3f}", f"{r['median_cpu_s']['full']:.3f}",
             f"{r['ratio_decisions']:.3f}", f"{r['ratio_full']:.3f}", f"{r['median_s']['off']:.3f}",
             f"{r['wall_ratio_decisions']:.3f}", r["target"], r["result"]]
            for r in results["runs"]
        ],
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    args = parse_args(doc.splitlines()[0], argv)
    chain, events, rounds = (50, 100, 3) if args.quick else (200, 500, 9)
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine()}
    results["runs"] = [
        measure(store, workload, size, rounds)
        for store in ("sqlite", "memory")
        for workload, size in (("chain", chain), ("events", events))
    ]

    write_results(args.out, "explain", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
