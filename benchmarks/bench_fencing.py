"""What fenced leadership costs: a chain link with the lease check against the same chain without it.

Run: ``python benchmarks/bench_fencing.py --out benchmarks/results [--quick]``.
Writes ``fencing.json`` and ``fencing.md``.

Every scheduler transaction of a fenced engine ends by proving that the
engine still holds the scheduler lease at its epoch (one locking read of the
lease row with the database's time). Two engines, each on its own embedded
SQLite database (thread executor, parallelism 10), run the same chain of
no-op tasks (each ``start_after`` the previous one); one has the check turned
off through its private knob (``engine.leadership.fencing = False``, unsafe
with several engines: for measuring only). Their executions alternate, so
both see the same machine; the figure per mode is the median wall time per
link, and the result is the ratio fenced / unfenced (target at most 1.10).
The baseline commit (one single-row INSERT + COMMIT through the ``sqlite3``
driver) is measured in the same run.
"""

from __future__ import annotations

import contextlib
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
    write_results,
    write_workflow,
)

log = make_logger("bench_fencing")

RATIO_TARGET = 1.10
BASELINE_COMMITS = 1000

CHAIN = """
with Workflow(name="chain") as w:
    previous = PythonOperator(name="t0", python_callable=noop)
    for i in range(1, {n}):
        task = PythonOperator(name=f"t{{i}}", python_callable=noop)
        task.start_after(previous)
        previous = task
"""


def chain_links(links: int, repeats: int) -> dict[str, Any]:
    """Per-link wall time of a chain, fenced and unfenced, executions alternating; medians and their ratio."""
    from aiflow_core import Engine

    walls: dict[str, list[float]] = {"fenced": [], "unfenced": []}
    with contextlib.ExitStack() as stack:
        engines = {}
        for mode in walls:
            home = stack.enter_context(temp_home(f"fencing-{mode}"))
            path = write_workflow(home, "chain.py", CHAIN.format(n=links))
            engine = stack.enter_context(Engine(executor="thread", parallelism=10))
            engine.leadership.fencing = mode == "fenced"
            engine.upload_workflows(str(path))
            warm = engine.start_workflow_execution("chain")
            engine.wait_for_workflow_execution(warm, timeout=600)
            engines[mode] = engine
        for _ in range(repeats):
            for mode, engine in engines.items():
                start = time.perf_counter()
                execution = engine.start_workflow_execution("chain")
                result = engine.wait_for_workflow_execution(execution, timeout=600)
                walls[mode].append(time.perf_counter() - start)
                if result.status.value != "SUCCESS":
                    raise RuntimeError(f"chain ({mode}) ended {result.status.value}")
        with temp_home("baseline") as home:
            baseline_ms = sqlite_commit_ms(home / "baseline.db", BASELINE_COMMITS)
    per_link = {mode: statistics.median(runs) / links * 1000 for mode, runs in walls.items()}
    ratio = per_link["fenced"] / per_link["unfenced"]
    log(f"chain of {links}: fenced {per_link['fenced']:.3f} ms/link, unfenced {per_link['unfenced']:.3f} "
        f"ms/link, ratio {ratio:.3f} (baseline commit {baseline_ms:.4f} ms)")
    return {
        "links": links,
        "repeats": repeats,
        "runs_s": walls,
        "fenced_ms_per_link": per_link["fenced"],
        "unfenced_ms_per_link": per_link["unfenced"],
        "fenced_in_commits": per_link["fenced"] / baseline_ms,
        "unfenced_in_commits": per_link["unfenced"] / baseline_ms,
        "baseline_commit_ms": baseline_ms,
        "ratio": ratio,
        "target": f"<= {RATIO_TARGET:.2f}",
        "result": at_most(ratio, RATIO_TARGET),
    }


def markdown(results: dict[str, Any]) -> str:
    r = results["chain"]
    lines = [
        "# Fenced leadership benchmark",
        "",
        f"Run on {results['machine']}, {results['mode']} mode, embedded SQLite, thread executor. A chain of "
        f"{r['links']} no-op tasks, executions of the fenced and the unfenced engine alternating "
        f"({r['repeats']} each); median wall time per link. Baseline commit {r['baseline_commit_ms']:.4f} ms.",
        "",
    ]
    lines += table(
        ["fenced ms/link", "unfenced ms/link", "fenced commits/link", "unfenced commits/link", "ratio",
         "target", "result"],
        [[f"{r['fenced_ms_per_link']:.3f}", f"{r['unfenced_ms_per_link']:.3f}", f"{r['fenced_in_commits']:.1f}",
          f"{r['unfenced_in_commits']:.1f}", f"{r['ratio']:.3f}", r["target"], r["result"]]],
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    args = parse_args(doc.splitlines()[0], argv)
    links, repeats = (50, 3) if args.quick else (200, 7)
    results = {"mode": "quick" if args.quick else "full", "machine": machine(), "chain": chain_links(links, repeats)}
    write_results(args.out, "fencing", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
