"""Web UI and REST API benchmarks.

1. UI polling overhead: a chain of no-op tasks on the thread executor, the
   web app served from the engine's process, run with nobody watching and
   with the UI open on its execution (another process making the requests of
   the execution page's script once a second), alternately; the ratio of the
   median CPU times of the engine's process must be at most 1.1 (wall times
   are recorded too).
2. Page answer times on a big SQLite store: 1,000,000 events and 100,000
   workflow executions bulk-loaded with ``sqlite3``; the events page and the
   executions page (first page, filtered, deep pages by keyset) must answer
   in under 300 ms (median of 5 requests through uvicorn).

Run: ``python benchmarks/bench_web.py --out benchmarks/results [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_engine import CHAIN
from common import (
    at_most,
    machine,
    make_logger,
    parse_args,
    table,
    temp_home,
    verdict,
    write_results,
    write_workflow,
)

log = make_logger("web")
POLL_RATIO_TARGET = 1.1
PAGE_TARGET_MS = 300.0
TOKEN = "benchmark-token-0123456789abcdef"


# -- 1. polling overhead --
#: What a browser showing the running execution's page asks (its script, once a second), in a process of its own.
WATCHER = """
import sys, time
import httpx

http = httpx.Client(base_url=sys.argv[1], timeout=30)
print("watching", flush=True)
while True:
    # the user opens the newest execution's page once it exists ...
    newest = http.get("/api/workflow-executions", params={"limit": 1}).json()["items"]
    if not newest or newest[0]["status"] in ("SUCCESS", "FAILED", "STOPPED"):
        time.sleep(0.2)
        continue
    execution = newest[0]["id"]
    # ... and its script asks for the execution and its latest runs every second until the execution ends
    while True:
        status = http.get(f"/api/workflow-executions/{execution}").json()["status"]
        http.get(f"/api/workflow-executions/{execution}/task-executions",
                 params={"newest_first": "true", "limit": 200}).raise_for_status()
        if status in ("SUCCESS", "FAILED", "STOPPED"):
            break
        time.sleep(1.0)
"""


class Watcher:
    """A process polling the app like an open execution page, while the block runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Watcher:
        self.process = subprocess.Popen([sys.executable, "-c", WATCHER, self.url], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.process.stdout.readline()  # it runs
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)


def polling_overhead(n: int, repeats: int) -> dict[str, Any]:
    """A chain of ``n`` tasks without and with the UI polling, alternating runs: wall and CPU time of the process.

    The engine and the web app share the process (as with ``aiflow server
    start --ui``); the polling client is another process, like a browser.
    The verdict is on the CPU time of the engine's process, which the other
    users of a shared machine disturb far less than wall time.
    """
    from aiflow_core import Engine
    from aiflow_core.web import create_app
    from aiflow_core.web.server import BackgroundServer

    with temp_home("web-poll") as home:
        path = write_workflow(home, "chain.py", CHAIN.format(name="chain", n=n))
        with Engine(executor="thread", parallelism=10) as engine:
            engine.upload_workflows(str(path))
            server = BackgroundServer(create_app(engine, token=TOKEN)).start()
            try:
                def run() -> tuple[float, float]:
                    wall, cpu = time.perf_counter(), time.process_time()
                    execution = engine.start_workflow_execution("chain")
                    result = engine.wait_for_workflow_execution(execution, timeout=600)
                    if result.status.value != "SUCCESS":
                        raise RuntimeError(f"the chain ended {result.status.value}")
                    return time.perf_counter() - wall, time.process_time() - cpu

                run()  # warm-up
                alone: list[tuple[float, float]] = []
                watched: list[tuple[float, float]] = []
                for _ in range(repeats):
                    alone.append(run())
                    with Watcher(server.url):
                        watched.append(run())
            finally:
                server.stop()
    cpu_ratio = statistics.median(c for _, c in watched) / statistics.median(c for _, c in alone)
    wall_ratio = statistics.median(w for w, _ in watched) / statistics.median(w for w, _ in alone)
    log(f"chain of {n}: alone {[f'{w:.2f}/{c:.2f}' for w, c in alone]} s (wall/CPU), with the UI polling "
        f"{[f'{w:.2f}/{c:.2f}' for w, c in watched]} s; ratios CPU {cpu_ratio:.3f}, wall {wall_ratio:.3f}")
    return {
        "tasks": n, "alone_s": alone, "watched_s": watched, "cpu_ratio": cpu_ratio, "wall_ratio": wall_ratio,
        "target": f"CPU <= {POLL_RATIO_TARGET}", "result": at_most(cpu_ratio, POLL_RATIO_TARGET),
    }


# -- 2. big store --
def _utc(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def bulk_load(db: Path, events: int, executions: int, workflows: list[int], snapshots: dict[int, int]) -> None:
    """Append ``executions`` workflow executions and ``events`` events straight into the SQLite file."""
    rng = random.Random(7)
    start = dt.datetime(2026, 1, 1)
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        # indexes are built once at the end (faster than kept up to date row by row)
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('aiflow_event', 'aiflow_workflow_execution')"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        manual = json.dumps({"kind": "MANUAL", "event_offset": None, "event_key": None, "rule_index": None,
                             "rule": None})
        first_id = (conn.execute("SELECT COALESCE(MAX(id), 0) FROM aiflow_workflow_execution").fetchone()[0]) + 1
        rows = []
        for i in range(executions):
            workflow = workflows[i % len(workflows)]
            status = "RUNNING" if i % 100 == 0 else ("FAILED" if i % 10 == 1 else "SUCCESS")
            began = start + dt.timedelta(seconds=30 * i)
            rows.append((first_id + i, workflow, snapshots[workflow], "MANUAL", status, _utc(began),
                         None if status == "RUNNING" else _utc(began + dt.timedelta(seconds=20)), manual))
        conn.executemany("INSERT INTO aiflow_workflow_execution VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        first_offset = conn.execute("SELECT COALESCE(MAX(\"offset\"), 0) FROM aiflow_event").fetchone()[0] + 1
        batch = []
        for n in range(events):
            offset = first_offset + n
            execution = first_id + rng.randrange(executions)
            when = _utc(start + dt.timedelta(seconds=3 * n / max(events / executions, 1) * 10))
            if n % 5 < 3:
                batch.append((offset, f"aiflow.task_status/wf{execution % 10}/t{n % 7}", "SUCCESS", "default",
                              "aiflow", "TASK_STATUS", execution, '{"task_execution_id": 1}', when, None))
            else:
                key = "rare" if n % 200_003 == 4 else f"key_{n % 100}"
                batch.append((offset, key, f"value {n}", "default", f"sender_{n % 10}", "USER",
                              execution if n % 2 else None, None, when, None))
            if len(batch) == 50_000:
                conn.executemany("INSERT INTO aiflow_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
                batch.clear()
        if batch:
            conn.executemany("INSERT INTO aiflow_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
        last = first_offset + events - 1
        conn.execute("UPDATE aiflow_counter SET value = ? WHERE name = 'event_offset'", (last,))
        for name in [r[0] for r in conn.execute("SELECT name FROM aiflow_counter WHERE name LIKE 'checkpoint:%'")]:
            conn.execute("UPDATE aiflow_counter SET value = ? WHERE name = ?", (last, name))
        for _, sql in indexes:
            conn.execute(sql)
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()


def page_times(events: int, executions: int, samples: int) -> list[dict[str, Any]]:
    """Answer times of the events and executions pages (and their API routes) on a big store."""
    import httpx

    from aiflow_core import Client
    from aiflow_core.web import create_app
    from aiflow_core.web.server import BackgroundServer

    results = []
    with temp_home("web-pages") as home:
        db = home / "big.db"
        body = "".join(
            f"\nwith Workflow(name='wf{i}') as w{i}:\n    PythonOperator(name='t', python_callable=noop)\n"
            for i in range(10)
        )
        path = write_workflow(home, "many.py", body)
        with Client(db_url=f"sqlite:///{db}") as client:
            stored = client.upload_workflows(str(path))
        snapshots = {w.id: w.snapshot_id for w in stored}
        started = time.perf_counter()
        bulk_load(db, events, executions, list(snapshots), snapshots)
        log(f"bulk-loaded {events:,} events and {executions:,} executions in {time.perf_counter() - started:.1f} s "
            f"({db.stat().st_size / 1e6:.0f} MB)")
        with Client(db_url=f"sqlite:///{db}") as client:
            server = BackgroundServer(create_app(client, token=TOKEN)).start()
            middle = client.latest_offset() // 2
            deep_execution = client.find_workflow_executions(limit=1)[0].id // 2
            probes = [
                ("events page", "/ui/events"),
                ("events page, status changes too", "/ui/events?internal=true"),
                ("events page, by key", "/ui/events?key=key_42"),
                ("events page, rare key", "/ui/events?key=rare"),
                ("events page, by sender", "/ui/events?sender=sender_3"),
                ("events page, by execution", f"/ui/events?workflow_execution_id={deep_execution}&internal=true"),
                ("events page, since a time", "/ui/events?since=2026-01-02T00:00:00"),
                ("events page, half-way back (keyset)", f"/ui/events?before={middle}"),
                ("events API, follow (after)", f"/api/events?after={client.latest_offset() - 10}"),
                ("executions page", "/ui/executions"),
                ("executions page, FAILED", "/ui/executions?status=FAILED"),
                ("executions page, one workflow", "/ui/executions?namespace=default&workflow_name=wf3"),
                ("executions page, half-way back (keyset)", f"/ui/executions?before={deep_execution}"),
                ("executions API", "/api/workflow-executions?limit=50"),
            ]
            try:
                with httpx.Client(base_url=server.url, timeout=60) as http:
                    for name, url in probes:
                        http.get(url).raise_for_status()  # warm
                        times = []
                        for _ in range(samples):
                            start = time.perf_counter()
                            http.get(url).raise_for_status()
                            times.append((time.perf_counter() - start) * 1000)
                        median = statistics.median(times)
                        log(f"{name}: median {median:.1f} ms of {samples} ({url})")
                        results.append({
                            "page": name, "url": url, "median_ms": median, "max_ms": max(times),
                            "target": f"< {PAGE_TARGET_MS:g} ms", "result": verdict(median, PAGE_TARGET_MS),
                        })
            finally:
                server.stop()
    return results


def markdown(results: dict[str, Any]) -> str:
    poll = results["polling"]
    lines = [
        "# Web UI and REST API", "", f"Machine: {results['machine']}", "",
        "## The UI open and polling during a chain", "",
        *table(["tasks", "alone (wall/CPU s)", "UI polling (wall/CPU s)", "CPU ratio", "wall ratio", "target",
                "result"], [[
            poll["tasks"], ", ".join(f"{w:.2f}/{c:.2f}" for w, c in poll["alone_s"]),
            ", ".join(f"{w:.2f}/{c:.2f}" for w, c in poll["watched_s"]), f"{poll['cpu_ratio']:.3f}",
            f"{poll['wall_ratio']:.3f}", poll["target"], poll["result"],
        ]]),
        "", f"## Page answer times: {results['events']:,} events, {results['executions']:,} executions (SQLite)", "",
        *table(["page", "median (ms)", "max (ms)", "target", "result"], [
            [p["page"], f"{p['median_ms']:.1f}", f"{p['max_ms']:.1f}", p["target"], p["result"]]
            for p in results["pages"]
        ]),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args((__doc__ or "").splitlines()[0], argv)
    quick = args.quick
    chain, repeats = (300, 3) if quick else (1000, 5)
    events, executions = (100_000, 10_000) if quick else (1_000_000, 100_000)
    results: dict[str, Any] = {"machine": machine(), "events": events, "executions": executions}
    results["polling"] = polling_overhead(chain, repeats)
    results["pages"] = page_times(events, executions, samples=5)
    write_results(args.out, "web", results, markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
