"""Event-driven task executions on Celery workers while workers and engines are SIGKILLed.

Two engine processes (a leader and a standby, ``tests/faults``) share one
SQLite database; three ``aiflow worker`` processes take their tasks from the
broker. A feeder sends user events that RESTART (``goK``) or STOP
(``haltK``) the never-ending probes of one workflow execution, one task
execution per RESTART. Meanwhile, at random moments, the leading engine is
SIGKILLed (a standby takes over and a new standby is started), a whole worker
is SIGKILLed (and started again), or one process of a worker's pool is.

What must hold, whatever was killed:

- the history is exactly what the events imply: one task execution per
  RESTART, each started by its event, each STOPPED by the very event that
  came next for its task (RESTART or STOP), the last ones by the user's stop;
- no two attempts of one task execution ever ran at once, nor two runs of
  one task (the probes write their own start, ticks and end);
- every stop was honoured: no attempt's process was seen alive after its
  attempt was recorded as ended.

``AIFLOW_CHAOS_EXECUTIONS`` sets the number of RESTART events (the
acceptance's full run is 1,000), ``AIFLOW_CHAOS_BROKERS`` the brokers
(comma-separated; default both).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import psutil
import pytest
from faults.harness import PROBE_SOURCE, Cluster, Feeder, attempt_overlaps, attempts, latest_attempts, summary

from aiflow_core import Client, TaskStatus
from aiflow_core.model.meta import TaskExecutionMeta
from aiflow_core.scheduler.apply import WORKFLOW_STOP_PREFIX

from .conftest import BROKERS, Workers, require_broker

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

EXECUTIONS = int(os.environ.get("AIFLOW_CHAOS_EXECUTIONS", "400"))
CHAOS_BROKERS = [b for b in os.environ.get("AIFLOW_CHAOS_BROKERS", "redis,rabbitmq").split(",") if b]
TASKS = 5
WORKERS = 3
CONCURRENCY = 3
SEED = 1414
#: Events sent a second; a fault every few seconds while they are sent.
RATE = 8.0
FAULT_EVERY = (3.0, 8.0)
#: How late (seconds) a probe's last tick may be seen after its attempt was recorded as ended: the tick's own
#: write and the clock's resolution, nothing more.
SLACK = 0.05

WORKFLOW = PROBE_SOURCE + f'''
from aiflow_core import TaskAction, Workflow

with Workflow(name="chaos", keep_open=True) as w:
    for k in range({TASKS}):
        probe = Probe(f"t{{k}}", retries=1000)
        probe.action_on_event_received(TaskAction.RESTART, f"go{{k}}")
        probe.action_on_event_received(TaskAction.STOP, f"halt{{k}}")
'''
STOPPED_BY = re.compile(rf"^{re.escape(WORKFLOW_STOP_PREFIX)}(\w+) by .* on event '(\w+)' @ offset (\d+)$")

#: Per task execution (task, sequence number): the event that started it and the one that stopped it, as
#: (key, value) and (action, key, value); None for the execution's start and for the user's stop.
Runs = dict[tuple[str, int], tuple[tuple[str, str] | None, tuple[str, str, str] | None]]


def _keys(rng: random.Random) -> list[str]:
    """Events in the order sent: ``goK`` (a RESTART of task tK) ``EXECUTIONS`` times, ``haltK`` between them."""
    keys: list[str] = []
    restarts = 0
    while restarts < EXECUTIONS:
        # The last task gets few events: its runs live long enough to be lost with their worker and retried.
        [k] = rng.choices(range(TASKS), weights=[4] * (TASKS - 1) + [0.25])
        if rng.random() < 0.25:
            keys.append(f"halt{k}")
        else:
            keys.append(f"go{k}")
            restarts += 1
    return keys


def implied(keys: list[str]) -> tuple[Runs, dict[str, int | None]]:
    """The task executions the events imply, and the one of each task still running at the end."""
    runs: dict[tuple[str, int], list[Any]] = {}
    running: dict[str, int | None] = {}
    count: dict[str, int] = {}
    for k in range(TASKS):  # every task starts with the execution
        runs[(f"t{k}", 1)] = [None, None]
        running[f"t{k}"] = count[f"t{k}"] = 1
    for value, key in enumerate(keys):
        restart = key.startswith("go")
        task = f"t{key.removeprefix('go').removeprefix('halt')}"
        current = running[task]
        if current is not None:
            runs[(task, current)][1] = ("RESTART" if restart else "STOP", key, str(value))
            running[task] = None
        if restart:
            count[task] += 1
            runs[(task, count[task])] = [(key, str(value)), None]
            running[task] = count[task]
    return {run: (start, stop) for run, (start, stop) in runs.items()}, running


def recorded(client: Client, rows: list[TaskExecutionMeta]) -> tuple[Runs, Counter[str]]:
    """The task executions as recorded (see :data:`Runs`), and the final statuses of their latest attempts."""
    values = {e.offset: e.value for e in client.list_events(begin_offset=0)}
    first: dict[tuple[str, int], TaskExecutionMeta] = {}
    for te in sorted(rows, key=lambda te: te.try_number):
        first.setdefault((te.task_name, te.sequence_number), te)
    runs: Runs = {}
    statuses: Counter[str] = Counter()
    for run, last in latest_attempts(rows).items():
        cause = first[run].cause
        start = None if cause.event_key is None else (cause.event_key, str(values.get(cause.event_offset or -1)))
        stopped = STOPPED_BY.match(last.error or "")
        stop = None if stopped is None else (stopped[1], stopped[2], str(values.get(int(stopped[3]))))
        runs[run] = (start, stop)
        statuses[last.status.value] += 1
    return runs, statuses


def _timestamp(when: dt.datetime) -> float:
    return (when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)).timestamp()


class Chaos:
    """Kills the leading engine, a worker or a worker's pool process, at random."""

    def __init__(self, cluster: Cluster, workers: Workers, rng: random.Random) -> None:
        self.cluster = cluster
        self.workers = workers
        self.rng = rng
        self.kills: Counter[str] = Counter()
        self.failover: list[float] = []
        self.notes: list[str] = []
        self.error: BaseException | None = None

    def run(self, feeder: Feeder) -> None:
        """Inject faults until the feeder has sent everything: the leading engine first, then each kind once in
        every three, in random order."""
        kinds = ["pool", "worker", "engine"]
        try:
            while feeder.is_alive():
                time.sleep(self.rng.uniform(*FAULT_EVERY))
                if not kinds:
                    kinds = self.rng.sample(["engine", "worker", "pool"], 3)
                if feeder.is_alive():
                    getattr(self, f"_kill_{kinds.pop()}")()
        except BaseException as exc:  # seen by the test
            self.error = exc

    def _kill_engine(self) -> None:
        cluster = self.cluster
        leader = cluster.leader()
        standby = next((e for e in cluster.alive() if e is not leader), None)
        if standby is None:
            self.notes.append(f"no standby engine was running (exit codes {[e.proc.poll() for e in cluster.engines]})")
            standby = cluster.spawn(wait=False)
        standby.wait_ready()
        since, checkpoint = time.monotonic(), cluster.lease()[1]
        cluster.kill(leader)
        self.kills["engine"] += 1
        cluster.spawn(wait=False)  # the next standby
        took = cluster.wait_failover(leader.pid, since, checkpoint, timeout=60)
        assert took is not None, f"no engine took over within 60 s: {cluster.lease()}"
        self.failover.append(took)

    def _kill_worker(self) -> None:
        self.workers.kill(self.rng.choice(self.workers.members))
        self.kills["worker"] += 1
        time.sleep(self.rng.uniform(0.5, 3.0))  # the machine comes back later
        self.workers.ensure()

    def _kill_pool(self) -> None:
        """SIGKILL one pool process of a worker, one running an attempt when there is one."""
        worker = self.rng.choice(self.workers.members)
        pool = psutil.Process(worker.pid).children()
        busy = [p for p in pool if p.children()]
        if not pool:
            self.notes.append(f"worker {worker.name} had no pool process")
            return
        os.kill(self.rng.choice(busy or pool).pid, signal.SIGKILL)
        self.kills["pool process" if not busy else "pool process running a task"] += 1


@pytest.fixture(params=CHAOS_BROKERS)
def broker(request: pytest.FixtureRequest) -> str:
    """A broker the chaos runs on."""
    name = str(request.param)
    require_broker(name, BROKERS[name])
    return name


def test_killed_workers_and_engines_leave_exact_histories(
    broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    keys = _keys(rng)
    expected, running = implied(keys)
    queue = f"aiflow-chaos-{uuid.uuid4().hex[:8]}"
    workers = Workers(broker=broker, broker_url=BROKERS[broker], queue=queue, blob=tmp_path / "blob",
                      root=tmp_path / "workers", concurrency=CONCURRENCY)
    workers.blob.mkdir()
    workers.root.mkdir()
    for var, value in (("AIFLOW_CELERY_BROKER_URL", workers.broker_url), ("AIFLOW_CELERY_QUEUE", queue),
                       ("AIFLOW_BLOB_URL", str(workers.blob))):
        monkeypatch.setenv(var, value)
    record = tmp_path / "record.txt"
    cluster = Cluster(f"sqlite:///{tmp_path / 'aiflow.db'}", tmp_path / "home", executor="celery")
    chaos = Chaos(cluster, workers, rng)
    started = time.monotonic()
    try:
        workers.members = [workers.launch(f"w{i}", celery=i == 2) for i in range(1, WORKERS + 1)]
        for worker in workers.members:
            workers.wait_ready(worker)
        cluster.spawn()
        cluster.spawn()
        execution_id = cluster.start_execution("chaos", WORKFLOW, record)
        feeder = Feeder(cluster.client, keys, rate=RATE)
        feeder.start()
        faults = threading.Thread(target=chaos.run, args=(feeder,), daemon=True)
        faults.start()
        feeder.join_all(timeout=len(keys) / RATE * 3 + 120)
        faults.join(120)
        if chaos.error is not None:
            raise chaos.error
        workers.ensure()

        def settled() -> bool:
            last = latest_attempts(cluster.client.list_task_executions(execution_id))
            return set(last) == set(expected) and all(
                te.status is TaskStatus.RUNNING if running[task] == seq else te.status.is_final
                for (task, seq), te in last.items()
            )

        cluster.wait_quiet(settled, timeout=300)
        cluster.client.stop_workflow_execution(execution_id)
        cluster.wait_quiet(lambda: cluster.client.get_workflow_execution(execution_id).status.is_final, timeout=120)
        rows = cluster.client.list_task_executions(execution_id)
        got, statuses = recorded(cluster.client, rows)
    finally:
        cluster.shutdown()
        workers.close()
    took = time.monotonic() - started
    found = attempts(record)
    figures = {
        "broker": broker, "task_executions": len(expected), "events": len(keys),
        "stops": sum(1 for _, stop in expected.values() if stop and stop[0] == "STOP"),
        "restarts": sum(1 for _, stop in expected.values() if stop and stop[0] == "RESTART"),
        "kills": dict(chaos.kills), "attempts_run": len(found), "attempt_rows": len(rows),
        "retried_attempts": sum(te.try_number > 1 for te in rows), "statuses": dict(statuses),
        "lost_attempts": sum("lost" in (te.error or "") or "heartbeat" in (te.error or "") for te in rows),
        "engine_failover_s": summary(chaos.failover), "seconds": round(took, 1), "notes": chaos.notes,
    }
    (tmp_path / "chaos.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    with capsys.disabled():
        print(f"\ncelery chaos: {json.dumps(figures)}")

    assert not [note for note in chaos.notes if "no standby" in note], figures  # no engine died by itself
    assert statuses == Counter({"STOPPED": len(expected)}), figures
    wrong = {run: (got.get(run), want) for run, want in expected.items() if got.get(run) != want}
    assert len(got) == len(expected) and not wrong, f"{len(wrong)} task executions differ: {list(wrong.items())[:5]}"
    assert attempt_overlaps(found) == []
    # Nor two runs of one task: a new run waits until the one it replaces ended, whichever engine started it.
    assert attempt_overlaps([attrs.evolve(a, sequence=0) for a in found]) == []
    ended = {te.id: _timestamp(te.end_date) if te.end_date else None for te in rows}
    by_id = {te.id: te for te in rows}
    late = [
        f"attempt {a.task_execution_id} ({a.task}#{a.sequence} try {a.try_number}) seen at {a.last:.3f}, "
        f"ended at {ended.get(a.task_execution_id)} ({by_id[a.task_execution_id].status.value}: "
        f"{by_id[a.task_execution_id].error})"
        for a in found
        if ended.get(a.task_execution_id) is None or a.last > (ended[a.task_execution_id] or 0.0) + SLACK
    ]
    assert late == []
