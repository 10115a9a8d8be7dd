"""A fault harness: engine processes sharing one database, a feeder of events, faults and what they left.

:class:`Cluster` starts engine processes (``faults/driver.py``) on one
database and home, finds the leader through the scheduler lease, and kills,
pauses, resumes or arms fault points in it. :class:`Feeder` sends user events
from a thread with idempotency keys (a send retried after a database error is
never doubled). :func:`history` and :func:`attempt_overlaps` read what a run
left: the task executions and the intervals the tasks wrote themselves.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import sqlalchemy as sa

from aiflow_core import Client, WorkflowStatus
from aiflow_core.api.observe import LEASE_NAME
from aiflow_core.errors import StoreError
from aiflow_core.model.meta import TaskExecutionMeta

ROOT = Path(__file__).resolve().parents[2]
#: The fault points a driver process lets the test arm.
FAULT_POINTS = ("scheduler.step", "engine.dispatch")
#: Seconds the scheduler lease lasts: a paused leader is held past it.
LEASE = 3.0
#: A short lease and short heartbeats, so that a lost or paused engine and its attempts are known lost in seconds.
CONFIG = f"""\
scheduler_lease_ttl: {LEASE:g}
task_heartbeat_interval: 0.5
task_heartbeat_timeout: 3
task_executor_heartbeat_check_interval: 0.5
"""
#: The start of a workflow file whose ``Probe`` tasks run until stopped, writing to the file ``RECORD`` (defined
#: before it by :meth:`Cluster.start_execution`) when they start, every tick while they run, and when they end,
#: as :func:`attempts` reads it.
PROBE_SOURCE = '''
import os
import time

from aiflow_core import AIFlowOperator

TICK = 0.05


def _write(fd, kind, context):
    line = (
        f"{kind} {context.task_name} {context.sequence_number} {context.task_execution_id} "
        f"{context.try_number} {time.time():.6f}\\n"
    )
    os.write(fd, line.encode())


class Probe(AIFlowOperator):
    """Runs until stopped; writes when it starts, every tick while it runs, and when it ends."""

    def start(self, context):
        fd = os.open(RECORD, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _write(fd, "S", context)
            while True:
                time.sleep(TICK)
                _write(fd, "T", context)
        finally:
            _write(fd, "E", context)
            os.close(fd)

'''


def process_state(pid: int) -> str:
    """The state letter of a process (``T`` stopped, ``Z`` zombie), or ``X`` when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0]
    except OSError:
        return "X"


@attrs.define(kw_only=True)
class EngineProcess:
    """One driver process."""

    proc: subprocess.Popen[str]
    skew: float
    ready: bool = False

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """True until the process has exited."""
        return self.proc.poll() is None

    def wait_ready(self) -> None:
        """Block until the engine's loop runs (a test's timeout bounds a hang)."""
        if self.ready:
            return
        self.ready = True
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"engine process did not start (exit code {self.proc.poll()})"


class Cluster:
    """Engine processes on one database; the test's client shares their home (and pickle secret)."""

    def __init__(self, db_url: str, home: Path, executor: str = "process") -> None:
        self.db_url = db_url
        self.home = home
        self.executor = executor
        self.engines: list[EngineProcess] = []
        home.mkdir(parents=True, exist_ok=True)
        (home / "aiflow.yaml").write_text(CONFIG, encoding="utf-8")
        os.environ["AIFLOW_HOME"] = str(home)
        self.client = Client(db_url)
        self._store: Any = self.client.store
        #: The lease's epoch as :meth:`lease` last read it.
        self.epoch = 0
        self._spawned = 0

    def env(self) -> dict[str, str]:
        """The environment of a driver: the shared home, the source on the path, fault points armable."""
        env = dict(os.environ)
        env["AIFLOW_HOME"] = str(self.home)
        paths = [str(ROOT), str(ROOT / "tests")]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["AIFLOW_FAULT_POINTS"] = ",".join(FAULT_POINTS)
        return env

    def spawn(self, skew: float = 0.0, wait: bool = True) -> EngineProcess:
        """Start an engine process whose clock is ``skew`` seconds off; with ``wait``, wait until its loop runs."""
        self._spawned += 1
        stderr = open(self.home / f"engine-{self._spawned}.log", "w", encoding="utf-8")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "faults.driver", self.db_url, self.executor, str(skew)],
                env=self.env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                cwd=str(ROOT),
            )
        finally:
            stderr.close()
        engine = EngineProcess(proc=proc, skew=skew)
        self.engines.append(engine)
        if wait:
            engine.wait_ready()
        return engine

    def alive(self) -> list[EngineProcess]:
        """The engine processes that still run (paused ones included)."""
        return [e for e in self.engines if e.alive()]

    def lease(self) -> tuple[int | None, int, int]:
        """(pid of the lease holder or None, checkpoint, last offset), read without taking any lock.

        The store's own reads lock the counters a step writes, and would wait
        for a leader paused inside its transaction: a monitor must not.
        """
        with self._store.engine.connect().execution_options(aiflow_readonly=True) as conn:
            owner = conn.execute(sa.text("SELECT owner FROM aiflow_lease WHERE name = :n"), {"n": LEASE_NAME}).scalar()
            self.epoch = conn.execute(
                sa.text("SELECT epoch FROM aiflow_lease WHERE name = :n"), {"n": LEASE_NAME}
            ).scalar() or 0
            counters = dict(conn.execute(sa.text("SELECT name, value FROM aiflow_counter")).all())
            conn.rollback()
        pid = str(owner).split(":")[1] if owner and str(owner).count(":") >= 2 else None
        return (
            int(pid) if pid and pid.isdigit() else None,
            int(counters.get("checkpoint:main", 0)),
            int(counters.get("event_offset", 0)),
        )

    def leader(self, timeout: float = 30.0) -> EngineProcess:
        """The engine process holding the lease, waiting up to ``timeout`` s for one of them to hold it."""
        deadline = time.monotonic() + timeout
        while True:
            pid = self.lease()[0]
            for engine in self.alive():
                if engine.pid == pid and process_state(pid) != "T":
                    return engine
            if time.monotonic() > deadline:
                raise AssertionError(f"no running engine process holds the lease (holder pid {pid})")
            time.sleep(0.05)

    def arm(self, engine: EngineProcess, point: str, action: str) -> None:
        """Arm a fault point in ``engine``: it carries ``action`` out the next time it gets there."""
        assert engine.proc.stdin is not None
        engine.proc.stdin.write(f"arm {point} {action}\n")
        engine.proc.stdin.flush()

    @staticmethod
    def kill(engine: EngineProcess) -> None:
        """SIGKILL ``engine`` and reap it."""
        if engine.alive():
            os.kill(engine.pid, signal.SIGKILL)
        engine.proc.wait(30)

    def wait_failover(self, fault_pid: int, since: float, start: int, timeout: float) -> float | None:
        """Seconds from ``since`` until an engine other than ``fault_pid`` committed a step; None if none did.

        A commit shows as the checkpoint moving past ``start`` (where it was
        when the fault hit) while another process holds the lease; the feeder
        keeps events coming, so the new leader's first step always moves it.
        """
        deadline = since + timeout
        while time.monotonic() < deadline:
            pid, checkpoint, _ = self.lease()
            if pid is not None and pid != fault_pid and checkpoint > start:
                return time.monotonic() - since
            time.sleep(0.01)
        return None

    def wait_quiet(self, settled: Callable[[], bool], timeout: float = 120.0) -> None:
        """Wait until every event is applied, the log stays still for a second and ``settled()`` holds."""
        deadline = time.monotonic() + timeout
        seen: tuple[int, int] = (-1, -1)
        since: float | None = None
        while time.monotonic() < deadline:
            _, checkpoint, head = self.lease()
            if checkpoint == head and (checkpoint, head) == seen and settled():
                since = since or time.monotonic()
                if time.monotonic() - since > 1.0:
                    return
            else:
                since = None
            seen = (checkpoint, head)
            time.sleep(0.1)
        raise AssertionError(f"the engines did not settle within {timeout} s: {self.lease()}")

    def start_execution(self, name: str, source: str, record: Path) -> int:
        """Upload the workflow ``name`` of ``source`` (its probes writing to ``record``), start an execution of it
        and wait until it runs; returns its id."""
        path = self.home / f"{name}_workflow.py"
        path.write_text(f"RECORD = {str(record)!r}\n{source}", encoding="utf-8")
        self.client.upload_workflows(str(path))
        execution_id = self.client.start_workflow_execution(name)
        deadline = time.monotonic() + 60
        while self.client.get_workflow_execution(execution_id).status is not WorkflowStatus.RUNNING:
            assert time.monotonic() < deadline, "the execution did not start"
            time.sleep(0.05)
        return execution_id

    def state_value(self, scope: str, name: str) -> Any:
        """A condition's state value, as the scheduler stored it."""
        from aiflow_core import serialization

        with self._store.transaction(readonly=True) as tx:
            raw = tx.load_state(scope).get(name)
        return None if raw is None else serialization.loads_verified(raw)

    def shutdown(self) -> None:
        """Resume paused engines, then SIGKILL every engine process and wait for their workers to go."""
        for engine in self.engines:
            if engine.alive():
                os.kill(engine.pid, signal.SIGCONT)
                self.kill(engine)
            for stream in (engine.proc.stdin, engine.proc.stdout):
                if stream is not None:
                    stream.close()
        time.sleep(1.0)  # workers see their engine gone within half a second and end their process group
        self.client.close()


class Feeder(threading.Thread):
    """Sends ``keys[i]`` with value ``str(i)`` in order, at most ``rate`` a second (a test may change it)."""

    def __init__(self, client: Client, keys: list[str], rate: float) -> None:
        super().__init__(name="feeder", daemon=True)
        self.client = client
        self.keys = keys
        self.rate = rate
        self.sent = 0
        self.errors = 0
        self._error: BaseException | None = None

    def run(self) -> None:
        """Send every event; a send that fails on a database error is retried with the same key."""
        try:
            while self.sent < len(self.keys):
                i = self.sent
                try:
                    self.client.send_event(self.keys[i], str(i), idempotency_key=f"user-{i}")
                except StoreError:
                    self.errors += 1
                    time.sleep(0.05)
                    continue
                self.sent += 1
                time.sleep(1.0 / self.rate)
        except BaseException as exc:  # seen by join_all
            self._error = exc

    def join_all(self, timeout: float) -> None:
        """Wait until every event is sent."""
        self.join(timeout)
        if self._error is not None:
            raise self._error
        assert self.sent == len(self.keys), f"only {self.sent} of {len(self.keys)} events sent in {timeout} s"


History = list[tuple[str, int, str, str | None, str | None]]


def history(client: Client, execution_id: int) -> History:
    """Per task execution (task and sequence number): the status of its last attempt, and the key and value
    of the event that started its first (a retry is a new attempt, with its own row, of the same execution)."""
    rows = client.list_task_executions(execution_id)
    offsets = {te.cause.event_offset for te in rows if te.cause.event_offset is not None}
    values = {e.offset: e.value for e in client.list_events(begin_offset=0) if e.offset in offsets}
    first: dict[tuple[str, int], TaskExecutionMeta] = {}
    last: dict[tuple[str, int], TaskExecutionMeta] = {}
    for te in sorted(rows, key=lambda te: te.try_number):
        first.setdefault((te.task_name, te.sequence_number), te)
        last[(te.task_name, te.sequence_number)] = te
    return sorted(
        (task, seq, last[(task, seq)].status.value, te.cause.event_key, values.get(te.cause.event_offset))
        for (task, seq), te in first.items()
    )


def latest_attempts(rows: list[TaskExecutionMeta]) -> dict[tuple[str, int], TaskExecutionMeta]:
    """The last attempt of each task execution (task and sequence number)."""
    last: dict[tuple[str, int], TaskExecutionMeta] = {}
    for te in sorted(rows, key=lambda te: te.try_number):
        last[(te.task_name, te.sequence_number)] = te
    return last


@attrs.frozen(kw_only=True)
class Attempt:
    """What one task attempt wrote: when it started and the last time it was seen alive."""

    task: str
    sequence: int
    task_execution_id: int
    try_number: int
    start: float
    last: float
    ended: bool


def attempts(record: Path) -> list[Attempt]:
    """Read the lines ``S|T|E task seq te_id try time`` the tasks wrote (start, tick, end)."""
    seen: dict[tuple[int, int], dict[str, Any]] = {}
    text = record.read_text(encoding="utf-8") if record.exists() else ""
    for line in text.splitlines():
        kind, task, seq, te_id, try_number, when = line.split()
        key = (int(te_id), int(try_number))
        entry = seen.setdefault(key, {"task": task, "sequence": int(seq), "start": None, "last": 0.0, "ended": False})
        if kind == "S":
            entry["start"] = float(when)
        entry["last"] = max(entry["last"], float(when))
        entry["ended"] = entry["ended"] or kind == "E"
    return [
        Attempt(task_execution_id=k[0], try_number=k[1], **{**v, "start": v["start"] if v["start"] else v["last"]})
        for k, v in sorted(seen.items())
    ]


def attempt_overlaps(found: list[Attempt]) -> list[str]:
    """Pairs of attempts of one task execution that ran at the same time (one seen alive after the other began)."""
    by_execution: dict[tuple[str, int], list[Attempt]] = defaultdict(list)
    for attempt in found:
        by_execution[(attempt.task, attempt.sequence)].append(attempt)
    overlaps = []
    for runs in by_execution.values():
        runs.sort(key=lambda a: a.start)
        for i, earlier in enumerate(runs):
            for later in runs[i + 1:]:
                if later.start < earlier.last:
                    overlaps.append(
                        f"task execution {earlier.task}#{earlier.sequence}: attempt {earlier.task_execution_id} (try "
                        f"{earlier.try_number}) ran until {earlier.last:.3f}, attempt {later.task_execution_id} (try "
                        f"{later.try_number}) began at "
                        f"{later.start:.3f} ({earlier.last - later.start:.3f} s together)"
                    )
    return overlaps


def summary(values: list[float]) -> dict[str, float | int | None]:
    """Count, median and max of ``values`` (None when there are none)."""
    if not values:
        return {"count": 0, "median": None, "max": None}
    return {"count": len(values), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}
