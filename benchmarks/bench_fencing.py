"""What fenced leadership costs: a chain link with the lease check against the same chain without it.

Run: ``python benchmarks/bench_fencing.py --out benchmarks/results [--quick]``.
Writes ``fencing.json`` and ``fencing.md``.

Every scheduler transaction of a fenced engine ends by proving that the
engine still holds the scheduler lease at its epoch (one locking read of the
lease row with the database's time). An engine on the embedded SQLite
database (thread executor, parallelism 10) runs a chain of no-op tasks (each
``start_after`` the previous one), with the check on, and with it turned
off through its private knob (``engine.leadership.fencing = False``, unsafe
with several engines: for measuring only). One engine runs the executions,
turning the check on and off between them (alternating), so both modes see
the same machine, database and caches. The figure per mode is the wall time
per link of its best execution (the one least disturbed by the rest of the
machine; the medians are reported too), and the result is the ratio fenced /
unfenced (target at most 1.10).
The baseline commit (one single-row INSERT + COMMIT through the ``sqlite3``
driver) is measured in the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from bench_engine import CHAIN
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

def chain_links(links: int, repeats: int) -> dict[str, Any]:
    """Per-link wall time of a chain, fenced and unfenced, executions alternating; medians and their ratio."""
    from aiflow_core import Engine

    walls: dict[str, list[float]] = {"fenced": [], "unfenced": []}
    with temp_home("fencing") as home:
        baseline_ms = sqlite_commit_ms(home / "baseline.db", BASELINE_COMMITS)
        path = write_workflow(home, "chain.py", CHAIN.format(name="chain", n=links))
        with Engine(executor="thread", parallelism=10) as engine:
            engine.upload_workflows(str(path))
            warm = engine.start_workflow_execution("chain")
            engine.wait_for_workflow_execution(warm, timeout=600)
            for index in range(repeats * 2):
                # Alternate, starting with each mode in turn, so that neither always runs on a larger database.
                mode = ("fenced", "unfenced")[(index + index // 2) % 2]
                engine.leadership.fencing = mode == "fenced"
                start = time.perf_counter()
                execution = engine.start_workflow_execution("chain")
                result = engine.wait_for_workflow_execution(execution, timeout=600)
                walls[mode].append(time.perf_counter() - start)
                if result.status.value != "SUCCESS":
                    raise RuntimeError(f"chain ({mode}) ended {result.status.value}")
    per_link = {mode: min(runs) / links * 1000 for mode, runs in walls.items()}
    median = {mode: statistics.median(runs) / links * 1000 for mode, runs in walls.items()}
    ratio = per_link["fenced"] / per_link["unfenced"]
    median_ratio = median["fenced"] / median["unfenced"]
    log(f"chain of {links}: fenced {per_link['fenced']:.3f} ms/link, unfenced {per_link['unfenced']:.3f} "
        f"ms/link (best runs), ratio {ratio:.3f}; medians {median['fenced']:.3f} and {median['unfenced']:.3f}, "
        f"ratio {median_ratio:.3f} (baseline commit {baseline_ms:.4f} ms)")
    return {
        "links": links,
        "repeats": repeats,
        "runs_s": walls,
        "median_fenced_ms_per_link": median["fenced"],
        "median_unfenced_ms_per_link": median["unfenced"],
        "median_ratio": median_ratio,
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
        f"{r['links']} no-op tasks in one engine, executions with and without the check alternating "
        f"({r['repeats']} each); wall time per link of the best execution of each mode (medians beside). "
        f"Baseline commit {r['baseline_commit_ms']:.4f} ms.",
        "",
    ]
    lines += table(
        ["fenced ms/link", "unfenced ms/link", "fenced commits/link", "unfenced commits/link", "ratio",
         "median ratio", "target", "result"],
        [[f"{r['fenced_ms_per_link']:.3f}", f"{r['unfenced_ms_per_link']:.3f}", f"{r['fenced_in_commits']:.1f}",
          f"{r['unfenced_in_commits']:.1f}", f"{r['ratio']:.3f}", f"{r['median_ratio']:.3f}", r["target"],
          r["result"]]],
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    args = parse_args(doc.splitlines()[0], argv)
    links, repeats = (50, 3) if args.quick else (100, 25)
    results = {"mode": "quick" if args.quick else "full", "machine": machine(), "chain": chain_links(links, repeats)}
    write_results(args.out, "fencing", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
