"""Engine: a client that also runs the scheduler loop and an executor, in-process.

``with Engine(...) as engine:`` runs the loop in a background thread and
stops it cleanly on exit; ``engine.run_until_idle()`` instead steps the loop in
the caller's thread until nothing more can happen without more time or more
events (the way tests drive it, with the inline executor and a fake clock).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

import aiflow_core
from aiflow_core import faultpoints
from aiflow_core.api.observe import LEASE_NAME, dead_local_owner
from aiflow_core.client import Client
from aiflow_core.config import AIFlowConfig, check_argument, check_setting
from aiflow_core.errors import ConfigError, InvalidArgumentError, InvalidStateError, NotFoundError, StoreError
from aiflow_core.executors import Executor, TaskJob, create_executor
from aiflow_core.executors.attempt import serve_call
from aiflow_core.executors.base import ExecutorContext
from aiflow_core.executors.definitions import TaskDefinitions
from aiflow_core.homefiles import private_opener
from aiflow_core.model.clock import Clock, ReplayClock
from aiflow_core.model.durations import parse_horizon, positive_seconds
from aiflow_core.model.internal.events import HeartbeatTimeout, TaskReport
from aiflow_core.model.meta import WorkflowExecutionMeta
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Command, StartTask, Store, StoreTx
from aiflow_core.runtime.context import TaskRuntime
from aiflow_core.runtime.output import mask_file, secrets_mask
from aiflow_core.scheduler.health import Health, StepHealth
from aiflow_core.scheduler.loop import SchedulerLoop
from aiflow_core.scheduler.retention import Retention
from aiflow_core.storable import ERROR_LIMIT, storable_text

log = logging.getLogger("aiflow.engine")

LEASE_TTL = 30.0
#: How long a loop woken only by tasks that started waits for their end reports, which often follow at once.
START_REPORT_GRACE = 0.001


def _identity(value: Any) -> Any:
    return value


class Engine(Client):
    """An embeddable scheduler: :class:`~aiflow_core.client.Client` plus loop plus executor.

    ``executor`` is ``"inline"``, ``"thread"``, ``"process"`` (default from the
    config: process), a dotted class path or an Executor instance; ``clock`` a
    :class:`~aiflow_core.model.clock.Clock` (``aiflow_core.testing.FakeClock``
    in tests). Several engines may share one database: one holds the
    scheduler lease and schedules, the others wait to take over.
    ``history_retention`` (default: the config's ``history_retention``, 30d)
    is how long finished executions, their logs and events are kept; ``None``
    keeps everything. ``store`` injects a ready store (e.g. one
    :class:`~aiflow_core.testing.memory.MemoryStore` shared with a client)
    instead of ``db_url``; a store held in memory needs an executor that runs
    tasks in this process.
    """

    def __init__(
        self,
        db_url: str | None = None,
        blob: Any = None,
        executor: Executor | str | None = None,
        clock: Clock | None = None,
        *,
        parallelism: int | None = None,
        config: AIFlowConfig | None = None,
        log_dir: str | Path | None = None,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        history_retention: object = ...,
        store: Store | None = None,
    ) -> None:
        check_argument("clock", clock, Clock, "a Clock, such as aiflow_core.testing.FakeClock")
        check_argument("log_dir", log_dir, (str, Path), "a directory path")
        if parallelism is not None:
            parallelism = check_setting("local_executor_parallelism", parallelism, "argument parallelism")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(f"argument batch_size={batch_size!r} must be a whole number of events of at least 1")
        poll_interval = positive_seconds("argument poll_interval", poll_interval, ConfigError)
        try:
            horizon = parse_horizon(history_retention) if history_retention is not ... else None
        except InvalidArgumentError as exc:
            raise ConfigError(f"argument history_retention={history_retention!r}: {exc}") from None
        if clock is not None and clock.is_fake:
            clock = ReplayClock(clock)
        super().__init__(db_url, blob, clock=clock, config=config, store=store)
        if history_retention is ...:
            horizon = parse_horizon(self.config.history_retention)
        self._replayed_to = self.clock.now()
        self.log_dir = Path(log_dir) if log_dir is not None else self.config.log_dir
        self.executor = create_executor(
            executor if executor is not None else self.config.task_executor,
            parallelism if parallelism is not None else self.config.local_executor_parallelism,
        )
        if self.executor.needs_snapshot_frame and not self.store.shared:
            raise ConfigError(
                f"executor {self.executor.name!r} runs tasks in other processes, which cannot reach "
                f"{self.store!r}; use the inline or thread executor, or a SQL database such as SQLite"
            )
        self.loop = SchedulerLoop(
            store=self.store, clock=self.clock, log_dir=self.log_dir, dispatch=self._dispatch,
            batch_size=batch_size,
        )
        self.loop.schedules.timezone = self.timezone
        self.poll_interval = poll_interval
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: Notified (and its count raised) whenever a step ends workflow executions.
        self._ended = threading.Condition()
        self._ended_count = 0
        self._thread: threading.Thread | None = None
        self._lease_until = 0.0
        self._leader = False
        self._frames: dict[int, bytes] = {}
        self._definitions = TaskDefinitions()
        self._working_dirs: dict[int, str] = {}
        self._snapshot_metas: dict[int, Any] = {}
        self._unsubscribe: Any = None
        self._unlisten: Any = lambda: None
        self._beats: dict[int, tuple[TaskJob, dt.datetime]] = {}
        self._beats_lock = threading.Lock()
        self._next_heartbeat_check = self.clock.now()
        self._mask = secrets_mask(self._known_secrets())
        self._health = StepHealth(self.clock)
        self.retention = Retention(
            store=self.store, clock=self.clock, log_dir=self.log_dir,
            horizon=horizon,
            checkpoint=self.loop.name, working_dir=self.home / "working_dir",
        )
        self.executor.open(
            ExecutorContext(
                reporter=self._report, runtime_factory=self._runtime_for, wake=self.wake,
                heartbeat=self._heartbeat, env=self._worker_env(),
                serve=functools.partial(serve_call, self),
                heartbeat_interval=self.config.task_heartbeat_interval,
            )
        )
        if getattr(self.clock, "is_fake", False) and hasattr(self.clock, "subscribe"):
            self._unsubscribe = self.clock.subscribe(self.wake)

    # -- wiring --
    def _worker_env(self) -> dict[str, str]:
        spec = self.blob_spec
        # A manager object cannot cross processes: workers then use the configured blob store.
        blob = json.dumps(spec) if isinstance(spec, dict) else str(spec) if isinstance(spec, (str, Path)) else None
        source_root = str(Path(aiflow_core.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {
            "AIFLOW_HOME": str(self.home),
            "PYTHONPATH": source_root + (os.pathsep + path if path else ""),
        }
        if blob:
            env["AIFLOW_BLOB_SPEC"] = blob
        return env

    def _known_secrets(self) -> list[str]:
        """The secrets masked in task logs: the database password, the blob credentials, the pickle secret."""
        from urllib.parse import unquote, urlsplit

        from aiflow_core.homefiles import pickle_secret

        found = [pickle_secret(self.home, self.config.pickle_secret)]
        try:
            password = urlsplit(self.db_url).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
        if isinstance(self.blob_spec, dict):
            from aiflow_storage.blob.redaction import secret_values

            found += secret_values(self.blob_spec)
        return found

    def wake(self) -> None:
        """Make the loop look for work now."""
        self._wake.set()

    def _written(self) -> None:
        self.wake()

    def _report(self, job: TaskJob, status: TaskStatus, error: str | None) -> None:
        if error:
            error = self._mask(error)
        if status.is_final and self.executor.needs_snapshot_frame:
            try:
                mask_file(job.log_path, self._mask)  # its worker process was not given the secrets to mask
            except OSError:
                log.exception("cannot mask the log %s of task execution %s", job.log_path, job.task_execution_id)
        if self.executor.sends_heartbeats:
            with self._beats_lock:
                if status is TaskStatus.RUNNING:
                    self._beats[job.task_execution_id] = (job, self.clock.now())
                elif status.is_final:
                    self._beats.pop(job.task_execution_id, None)
        self.loop.queue_report(
            TaskReport(
                namespace=job.namespace, workflow_name=job.workflow_name,
                workflow_execution_id=job.workflow_execution_id, task_execution_id=job.task_execution_id,
                task_name=job.task_name, sequence_number=job.sequence_number, status=status,
                error=None if error is None else storable_text(error, ERROR_LIMIT),
            ).to_event()
        )
        self.wake()

    def _heartbeat(self, task_execution_id: int) -> None:
        with self._beats_lock:
            entry = self._beats.get(task_execution_id)
            if entry is not None:
                self._beats[task_execution_id] = (entry[0], self.clock.now())

    def _check_heartbeats(self) -> None:
        """Fail running tasks whose worker sent no heartbeat for ``task_heartbeat_timeout`` seconds."""
        now = self.clock.now()
        if now < self._next_heartbeat_check:
            return
        self._next_heartbeat_check = now + dt.timedelta(seconds=self.config.task_executor_heartbeat_check_interval)
        limit = dt.timedelta(seconds=self.config.task_heartbeat_timeout)
        with self._beats_lock:
            silent = [job for job, last in self._beats.values() if now - last > limit]
            for job in silent:
                del self._beats[job.task_execution_id]
        for job in silent:
            log.error("task execution %s sent no heartbeat for %s; failing it", job.task_execution_id, limit)
            self.loop.queue_report(
                HeartbeatTimeout(
                    namespace=job.namespace, workflow_execution_id=job.workflow_execution_id,
                    task_execution_id=job.task_execution_id, task_name=job.task_name,
                    error=f"no heartbeat for {limit.total_seconds():g} s",
                ).to_event()
            )
            self.executor.stop_task(job.task_execution_id)

    def _runtime_for(self, job: TaskJob) -> TaskRuntime:
        return TaskRuntime(
            namespace=job.namespace, workflow_name=job.workflow_name,
            workflow_execution_id=job.workflow_execution_id, task_name=job.task_name,
            task_execution_id=job.task_execution_id, sequence_number=job.sequence_number,
            client_factory=lambda: self, wake=self.wake, blob_spec=self.blob_spec, mask=self._mask,
        )

    def _dispatch(self, tx: StoreTx, commands: list[Command]) -> Callable[[], None]:
        """Read what the commands need inside the transaction; return the hand-over to run after it."""
        stops: list[int] = []
        starts: list[tuple[TaskJob, Any, Any]] = []
        for command in commands:
            if not isinstance(command, StartTask):
                stops.append(command.task_execution_id)
                continue
            job = TaskJob(
                task_execution_id=command.task_execution_id, workflow_execution_id=command.workflow_execution_id,
                namespace=command.namespace, workflow_name=command.workflow_name, task_name=command.task_name,
                sequence_number=command.sequence_number, try_number=command.try_number,
                snapshot_id=command.snapshot_id, log_path=command.log_path,
                execution_timeout=command.execution_timeout,
            )
            try:
                workflow, _ = self.loop.workflows.get(tx, job.snapshot_id)
                snapshot = self._snapshot_metas.get(job.snapshot_id) or tx.get_snapshot(job.snapshot_id)
                self._snapshot_metas[job.snapshot_id] = snapshot
                if self.executor.needs_snapshot_frame and job.snapshot_id not in self._frames:
                    self._frames[job.snapshot_id] = self.loop.workflows.frame(tx, job.snapshot_id)
            except Exception as exc:
                self._fail_unprepared(job, exc)
                continue
            starts.append((job, workflow, snapshot))

        def hand_over() -> None:
            faultpoints.reach("engine.dispatch")
            for te_id in stops:
                self.executor.stop_task(te_id)
            for job, workflow, snapshot in starts:
                try:
                    job = self._prepare(job, workflow, snapshot)
                except Exception as exc:
                    self._fail_unprepared(job, exc)
                    continue
                self.executor.submit(job)

        return hand_over

    def _prepare(self, job: TaskJob, workflow: Any, snapshot: Any) -> TaskJob:
        """Give a job its working directory and its operator (or the pickled workflow for workers)."""
        working_dir = self._working_dirs.get(job.workflow_execution_id)
        if working_dir is None and snapshot is not None:
            dest = self.home / "working_dir" / job.namespace / job.workflow_name / str(job.workflow_execution_id)
            working_dir = str(self._snapshots.working_dir(snapshot.uri, snapshot.signature, dest))
            if len(self._working_dirs) > 10_000:
                self._working_dirs.clear()
            self._working_dirs[job.workflow_execution_id] = working_dir
        if working_dir and workflow.source_file:
            workflow_file = str(Path(working_dir, workflow.source_file))
            job = attrs.evolve(job, working_dir=working_dir, workflow_file=workflow_file)
        if self.executor.needs_snapshot_frame:
            return attrs.evolve(job, snapshot_frame=self._frames[job.snapshot_id])
        operator = self._definitions.operator(job, functools.partial(_identity, workflow))
        return attrs.evolve(job, operator=operator)

    def _fail_unprepared(self, job: TaskJob, error: BaseException) -> None:
        """A task whose definition cannot be loaded fails, with the traceback in its log."""
        log.error("cannot prepare task %s of execution %s: %s", job.task_name, job.workflow_execution_id, error)
        try:
            with open(job.log_path, "a", encoding="utf-8", opener=private_opener) as task_log:
                trace = "".join(traceback.format_exception(error))
                task_log.write(self._mask("*** the task could not be prepared\n" + trace))
        except OSError:
            log.exception("cannot write the log %s of task execution %s", job.log_path, job.task_execution_id)
        self._report(job, TaskStatus.FAILED, f"task could not be prepared: {type(error).__name__}: {error}")

    # -- leadership and recovery --
    def _ensure_leader(self) -> bool:
        if time.monotonic() < self._lease_until - LEASE_TTL / 2:
            return True
        with self.store.transaction() as tx:
            acquired = tx.acquire_lease(LEASE_NAME, self.owner, self.clock.now(), LEASE_TTL)
            if not acquired:
                holder = tx.get_lease_owner(LEASE_NAME)
                if holder is not None and dead_local_owner(holder):
                    log.warning("taking over the scheduler lease of %s, whose process is gone", holder)
                    tx.release_lease(LEASE_NAME, holder)
                    acquired = tx.acquire_lease(LEASE_NAME, self.owner, self.clock.now(), LEASE_TTL)
        if acquired:
            self._lease_until = time.monotonic() + LEASE_TTL
            if not self._leader:
                self._leader = True
                self.loop.forget()
                self._recover()
        else:
            self._leader = False
        return acquired

    def _recover(self) -> None:
        """Settle task executions left alive by an engine that stopped: they are lost (or stopped)."""
        with self.store.transaction() as tx:
            alive = tx.list_task_executions_by_status([TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.STOPPING])
            executions = {te.workflow_execution_id: tx.get_workflow_execution(te.workflow_execution_id) for te in alive}
        for te in alive:
            execution = executions.get(te.workflow_execution_id)
            if execution is None:
                continue
            lost = TaskStatus.STOPPED if te.status is TaskStatus.STOPPING else TaskStatus.FAILED
            self.loop.queue_report(
                TaskReport(
                    namespace=execution.namespace, workflow_name=execution.workflow_name,
                    workflow_execution_id=execution.id, task_execution_id=te.id, task_name=te.task_name,
                    sequence_number=te.sequence_number, status=lost,
                    error=None if lost is TaskStatus.STOPPED else "task lost: the engine running it stopped",
                ).to_event()
            )

    # -- running --
    def _step(self) -> tuple[bool, bool]:
        """One step plus the executor's in-thread work and housekeeping.

        Returns whether anything happened, and whether another step would
        find work right away (events left over, history pruned); when it
        would not, only new events, executor reports (which wake the loop) or
        time can bring work.
        """
        if self.executor.sends_heartbeats:
            self._check_heartbeats()
        result = self.loop.step()
        self._health.succeeded()
        if result.ended:
            with self._ended:
                self._ended_count += 1
                self._ended.notify_all()
        self.executor.poll()
        pruned = self.retention.run_if_due()
        again = bool(result.more or pruned)
        return bool(result.applied or result.commands) or again, again

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Step the loop in this thread until nothing can happen without more time or events.

        With a fake clock that moved since the last call, every timer and
        schedule fire on the way runs at its own instant first, as if the time
        had passed with the engine running: an hourly schedule advanced by a
        day runs 24 times. (Fires due before the engine was created were missed
        while no engine ran; their schedule's misfire policy applies.)

        Raises TimeoutError if tasks are still running after ``timeout`` seconds.
        """
        if self._thread is not None:
            raise InvalidStateError("the engine runs in the background; run_until_idle is for stepped engines")
        deadline = time.monotonic() + timeout
        with self.store.pinned():
            if isinstance(self.clock, ReplayClock):
                self._replay(self.clock, deadline, timeout)
            self._until_idle(deadline, timeout)

    def _replay(self, clock: ReplayClock, deadline: float, timeout: float) -> None:
        """Hold ``clock`` at each due time between the last call and now, running until idle at each."""
        start, target = self._replayed_to, clock.source.now()
        self._replayed_to = target
        if target <= start:
            return
        held: dt.datetime | None = None
        try:
            while True:
                wakeup = self.loop.next_wakeup()
                if wakeup is None or wakeup >= target:
                    return
                instant = max(wakeup, start)
                if held is not None and instant <= held:
                    return  # nothing moved on: the run at the target time takes it
                held = instant
                clock.hold(instant)
                self._until_idle(deadline, timeout)
        finally:
            clock.release()

    def _until_idle(self, deadline: float, timeout: float) -> None:
        while True:
            if not self._ensure_leader():
                raise InvalidStateError(f"another engine holds the scheduler lease of {self!r}")
            if self._step()[1]:
                continue
            if self.executor.busy():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"tasks were still running after {timeout} s")
                self._wait_for_wake(0.01)
                continue
            if self.loop.has_work_after_step():
                continue
            return

    def start(self) -> Engine:
        """Run the loop in a background thread."""
        if self._thread is None:
            self._stop.clear()
            self._unlisten = self.store.subscribe(self.wake)
            self._thread = threading.Thread(target=self._run, name="aiflow-scheduler", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        try:
            with self.store.pinned():
                self._loop()
        except BaseException as exc:  # an inline task's SystemExit, say: nobody else would see it
            log.critical("the scheduler loop ended: %s raised in its thread", type(exc).__name__, exc_info=True)
            raise

    def _loop(self) -> None:
        interval = 0.005
        backoff = 0.1
        while not self._stop.is_set():
            try:
                if not self._ensure_leader():
                    self._stop.wait(1.0)
                    continue
                self._wake.clear()  # what woke the loop is taken up by this step
                active, again = self._step()
                if active:
                    interval, backoff = 0.005, 0.1
                if again:
                    continue
            except Exception as exc:
                self._health.failed(exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            timeout = interval
            if not self.clock.is_fake:
                wakeup = self.loop.known_next_due()
                if wakeup is not None:
                    timeout = min(timeout, max(0.0, (wakeup - self.clock.now()).total_seconds()))
            if self._wait_for_wake(timeout):
                interval = 0.005
                continue
            interval = min(interval * 2, self.poll_interval)
            try:
                if not self.loop.has_work():
                    continue
            except Exception:
                log.exception("checking for work failed")

    def health(self) -> Health:
        """How this engine's scheduler loop fares: leader or not, its last successful step, the failures
        since (how many, the last error, since when) and, on the leader, how many events it is behind."""
        behind = None
        if self._leader:
            try:
                with self.store.transaction(readonly=True) as tx:
                    behind = max(tx.log_head().end - self.loop.checkpoint, 0)
            except StoreError:
                pass  # the failure shows in the step's record
        return self._health.health(leader=self._leader, events_behind=behind)

    def _wait_for_wake(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a wake-up; False if none came.

        When only reports of tasks that started running woke the loop, it
        waits a moment more: short tasks report their end right after, and
        one step then applies both.
        """
        if not self._wake.wait(timeout):
            return False
        self._wake.clear()
        if self.loop.only_start_reports() and self._wake.wait(START_REPORT_GRACE):
            self._wake.clear()
        return True

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the loop, stop running tasks and record their final statuses."""
        thread = self._thread
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join(timeout)
            self._thread = None
            self._unlisten()
        self.executor.close(timeout)
        if self._leader:
            try:
                self._apply_last_reports(timeout)
                with self.store.transaction() as tx:
                    tx.release_lease(LEASE_NAME, self.owner)
            except Exception:
                log.exception("could not record the final task statuses")
            self._leader = False

    def _apply_last_reports(self, timeout: float | None) -> None:
        """Step until the executor's last reports (and what they lead to) are applied, within ``timeout`` s."""
        deadline = time.monotonic() + (timeout if timeout is not None else LEASE_TTL)
        while self.loop.step().more or self.loop.reports_queued():
            if time.monotonic() > deadline:
                log.warning("the engine stopped with events left to apply; the next engine applies them")
                return

    def close(self) -> None:
        """Stop the engine and release its database connections."""
        self.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super().close()

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_for_workflow_execution(self, workflow_execution_id: int, timeout: float = 60.0) -> WorkflowExecutionMeta:
        """Block until the execution reaches a final status and return it.

        A stepped engine (not started) is stepped in this thread while waiting.
        """
        deadline = time.monotonic() + timeout
        while True:
            ended_count = self._ended_count
            execution = self.get_workflow_execution(workflow_execution_id)
            if execution is None:
                raise NotFoundError("workflow execution", workflow_execution_id)
            if execution.status.is_final:
                return execution
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"workflow execution {workflow_execution_id} is still {execution.status.value} after {timeout} s"
                )
            if self._thread is None:
                if self._ensure_leader() and not self._step()[1]:
                    self._wait_for_wake(0.01)
            else:
                # Woken as soon as the loop ends an execution; the timeout covers ends it does not see.
                with self._ended:
                    if self._ended_count == ended_count:
                        self._ended.wait(0.02)
