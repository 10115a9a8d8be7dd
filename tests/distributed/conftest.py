"""Real brokers (Redis, RabbitMQ) and real Celery worker processes for the Celery executor's tests.

Two ``aiflow worker`` processes per broker are started once for the session,
on a queue of their own, with their own AIFLOW_HOME, the shared blob store and
no database URL. Tests that kill a worker start it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import pytest

from aiflow_core import Engine
from aiflow_core.config import load_config

pytest.importorskip("celery", reason="the Celery executor's tests need the 'celery' extra")

BROKERS = {
    "redis": os.environ.get("AIFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/7"),
    "rabbitmq": os.environ.get("AIFLOW_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}
SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
READY_TIMEOUT = 60.0
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_broker(name: str, url: str) -> None:
    """Skip (or, under CI=true, fail) when the broker at ``url`` does not accept connections."""
    parts = urlsplit(url)
    port = parts.port or (6379 if parts.scheme.startswith("redis") else 5672)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=2):
            pass
    except OSError as exc:
        message = f"{name} broker at {parts.hostname}:{port} is not reachable ({exc})"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires it")
        pytest.skip(message)


def worker_env(home: Path, blob: Path, broker_url: str | None) -> dict[str, str]:
    """The environment of a worker: its own home, the blob store, the broker (None: the one of its
    ``aiflow.yaml``); no database, no secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW_")}
    path = env.get("PYTHONPATH")
    env.update(AIFLOW_HOME=str(home), AIFLOW_BLOB_URL=str(blob),
               PYTHONPATH=SOURCE_ROOT + (os.pathsep + path if path else ""))
    if broker_url is not None:
        env["AIFLOW_CELERY_BROKER_URL"] = broker_url
    return env


@attrs.define
class Worker:
    """One ``aiflow worker`` process (a Celery worker with its pool)."""

    name: str
    home: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@attrs.define
class Workers:
    """The session's workers on one broker and queue."""

    broker: str
    broker_url: str
    queue: str
    blob: Path
    root: Path
    members: list[Worker] = attrs.field(factory=list)
    #: Tasks each worker runs at once.
    concurrency: int = 2
    #: One home for every member (machines sharing a volume for their working copies); None: one home each.
    shared_home: Path | None = None
    #: The members find the broker in their home's ``aiflow.yaml`` (key ``celery_broker_url``), not in their
    #: environment.
    broker_in_config: bool = False

    def launch(self, name: str, queues: str | None = None, prelude: str = "", concurrency: int | None = None,
               celery: bool = False) -> Worker:
        """Start a worker (not waiting for it): ``aiflow worker`` after the Python ``prelude``, or with
        ``celery`` Celery's own ``celery -A ... worker``."""
        home = self.shared_home or self.root / name
        home.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        worker = Worker(name=name, home=home, log=self.root / f"{name}.log")
        hostname = f"{name}-{uuid.uuid4().hex[:6]}@%h"
        concurrency = concurrency or self.concurrency
        if celery:  # Celery's own command line works as well as aiflow's
            argv = [sys.executable, "-m", "celery", "-A", "aiflow_core.executors.celery_worker", "worker",
                    "-Q", queues or self.queue, "-c", str(concurrency), "-n", hostname, "--loglevel", "info"]
        else:
            code = f"{prelude}\nfrom aiflow_core.cli.main import main\nraise SystemExit(main())"
            argv = [sys.executable, "-c", code, "worker", "--queues", queues or self.queue,
                    "--concurrency", str(concurrency), "--hostname", hostname]
        with open(worker.log, "ab") as out:
            if self.broker_in_config:
                (home / "aiflow.yaml").write_text(f"celery_broker_url: {self.broker_url}\n", encoding="utf-8")
            broker = None if self.broker_in_config else self.broker_url
            worker.process = subprocess.Popen(argv, env=worker_env(home, self.blob, broker), stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True)
        return worker

    def wait_ready(self, worker: Worker, since: int = 0) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while " ready." not in worker.log_text()[since:]:
            assert worker.alive(), f"worker {worker.name} exited:\n{worker.log_text()[-3000:]}"
            assert time.monotonic() < deadline, f"worker {worker.name} not ready:\n{worker.log_text()[-3000:]}"
            time.sleep(0.1)

    def ensure(self) -> None:
        """Every member runs (those killed by a test are started again)."""
        restarted = []
        for index, worker in enumerate(self.members):
            if not worker.alive():
                since = len(worker.log_text())
                fresh = self.launch(worker.name, celery=worker.name == "w2")
                self.members[index] = fresh
                restarted.append((fresh, since))
        for worker, since in restarted:
            self.wait_ready(worker, since)

    def kill(self, worker: Worker) -> None:
        """SIGKILL the worker's whole process group: the machine is lost."""
        os.killpg(worker.pid, signal.SIGKILL)
        assert worker.process is not None
        worker.process.wait()

    def close(self) -> None:
        for worker in self.members:
            stop(worker)

    @contextlib.contextmanager
    def started(self, first: str = "w1", second: str = "w2") -> Iterator[Workers]:
        """Two members running, the first started with ``aiflow worker`` and the second with ``celery -A``;
        closed at the end."""
        self.members = [self.launch(first), self.launch(second, celery=True)]
        try:
            for worker in self.members:
                self.wait_ready(worker)
            yield self
        finally:
            self.close()


def stop(worker: Worker) -> None:
    """End a worker: a warm shutdown, then SIGKILL."""
    if worker.process is None or worker.process.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.process.wait()


@pytest.fixture(scope="session", params=sorted(BROKERS))
def workers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """Two Celery worker processes (2 tasks at once each) on a fresh queue of the broker: one started with
    ``aiflow worker``, one with ``celery -A aiflow_core.executors.celery_worker worker``."""
    name = str(request.param)
    require_broker(name, BROKERS[name])
    root = tmp_path_factory.mktemp(f"celery-{name}")
    group = Workers(broker=name, broker_url=BROKERS[name], queue=f"aiflow-test-{uuid.uuid4().hex[:8]}",
                    blob=root / "blob", root=root)
    group.blob.mkdir()
    with group.started():
        yield group


def celery_engine(tmp_path: Path, workers: Workers, **executor: object) -> Engine:
    """A stepped-or-started engine on SQLite whose tasks run on ``workers`` (short heartbeats)."""
    from aiflow_core.executors.celery_executor import CeleryExecutor

    config = attrs.evolve(load_config(), task_heartbeat_interval=0.5, task_heartbeat_timeout=3.0,
                          task_executor_heartbeat_check_interval=0.5)
    options = {"broker_url": workers.broker_url, "queue": workers.queue, "grace": 1.0, **executor}
    return Engine(db_url=f"sqlite:///{tmp_path / 'aiflow.db'}", blob=str(workers.blob),
                  executor=CeleryExecutor(**options), config=config)  # type: ignore[arg-type]


@pytest.fixture
def engine(tmp_path: Path, workers: Workers) -> Iterator[Engine]:
    """A running engine whose tasks run on the session's workers."""
    workers.ensure()
    with celery_engine(tmp_path, workers) as running:
        yield running
