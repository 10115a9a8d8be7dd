"""Engine: a client that also runs the scheduler loop and an executor, in-process.

``with Engine(...) as engine:`` runs the loop in a background thread and
stops it cleanly on exit; ``engine.run_until_idle()`` instead steps the loop in
the caller's thread until nothing more can happen without more time or more
events (the way tests drive it, with the inline executor and a fake clock).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiflow_core
from aiflow_core.client import Client
from aiflow_core.config import AIFlowConfig, check_argument, check_setting
from aiflow_core.engine.handover import Handover
from aiflow_core.engine.heartbeats import Heartbeats
from aiflow_core.engine.leadership import Leadership
from aiflow_core.errors import (
    ConfigError,
    InvalidArgumentError,
    InvalidStateError,
    LeaseLostError,
    NotFoundError,
    StoreError,
)
from aiflow_core.executors import Executor, TaskJob, create_executor
from aiflow_core.executors.attempt import AttemptEndedError, AttemptGuard, serve_call
from aiflow_core.executors.base import ExecutorContext
from aiflow_core.model.clock import Clock, ReplayClock
from aiflow_core.model.durations import parse_horizon, positive_seconds
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import TaskReport
from aiflow_core.model.meta import WorkflowExecutionMeta
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Command, Store, StoreTx
from aiflow_core.runtime.context import TaskRuntime
from aiflow_core.runtime.output import mask_file, secrets_mask
from aiflow_core.scheduler.explain import ExplanationRecorder
from aiflow_core.scheduler.health import Health, StepHealth
from aiflow_core.scheduler.loop import SchedulerLoop
from aiflow_core.scheduler.retention import Retention
from aiflow_core.storable import ERROR_LIMIT, storable_text
from aiflow_core.telemetry import open_telemetry

log = logging.getLogger("aiflow.engine")

#: How long a loop woken only by tasks that started waits for their end reports, which often follow at once.
START_REPORT_GRACE = 0.001


class Engine(Client):
    """An embeddable scheduler: :class:`~aiflow_core.client.Client` plus loop plus executor.

    ``executor`` is ``"inline"``, ``"thread"``, ``"process"`` (default from the
    config: process), a dotted class path or an Executor instance; ``clock`` a
    :class:`~aiflow_core.model.clock.Clock` (``aiflow_core.testing.FakeClock``
    in tests). Several engines may share one database: one holds the
    scheduler lease and schedules, the others wait to take over.
    ``history_retention`` (default: the config's ``history_retention``, 30d)
    is how long finished executions, their logs and events are kept; ``None``
    keeps everything. ``explanations`` (``"off"``, ``"decisions"``, ``"full"``; default: the config's)
    is what the scheduler records for ``explain_*``; ``tracing`` (extra ``otel``: ``True`` or a
    ``TracerProvider``) makes OpenTelemetry spans (:mod:`aiflow_core.telemetry`). ``store`` injects a
    ready store (e.g. one :class:`~aiflow_core.testing.memory.MemoryStore` shared with a client)
    instead of ``db_url``; a store held in memory needs an executor that runs tasks in this process.
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
        explanations: str | None = None,
        tracing: Any = False,
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
        level = None if explanations is None else check_setting("explanations", explanations, "argument explanations")
        self.telemetry = open_telemetry(tracing)  # before anything is opened: it may refuse
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
        self._mask = secrets_mask(self._known_secrets())
        self.handover = Handover(
            executor=self.executor, workflows=lambda: self.loop.workflows, home=self.home,
            working_dir=self._snapshots.working_dir, report=self._report, mask=self._mask,
            epoch=lambda: self.leadership.epoch,
        )
        self.leadership = Leadership(
            store=self.store, owner=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            ttl=self.config.scheduler_lease_ttl,
            grace=self.config.task_heartbeat_timeout + self.config.task_heartbeat_interval,
            on_elected=self._elected, on_deposed=self._deposed, queue=self._queue_report,
            own_attempts=lambda: set(self.handover.running),
            attempts_die_with_engine=self.executor.attempts_die_with_engine,
            on_doubtful=self.handover.doubt, on_settled=self.handover.settled,
        )
        self.loop = SchedulerLoop(
            store=self.store, clock=self.clock, log_dir=self.log_dir, dispatch=self._dispatch,
            batch_size=batch_size, fence=self.leadership.fence,
            recorder=ExplanationRecorder(level or self.config.explanations),
        )
        self.loop.schedules.timezone = self.timezone
        self.poll_interval = poll_interval
        self._next_beat = 0.0
        self.heartbeats = Heartbeats(
            store=self.store, executor=self.executor, queue=self.loop.queue_report,
            timeout=self.config.task_heartbeat_timeout,
            check_interval=self.config.task_executor_heartbeat_check_interval,
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: Notified (and its count raised) whenever a step ends workflow executions.
        self._ended = threading.Condition()
        self._ended_count = 0
        self._thread: threading.Thread | None = None
        self._unsubscribe: Any = None
        self._unlisten: Any = lambda: None
        self._health = StepHealth(self.clock)
        self.retention = Retention(
            store=self.store, clock=self.clock, log_dir=self.log_dir,
            horizon=horizon,
            checkpoint=self.loop.name, working_dir=self.home / "working_dir", blob=self._blob_manager,
        )
        self.executor.open(
            ExecutorContext(
                reporter=self._report, runtime_factory=self._runtime_for, wake=self.wake,
                heartbeat=self._heartbeat, env=self._worker_env(),
                serve=self._serve,
                heartbeat_interval=self.config.task_heartbeat_interval,
                heartbeat_timeout=self.config.task_heartbeat_timeout,
            )
        )
        if getattr(self.clock, "is_fake", False) and hasattr(self.clock, "subscribe"):
            self._unsubscribe = self.clock.subscribe(self.wake)

    # -- wiring --
    def _blob_manager(self) -> Any:
        """A blob manager of the configured blob store."""
        from aiflow_storage.blob import create_blob_manager

        return create_blob_manager(self.blob_spec)

    def _worker_env(self) -> dict[str, str]:
        """What worker processes add to their environment: no keys (their tasks reach blobs over the channel)."""
        source_root = str(Path(aiflow_core.__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {
            "AIFLOW_HOME": str(self.home),
            "PYTHONPATH": source_root + (os.pathsep + path if path else ""),
        }
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

    # -- leadership --
    @property
    def owner(self) -> str:
        """This engine's name as the holder of the scheduler lease (``host:pid:token``)."""
        return self.leadership.owner

    @owner.setter
    def owner(self, value: str) -> None:
        self.leadership.owner = value

    def _queue_report(self, event: Any) -> None:
        self.loop.queue_report(event)

    def _elected(self, epochs: frozenset[int]) -> None:
        """This engine leads: forget what the loop kept (another engine may have written) unless it led on."""
        if self.loop.epochs is None or not self.loop.epochs & epochs:
            self.loop.forget()
        self.loop.epochs = epochs

    def _deposed(self, reason: str) -> None:
        """This engine lost the lease: schedule nothing more and stop the tasks it runs."""
        self.loop.forget()
        self.loop.epochs = None
        self.handover.stop_all()

    def _check_current(self, job: TaskJob, what: str) -> None:
        """Refuse ``what`` of a stale attempt: one of an epoch this engine's leadership does not hold."""
        if job.epoch not in self.leadership.epochs:
            log.warning("refused %s of a stale attempt of task execution %s (epoch %s)", what,
                        job.task_execution_id, job.epoch)
            raise AttemptEndedError(
                f"task execution {job.task_execution_id}'s attempt of epoch {job.epoch} is stale: "
                "its engine no longer holds the scheduler lease"
            )

    def _send_of_attempt(self, job: TaskJob, key: str, value: str | None = None, **scope: Any) -> Event:
        """Append an event a task attempt sends, fenced: the transaction proves that this engine still holds
        the lease at an epoch of its leadership, and that the attempt is of it; AttemptEndedError otherwise."""
        event = self._user_event(key, value, **scope)

        def fence(tx: StoreTx) -> None:
            self._check_current(job, "send_event")
            self.leadership.fence(tx)

        try:
            return self._append_event(event, fence)
        except LeaseLostError as exc:
            raise AttemptEndedError(
                f"task execution {job.task_execution_id}'s attempt of epoch {job.epoch} is stale: {exc}"
            ) from None

    def _heartbeat(self, task_execution_id: int) -> bool:
        """A worker's heartbeat: go on while the attempt is of this engine's leadership and its lease holds."""
        self.heartbeats.beat(task_execution_id)
        job = self.handover.running.get(task_execution_id)
        return job is not None and job.epoch in self.leadership.epochs and self.leadership.holds()

    def _serve(self, job: TaskJob, op: str, args: dict[str, Any]) -> Any:
        """Carry out a call of a task attempt; refused when the attempt is stale (its engine lost the lease)."""
        self._check_current(job, op)
        return serve_call(AttemptGuard(self, job, self._send_of_attempt), job, op, args)

    def _beat_attempts(self) -> None:
        """Record on the database's clock, in a fenced transaction, that this engine's attempts are alive
        (with workers that beat, not those whose worker did not beat since the last record)."""
        now = time.monotonic()
        if now < self._next_beat:
            return
        self._next_beat = now + self.config.task_heartbeat_interval
        ids = [job.task_execution_id for job in self.handover.attempts() if job.epoch in self.leadership.epochs]
        if self.executor.sends_heartbeats:  # not those whose worker went quiet: their rows age
            quiet = self.heartbeats.take_quiet()
            ids = [te_id for te_id in ids if te_id not in quiet]
        if ids:
            with self.loop.transaction() as tx:
                tx.beat_task_executions(ids)

    @property
    def mask(self) -> Callable[[str], str]:
        """Hides this engine's known secrets (database password, blob keys, pickle secret) in a text."""
        return self._mask

    def wake(self) -> None:
        """Make the loop look for work now."""
        self._wake.set()

    def _written(self) -> None:
        self.wake()

    def _report(self, job: TaskJob, status: TaskStatus, error: str | None) -> None:
        if error:
            error = self._mask(error)
        self.telemetry.task_reported(job.task_execution_id, status, error)
        if status.is_final and self.executor.needs_snapshot_frame:
            try:
                mask_file(job.log_path, self._mask)  # its worker process was not given the secrets to mask
            except OSError:
                log.exception("cannot mask the log %s of task execution %s", job.log_path, job.task_execution_id)
        if self.executor.sends_heartbeats:
            self.heartbeats.reported(job, status)
        if status.is_final:
            self.handover.ended(job)
        self.loop.queue_report(
            TaskReport(
                namespace=job.namespace, workflow_name=job.workflow_name,
                workflow_execution_id=job.workflow_execution_id, task_execution_id=job.task_execution_id,
                task_name=job.task_name, sequence_number=job.sequence_number, status=status,
                error=None if error is None else storable_text(error, ERROR_LIMIT), epoch=job.epoch,
            ).to_event()
        )
        self.wake()

    def _runtime_for(self, job: TaskJob) -> TaskRuntime:
        return TaskRuntime(
            namespace=job.namespace, workflow_name=job.workflow_name,
            workflow_execution_id=job.workflow_execution_id, task_name=job.task_name,
            task_execution_id=job.task_execution_id, sequence_number=job.sequence_number,
            client_factory=lambda: AttemptGuard(self, job, self._send_of_attempt),
            wake=self.wake, blob_spec=self.blob_spec, mask=self._mask,
        )

    def _dispatch(self, tx: StoreTx, commands: list[Command]) -> Callable[[], None]:
        """The hand-over of a step's commands (read inside its transaction), traced when tracing is on."""
        return self.telemetry.around_hand_over(tx, commands, self.handover.dispatch(tx, commands))

    # -- running --
    def _step(self) -> tuple[bool, bool]:
        """One step plus the executor's in-thread work and housekeeping.

        Returns whether anything happened, and whether another step would
        find work right away (events left over, history pruned); when it
        would not, only new events, executor reports (which wake the loop) or
        time can bring work.
        """
        try:
            self._duties()
            result = self._health.timed(lambda: self.telemetry.run_step(self.loop.step))
        except LeaseLostError as exc:
            self.leadership.recheck(str(exc))
            return False, self.leadership.leader
        if result.ended:
            with self._ended:
                self._ended_count += 1
                self._ended.notify_all()
        self.executor.poll()
        pruned = self.retention.run_if_due()
        again = bool(result.more or pruned)
        return bool(result.applied or result.commands) or again, again

    def _duties(self) -> None:
        """The periodic duties, each on its own cadence (each returns at once until it is due): judging
        workers' heartbeats, reporting lost the attempts earlier leaders left, recording this engine's
        attempts alive."""
        if self.executor.sends_heartbeats:
            self.heartbeats.check()
        self.leadership.settle_lost()
        self._beat_attempts()

    def _idle(self) -> bool:
        """What the background loop does when a wait ended with no wake-up: the periodic duties, then a
        look for work (reports the duties queued, events other processes appended, due timers and
        schedules, history to prune); True if a step would find some. No step runs for nothing."""
        try:
            self._duties()
        except LeaseLostError as exc:
            self.leadership.recheck(str(exc))
            return False
        self.executor.poll()
        return bool(self.retention.run_if_due()) or self.loop.has_work()

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
            if not self.leadership.ensure():
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
        work = True  # a step is due: the loop starts, was woken, or found work
        looked = False  # a look for work since the last step found none
        while not self._stop.is_set():
            try:
                if not self.leadership.ensure():
                    self._stop.wait(1.0)
                    continue
                if work:
                    self._wake.clear()  # what woke the loop is taken up by this step
                    looked = False
                    active, again = self._step()
                    if active:
                        interval, backoff = 0.005, 0.1
                    if again:
                        continue
                elif self._idle():
                    work = True
                    continue
                else:
                    looked = True
            except Exception as exc:
                self._health.failed(exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                work = True
                continue
            timeout = interval
            if not self.clock.is_fake:
                wakeup, now = self.loop.known_next_due(), self.clock.now()
                if wakeup is not None and not (looked and wakeup <= now):  # a look found the past one not due
                    timeout = min(timeout, max(0.0, (wakeup - now).total_seconds()))
            work = self._wait_for_wake(timeout)
            interval = 0.005 if work else min(interval * 2, self.poll_interval)

    def health(self) -> Health:
        """How this engine's scheduler loop fares: leader or not, its last successful step, the failures
        since (how many, the last error, since when) and, on the leader, how many events it is behind."""
        behind = None
        if self.leadership.leader:
            try:
                with self.store.transaction(readonly=True) as tx:
                    behind = max(tx.log_head().end - self.loop.checkpoint, 0)
            except StoreError:
                pass  # the failure shows in the step's record
        return self._health.health(leader=self.leadership.leader, events_behind=behind)

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
        if self.leadership.leader:
            try:
                if self.leadership.ensure():
                    self._apply_last_reports(timeout)
                    self.leadership.release()
            except Exception:
                log.exception("could not record the final task statuses")
            self.leadership.step_down()

    def _apply_last_reports(self, timeout: float | None) -> None:
        """Step until the executor's last reports (and what they lead to) are applied, within ``timeout`` s."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.leadership.ttl)
        while self.loop.step().more or self.loop.reports_queued():
            if time.monotonic() > deadline:
                log.warning("the engine stopped with events left to apply; the next engine applies them")
                return

    def close(self) -> None:
        """Stop the engine and release its database connections."""
        self.stop()
        self.telemetry.close()
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
                if self.leadership.ensure() and not self._step()[1]:
                    self._wait_for_wake(0.01)
            else:
                # Woken as soon as the loop ends an execution; the timeout covers ends it does not see.
                with self._ended:
                    if self._ended_count == ended_count:
                        self._ended.wait(0.02)
