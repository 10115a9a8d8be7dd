"""Core engine benchmarks on the embedded default (SQLite file, local blob, temporary AIFLOW_HOME).

Run: ``python benchmarks/bench_engine.py --out benchmarks/results [--quick]``.
Writes ``engine.json`` and ``engine.md``.

* Scheduling overhead per task of a fan-out (one root task, N no-op tasks
  ``start_after(root)``) and of a chain (each no-op task ``start_after`` the
  previous one), on the thread and on the process executor (parallelism 10).
  The tasks do nothing, so the ideal time is zero and the overhead per task is
  the wall time from ``start_workflow_execution`` to the final status divided
  by the number of tasks: the median of five executions (one with --quick) in
  the same engine, as one run on a noisy machine can be far off. Targets on
  the thread executor, in baseline commits: at most 15 per task of a fan-out
  of 1,000 and 30 per link of a chain of 200; on the process executor
  < 5 ms/task.
* Event-to-task-start latency: a task started by an event records
  ``time.time()`` when it runs; the event is sent in-process
  (``engine.send_event``, target p50 < 5 ms) or by another process through
  ``Client(db_url).send_event`` (target p50 < 50 ms).
* RSS of an idle engine (started, one workflow uploaded, nothing running),
  measured in a subprocess, against a bare ``import aiflow_core`` process
  (target < 80 MB).

The baseline is one single-row INSERT + COMMIT through the ``sqlite3`` driver
(WAL, ``synchronous=NORMAL``, a connection kept open), measured in the same
process just before each measurement; figures are given as multiples of it
("baseline commits") as well as in milliseconds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import (
    REPO,
    at_most,
    machine,
    make_logger,
    parse_args,
    percentile,
    sqlite_commit_ms,
    table,
    temp_home,
    verdict,
    write_results,
    write_workflow,
)

log = make_logger("bench_engine")

#: Per-task targets: (executor, shape) -> (unit, limit); "commits" are baseline commits.
TARGETS = {
    ("thread", "fan-out"): ("commits", 15.0),
    ("thread", "chain"): ("commits", 30.0),
    ("process", "fan-out"): ("ms", 5.0),
    ("process", "chain"): ("ms", 5.0),
}
BASELINE_COMMITS = 1000
LATENCY_TARGET_MS = {"in-process": 5.0, "other process": 50.0}
RSS_TARGET_MB = 80.0

FAN_OUT = """
with Workflow(name="{name}") as w:
    root = PythonOperator(name="root", python_callable=noop)
    for i in range({n}):
        PythonOperator(name=f"t{{i}}", python_callable=noop).start_after(root)
"""

CHAIN = """
with Workflow(name="{name}") as w:
    previous = PythonOperator(name="t0", python_callable=noop)
    for i in range(1, {n}):
        task = PythonOperator(name=f"t{{i}}", python_callable=noop)
        task.start_after(previous)
        previous = task
"""

ON_EVENT = """
import time

from aiflow_core.model.action import TaskAction


def mark(path):
    with open(path, "a") as f:
        f.write(f"{{time.time()}}\\n")


with Workflow(name="on_event", keep_open=True) as w:
    task = PythonOperator(name="t", python_callable=mark, op_args=[{path!r}])
    # RESTART, not START: the previous run may not be reported finished yet when
    # the next event arrives, and a START on a running task is ignored. A task
    # with no START rule also runs once when the execution starts: that first
    # line of the marks file is not a sample.
    task.action_on_event_received(TaskAction.RESTART, "ping")
"""


# -- throughput --
def overhead(executor: str, shape: str, n: int, repeats: int) -> dict[str, Any]:
    """Per-task scheduling overhead of a fan-out or chain execution: the median of ``repeats`` executions.

    The baseline commit is measured just before, in the same process.
    """
    from aiflow_core import Engine

    with temp_home(f"{executor}-{shape}") as home:
        baseline_ms = sqlite_commit_ms(home / "baseline.db", BASELINE_COMMITS)
        template = FAN_OUT if shape == "fan-out" else CHAIN
        warm = write_workflow(home, "warm.py", FAN_OUT.format(name="warm", n=10))
        path = write_workflow(home, "wf.py", template.format(name="wf", n=n))
        tasks = n + 1 if shape == "fan-out" else n
        with Engine(executor=executor, parallelism=10) as engine:
            engine.upload_workflows(str(warm))
            engine.upload_workflows(str(path))
            start = time.perf_counter()
            warm_id = engine.start_workflow_execution("warm")
            engine.wait_for_workflow_execution(warm_id, timeout=300)
            warm_s = time.perf_counter() - start
            walls = []
            for _ in range(repeats):
                start = time.perf_counter()
                execution_id = engine.start_workflow_execution("wf")
                result = engine.wait_for_workflow_execution(execution_id, timeout=600)
                walls.append(time.perf_counter() - start)
                ran = len(engine.list_task_executions(execution_id))
                if result.status.value != "SUCCESS" or ran != tasks:
                    raise RuntimeError(f"{shape} on {executor}: {result.status.value}, {ran}/{tasks} tasks ran")
    wall = statistics.median(walls)
    per_task_ms = wall / tasks * 1000
    in_commits = per_task_ms / baseline_ms
    unit, limit = TARGETS[(executor, shape)]
    log(f"{shape} of {tasks} on {executor}: median {wall:.2f} s of {repeats} runs "
        f"({', '.join(f'{w:.2f}' for w in walls)}), {per_task_ms:.2f} ms/task = {in_commits:.1f} "
        f"baseline commits of {baseline_ms:.4f} ms")
    return {
        "executor": executor,
        "shape": shape,
        "tasks": tasks,
        "warmup_s": warm_s,
        "runs_s": walls,
        "wall_s": wall,
        "ideal_s": 0.0,
        "baseline_commit_ms": baseline_ms,
        "overhead_ms_per_task": per_task_ms,
        "overhead_in_commits": in_commits,
        "target": f"<= {limit:g} commits" if unit == "commits" else f"< {limit:g} ms",
        "result": at_most(in_commits, limit) if unit == "commits" else verdict(per_task_ms, limit),
    }


# -- latency --
def _wait_lines(path: Path, count: int, timeout: float = 10.0) -> list[float]:
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            lines = path.read_text().split()
            if len(lines) >= count:
                return [float(x) for x in lines]
        if time.monotonic() > deadline:
            raise TimeoutError(f"the event-started task did not run ({count} expected)")
        time.sleep(0.0005)


SENDER = """
import json, sys, time
from pathlib import Path
from aiflow_core import Client

db_url, marks, samples, gap = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
client = Client(db_url)
sent = []
for i in range(samples):
    time.sleep(gap)
    before = time.time()
    client.send_event("ping", str(i))
    sent.append((before, time.time()))
    deadline = time.monotonic() + 10
    while not marks.exists() or len(marks.read_text().split()) < i + 2:
        if time.monotonic() > deadline:
            raise SystemExit("the event-started task did not run")
        time.sleep(0.0005)
client.close()
print(json.dumps(sent))
"""


def latency(samples: int, gap: float, baseline_ms: float) -> list[dict[str, Any]]:
    """Event-to-task-start latency, events sent in-process and from another process."""
    from aiflow_core import Engine

    results = []
    for where in ("in-process", "other process"):
        with temp_home("latency") as home:
            marks = home / "marks.txt"
            path = write_workflow(home, "on_event.py", ON_EVENT.format(path=str(marks)))
            with Engine(executor="thread", parallelism=10) as engine:
                engine.upload_workflows(str(path))
                engine.start_workflow_execution("on_event")
                _wait_lines(marks, 1)
                time.sleep(0.2)
                sent: list[tuple[float, float]] = []
                if where == "in-process":
                    for i in range(samples):
                        time.sleep(gap)
                        before = time.time()
                        engine.send_event("ping", str(i))
                        sent.append((before, time.time()))
                        _wait_lines(marks, i + 2)
                else:
                    out = subprocess.run(
                        [sys.executable, "-c", SENDER, engine.db_url, str(marks), str(samples), str(gap)],
                        check=True, capture_output=True, text=True, cwd=REPO,
                        env={**_env(), "AIFLOW_HOME": str(home)},
                    )
                    sent = [tuple(pair) for pair in json.loads(out.stdout.strip().splitlines()[-1])]
                starts = _wait_lines(marks, samples + 1)[1:]
        from_send = [(s - b) * 1000 for (b, _), s in zip(sent, starts, strict=True)]
        from_commit = [(s - a) * 1000 for (_, a), s in zip(sent, starts, strict=True)]
        p50, p90 = percentile(from_send, 0.5), percentile(from_send, 0.9)
        target = LATENCY_TARGET_MS[where]
        log(f"event sent {where} -> task start: p50 {p50:.2f} ms, p90 {p90:.2f} ms")
        results.append({
            "sender": where,
            "samples": samples,
            "p50_ms": p50,
            "p90_ms": p90,
            "max_ms": max(from_send),
            "p50_after_commit_ms": percentile(from_commit, 0.5),
            "p50_in_commits": p50 / baseline_ms,
            "target_p50_ms": target,
            "result": verdict(p50, target),
        })
    return results


# -- memory --
IDLE = """
import json, os, sys, time
import psutil
from aiflow_core import Engine

engine = Engine().start()
engine.upload_workflows(sys.argv[1])
time.sleep(float(sys.argv[2]))
rss = [psutil.Process().memory_info().rss]
time.sleep(1.0)
rss.append(psutil.Process().memory_info().rss)
print(json.dumps({"rss": max(rss), "executor": type(engine.executor).__name__}))
engine.close()
"""

BARE = """
import json
import psutil
import aiflow_core
print(json.dumps({"rss": psutil.Process().memory_info().rss}))
"""


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def idle_rss(settle: float) -> dict[str, Any]:
    """RSS of an idle engine process against a bare ``import aiflow_core`` process."""

    with temp_home("rss") as home:
        env = {**_env(), "AIFLOW_HOME": str(home)}
        path = write_workflow(home, "wf.py", FAN_OUT.format(name="wf", n=10))
        bare = json.loads(subprocess.run(
            [sys.executable, "-c", BARE], check=True, capture_output=True, text=True, env=env, cwd=home,
        ).stdout)
        idle = json.loads(subprocess.run(
            [sys.executable, "-c", IDLE, str(path), str(settle)], check=True, capture_output=True,
            text=True, env=env, cwd=home,
        ).stdout.strip().splitlines()[-1])
    mb = 1024 * 1024
    idle_mb, bare_mb = idle["rss"] / mb, bare["rss"] / mb
    log(f"idle engine RSS {idle_mb:.1f} MB, bare import {bare_mb:.1f} MB")
    return {
        "executor": idle["executor"],
        "idle_engine_rss_mb": idle_mb,
        "bare_import_rss_mb": bare_mb,
        "ratio": idle_mb / bare_mb,
        "target_mb": RSS_TARGET_MB,
        "result": verdict(idle_mb, RSS_TARGET_MB),
    }


def markdown(results: dict[str, Any]) -> str:
    base = results["baseline_commit_ms"]
    lines = [
        "# Core engine benchmark",
        "",
        f"Run on {results['machine']}, {results['mode']} mode, embedded default store "
        f"(SQLite file, local blob). Baseline commit: one single-row INSERT + COMMIT through the "
        f"sqlite3 driver (WAL, synchronous=NORMAL, connection kept open), median of "
        f"{results['baseline_commits']}, measured just before each figure "
        f"({base:.4f} ms before the latency runs).",
        "",
        "## Scheduling overhead per task (no-op tasks, parallelism 10)",
        "",
    ]
    lines += table(
        ["shape", "executor", "tasks", "median wall s", "ms/task", "baseline commit ms",
         "commits/task", "target", "result"],
        [
            [r["shape"], r["executor"], r["tasks"], f"{r['wall_s']:.2f}",
             f"{r['overhead_ms_per_task']:.3f}", f"{r['baseline_commit_ms']:.4f}",
             f"{r['overhead_in_commits']:.1f}", r["target"], r["result"]]
            for r in results["overhead"]
        ],
    )
    lines += ["", "## Event to task start (thread executor)", ""]
    lines += table(
        ["event sent", "samples", "p50 ms", "p90 ms", "p50 in commits", "target", "result"],
        [
            [r["sender"], r["samples"], f"{r['p50_ms']:.2f}", f"{r['p90_ms']:.2f}",
             f"{r['p50_in_commits']:.1f}", f"p50 < {r['target_p50_ms']:g} ms", r["result"]]
            for r in results["latency"]
        ],
    )
    m = results["idle_rss"]
    lines += ["", "## Idle engine memory", ""]
    lines += table(
        ["process", "RSS MB", "bare import MB", "ratio", "target", "result"],
        [[f"idle Engine() ({m['executor']})", f"{m['idle_engine_rss_mb']:.1f}",
          f"{m['bare_import_rss_mb']:.1f}", f"{m['ratio']:.2f}", f"< {m['target_mb']:g} MB", m["result"]]],
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    args = parse_args(doc.splitlines()[0], argv)
    quick = args.quick
    fan, chain = (200, 50) if quick else (1000, 200)
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full", "machine": machine(), "baseline_commits": BASELINE_COMMITS,
    }
    repeats = 1 if quick else 5
    results["overhead"] = [
        overhead(executor, shape, n, repeats)
        for executor in ("thread", "process")
        for shape, n in (("fan-out", fan), ("chain", chain))
    ]
    with temp_home("baseline") as home:
        results["baseline_commit_ms"] = base = sqlite_commit_ms(home / "baseline.db", BASELINE_COMMITS)
    log(f"baseline: INSERT + COMMIT {base:.4f} ms")
    results["latency"] = latency(30 if quick else 200, 0.01, base)
    results["idle_rss"] = idle_rss(1.0 if quick else 3.0)
    write_results(args.out, "engine", results, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
