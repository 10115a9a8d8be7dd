"""Tasks on Celery workers through aiflow, against a bare Celery fan-out on the same broker (Redis).

Run: ``python benchmarks/bench_celery.py --out benchmarks/results [--quick]``.
Writes ``celery.json`` and ``celery.md``.

* throughput: one workflow execution of N independent no-op tasks through
  aiflow's Celery executor, with 1, 2 and 4 worker processes, against N
  no-op Celery tasks sent straight to a bare Celery worker with as many
  processes (target: aiflow at least half of bare Celery's rate);
* start latency: from the engine handing a task's start to the executor (the
  start decision, after its transaction) to the task's body running, one task
  at a time on a warm worker: p50 (target under 20 ms) and p99;
* STOP latency: from asking the engine to stop a running task to its process
  having ended, p50 and p99.

With each fan-out it gives the CPU time per task of the worker's processes
(the Celery process, its worker processes and all they forked) and, for
aiflow, of the engine's process: where the time goes. ``BENCH_CELERY_TASKS``
sets N.

Needs the local Redis (127.0.0.1:6379); without it the benchmark writes a
skipped result.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from common import REPO, machine, make_logger, parse_args, percentile, table, temp_home, verdict, write_results

from aiflow_core import Engine
from aiflow_core.executors.celery_executor import CeleryExecutor

BROKER = os.environ.get("AIFLOW_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
log = make_logger("bench_celery")
HERE = Path(__file__).resolve().parent


class TimedExecutor(CeleryExecutor):
    """The Celery executor, noting when each task's start is handed to it (the start decision)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handed: dict[int, float] = {}

    def submit(self, job: Any) -> None:
        self.handed.setdefault(job.task_execution_id, time.time())
        super().submit(job)


def start_worker(argv: list[str], env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    with open(log_file, "ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while " ready." not in log_file.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{log_file.read_text()[-2000:]}")
        time.sleep(0.1)
    return process


def end_worker(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tree_cpu(pid: int) -> float:
    """CPU seconds of the process ``pid`` and of every process below it (those reaped included)."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu() -> float:
    """CPU seconds of this process (the engine's, in the aiflow runs)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def base_env(home: Path, blob: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW_")}
    path = env.get("PYTHONPATH")
    env.update(AIFLOW_HOME=str(home), AIFLOW_BLOB_URL=str(blob), AIFLOW_CELERY_BROKER_URL=BROKER,
               PYTHONPATH=os.pathsep.join([str(REPO), str(HERE)] + ([path] if path else [])))
    return env


def bare_rate(root: Path, blob: Path, processes: int, count: int) -> tuple[float, float]:
    """No-op tasks per second through a bare Celery worker with ``processes`` processes, and the worker's CPU
    milliseconds per task."""
    import redis

    queue, counter = f"bench-bare-{uuid.uuid4().hex[:6]}", f"bench-noop-{uuid.uuid4().hex[:6]}"
    env = {**base_env(root / "bare", blob), "BENCH_COUNTER": counter}
    worker = start_worker([sys.executable, "-m", "celery", "-A", "celery_noop", "worker", "-Q", queue, "-c",
                           str(processes), "--loglevel", "info"], env, root / f"bare-{processes}.log")
    try:
        sys.path.insert(0, str(HERE))
        os.environ["BENCH_COUNTER"] = counter
        from celery_noop import noop

        client = redis.Redis.from_url(BROKER)
        cpu = tree_cpu(worker.pid)
        started = time.perf_counter()
        for _ in range(count):
            noop.apply_async(queue=queue)
        while int(client.get(counter) or 0) < count:
            time.sleep(0.002)
        seconds = time.perf_counter() - started
        cpu = tree_cpu(worker.pid) - cpu
        client.delete(counter)
    finally:
        end_worker(worker)
    return count / seconds, cpu * 1000 / count


def aiflow_worker(root: Path, blob: Path, queue: str, processes: int) -> subprocess.Popen[bytes]:
    home = root / f"worker-{processes}"
    home.mkdir(parents=True, exist_ok=True)
    return start_worker([sys.executable, "-m", "aiflow_core.cli.main", "worker", "--queues", queue,
                         "--concurrency", str(processes), "--loglevel", "info"], base_env(home, blob),
                        root / f"aiflow-{processes}.log")


def engine_for(root: Path, blob: Path, queue: str, name: str) -> tuple[Engine, TimedExecutor]:
    executor = TimedExecutor(broker_url=BROKER, queue=queue, grace=2.0)
    engine = Engine(db_url=f"sqlite:///{root / (name + '.db')}", blob=str(blob), executor=executor)
    return engine, executor


def write_flow(root: Path, name: str, body: str) -> Path:
    path = root / f"{name}.py"
    path.write_text(
        "import os, time\n"
        "from aiflow_core import Workflow, PythonOperator\n"
        f"MARKS = {str(root / 'marks')!r}\n"
        "def noop():\n    return None\n"
        "def mark():\n"
        "    from aiflow_core.runtime.context import current_runtime\n"
        "    te = current_runtime().task_execution_id\n"
        "    with open(os.path.join(MARKS, f'{te}'), 'w') as f:\n"
        "        f.write(f'{time.time()} {os.getpid()}')\n"
        "def sleeper():\n    mark()\n    time.sleep(120)\n" + body
    )
    (root / "marks").mkdir(exist_ok=True)
    return path


def aiflow_rate(root: Path, blob: Path, processes: int, count: int) -> tuple[float, float, float]:
    """Tasks per second through aiflow on a worker with ``processes`` processes, and the CPU milliseconds per
    task of the engine and of the worker."""
    queue = f"bench-aiflow-{uuid.uuid4().hex[:6]}"
    flow = write_flow(root, f"fanout{processes}", (
        f"with Workflow(name='fanout{processes}') as w:\n"
        f"    for i in range({count}):\n"
        f"        PythonOperator(name=f't{{i}}', python_callable=noop)\n"))
    worker = aiflow_worker(root, blob, queue, processes)
    try:
        engine, _ = engine_for(root, blob, queue, f"fanout{processes}")
        with engine:
            engine.upload_workflows(str(flow))
            warm = engine.start_workflow_execution(f"fanout{processes}")  # snapshot cached, pool warm
            engine.wait_for_workflow_execution(warm, timeout=600)
            engine_cpu, worker_cpu = own_cpu(), tree_cpu(worker.pid)
            started = time.perf_counter()
            wid = engine.start_workflow_execution(f"fanout{processes}")
            outcome = engine.wait_for_workflow_execution(wid, timeout=600)
            seconds = time.perf_counter() - started
            engine_cpu, worker_cpu = own_cpu() - engine_cpu, tree_cpu(worker.pid) - worker_cpu
            assert outcome.status.value == "SUCCESS", outcome
    finally:
        end_worker(worker)
    return count / seconds, engine_cpu * 1000 / count, worker_cpu * 1000 / count


def latencies(root: Path, blob: Path, reps: int) -> tuple[list[float], list[float]]:
    """Start latencies and STOP latencies in milliseconds, one task at a time on a warm worker."""
    queue = f"bench-latency-{uuid.uuid4().hex[:6]}"
    flow = write_flow(root, "latency", (
        "with Workflow(name='one') as w1:\n    PythonOperator(name='mark', python_callable=mark)\n"
        "with Workflow(name='sleepy') as w2:\n    PythonOperator(name='sleeper', python_callable=sleeper)\n"))
    marks = root / "marks"
    worker = aiflow_worker(root, blob, queue, 2)
    starts: list[float] = []
    stops: list[float] = []
    try:
        engine, executor = engine_for(root, blob, queue, "latency")
        with engine:
            engine.upload_workflows(str(flow))
            for rep in range(reps + 1):
                wid = engine.start_workflow_execution("one")
                engine.wait_for_workflow_execution(wid, timeout=60)
                [te] = engine.list_task_executions(wid)
                ran = float((marks / str(te.id)).read_text().split()[0])
                if rep:  # the first run fetches the snapshot
                    starts.append((ran - executor.handed[te.id]) * 1000)
            for _ in range(reps):
                wid = engine.start_workflow_execution("sleepy")
                while True:
                    runs = engine.list_task_executions(wid)
                    mark = marks / str(runs[0].id) if runs else None
                    fields = mark.read_text().split() if mark is not None and mark.exists() else []
                    if len(fields) == 2:
                        break
                    time.sleep(0.005)
                pid = int(fields[1])
                asked = time.perf_counter()
                engine.stop_workflow_execution(wid)
                while alive(pid):
                    time.sleep(0.0005)
                stops.append((time.perf_counter() - asked) * 1000)
                engine.wait_for_workflow_execution(wid, timeout=60)
    finally:
        end_worker(worker)
    return starts, stops


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


def main() -> None:
    args = parse_args((__doc__ or "").splitlines()[0])
    if not redis_up():
        write_results(args.out, "celery", {"skipped": "Redis at 127.0.0.1:6379 is not reachable"},
                      "# Celery executor\n\nSkipped: Redis at 127.0.0.1:6379 is not reachable.\n")
        return
    count = int(os.environ.get("BENCH_CELERY_TASKS") or (100 if args.quick else 400))
    reps = 10 if args.quick else 40
    results: dict[str, Any] = {"machine": machine(), "broker": BROKER, "tasks": count, "reps": reps}
    rows: list[list[str]] = []
    cpu_rows: list[list[str]] = []
    with temp_home("celery") as root:
        blob = root / "blob"
        blob.mkdir()
        for processes in (1, 2, 4):
            log(f"fan-out of {count} tasks with {processes} worker process(es)")
            bare, bare_cpu = bare_rate(root, blob, processes, count)
            through, engine_cpu, worker_cpu = aiflow_rate(root, blob, processes, count)
            ratio = through / bare
            log(f"aiflow {through:.1f} tasks/s, bare Celery {bare:.1f} tasks/s")
            results[f"processes_{processes}"] = {
                "bare_tasks_per_s": bare, "aiflow_tasks_per_s": through, "ratio": ratio,
                "bare_worker_cpu_ms_per_task": bare_cpu, "aiflow_worker_cpu_ms_per_task": worker_cpu,
                "aiflow_engine_cpu_ms_per_task": engine_cpu,
            }
            rows.append([f"tasks/s, {processes} worker process(es)", f"{through:.1f}", f"{bare:.1f}",
                         f"{ratio:.2f}", ">= 0.5", "PASS" if ratio >= 0.5 else "FAIL"])
            cpu_rows.append([f"CPU ms per task, {processes} worker process(es): worker / engine",
                             f"{worker_cpu:.1f} / {engine_cpu:.1f}", f"{bare_cpu:.1f} / -", "", "", ""])
        log(f"start and STOP latencies, {reps} each")
        starts, stops = latencies(root, blob, reps)
    start_p50, start_p99 = percentile(starts, 0.5), percentile(starts, 0.99)
    stop_p50, stop_p99 = percentile(stops, 0.5), percentile(stops, 0.99)
    results.update(start_ms={"p50": start_p50, "p99": start_p99, "all": starts},
                   stop_ms={"p50": stop_p50, "p99": stop_p99, "all": stops})
    rows += [
        *cpu_rows,
        ["start decision -> body running p50 (ms)", f"{start_p50:.1f}", "", "", "< 20", verdict(start_p50, 20)],
        ["start decision -> body running p99 (ms)", f"{start_p99:.1f}", "", "", "", ""],
        ["STOP asked -> task process ended p50 (ms)", f"{stop_p50:.1f}", "", "", "", ""],
        ["STOP asked -> task process ended p99 (ms)", f"{stop_p99:.1f}", "", "", "", ""],
    ]
    lines = ["# Celery executor", "", f"{machine()}; broker {BROKER}; {count} no-op tasks per fan-out; "
             f"{reps} runs per latency.", ""]
    lines += table(["figure", "aiflow", "bare Celery", "ratio", "target", "verdict"], rows)
    write_results(args.out, "celery", results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
