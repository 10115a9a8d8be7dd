"""The hand-over to executors: commands decided by a step become executor jobs after its commit.

:meth:`Handover.dispatch` runs inside the step's transaction and reads what
the jobs need (the workflow, its snapshot, the pickled frame for worker
processes); the function it returns runs only after that transaction
committed, and gives the executor its stops and starts. A task whose
definition cannot be loaded fails with the traceback in its log. Jobs carry
the lease epoch they were dispatched at, which names the attempt; stops
name it too, so they reach only that attempt.

A new leader does not start a run of a task while a run of it that an
earlier leader left alive is in doubt (it may still run on a worker until its
heartbeats go unanswered): the new run waits, QUEUED, until the doubtful one
is settled (see :mod:`aiflow_core.engine.leadership`), as a run waits behind
the one it replaces in an executor's lines.
"""

from __future__ import annotations

import functools
import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from aiflow_core import faultpoints
from aiflow_core.executors import Executor, TaskJob
from aiflow_core.executors.definitions import TaskDefinitions
from aiflow_core.homefiles import private_opener, working_copy_path
from aiflow_core.model.meta import TaskExecutionMeta
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Command, StartTask, StoreTx
from aiflow_core.scheduler.batch import WorkflowCache

log = logging.getLogger("aiflow.engine")

#: Reports a task execution's status: (job, status, error).
Report = Callable[[TaskJob, TaskStatus, "str | None"], None]


def _identity(value: Any) -> Any:
    return value


class Handover:
    """Turns a step's commands into executor calls once the step has committed.

    ``workflows`` gives the loop's workflow cache (it changes when the loop
    forgets), ``working_dir`` makes an execution's working directory from
    its snapshot, ``report`` records a task that could not be prepared, and
    ``mask`` hides known secrets in what it writes to task logs.
    """

    def __init__(
        self, *, executor: Executor, workflows: Callable[[], WorkflowCache], home: Path,
        working_dir: Callable[[str, str, Path], Path], report: Report, mask: Callable[[str], str],
        epoch: Callable[[], int | None],
    ) -> None:
        self.executor = executor
        self._epoch = epoch
        #: The attempts handed to the executor that have not reported a final status, by task execution id.
        self.running: dict[int, TaskJob] = {}
        self._running_lock = threading.Lock()
        self._workflows = workflows
        self._home = home
        self._working_dir = working_dir
        self._report = report
        self._mask = mask
        self._frames: dict[int, bytes] = {}
        self._definitions = TaskDefinitions()
        self._working_dirs: dict[int, str] = {}
        self._snapshot_metas: dict[int, Any] = {}
        #: Runs that earlier leaders left alive (they may still run on a worker), by task execution id: their
        #: workflow execution and task. A new run of such a task is held until they are settled.
        self._doubtful: dict[int, tuple[int, str]] = {}
        #: The runs held behind a doubtful run of their task, in the order they were decided.
        self._held: dict[tuple[int, str], list[TaskJob]] = {}

    def dispatch(self, tx: StoreTx, commands: list[Command]) -> Callable[[], None]:
        """Read what the commands need inside the transaction; return the hand-over to run after it."""
        stops: list[int] = []
        starts: list[tuple[TaskJob, Any, Any]] = []
        workflows = self._workflows()
        epoch = self._epoch()
        for command in commands:
            if not isinstance(command, StartTask):
                stops.append(command.task_execution_id)
                continue
            job = TaskJob(
                task_execution_id=command.task_execution_id, workflow_execution_id=command.workflow_execution_id,
                namespace=command.namespace, workflow_name=command.workflow_name, task_name=command.task_name,
                sequence_number=command.sequence_number, try_number=command.try_number,
                snapshot_id=command.snapshot_id, log_path=command.log_path,
                execution_timeout=command.execution_timeout, epoch=epoch,
            )
            try:
                workflow, _ = workflows.get(tx, job.snapshot_id)
                snapshot = self._snapshot_metas.get(job.snapshot_id) or tx.get_snapshot(job.snapshot_id)
                self._snapshot_metas[job.snapshot_id] = snapshot
                if self.executor.needs_snapshot_frame and job.snapshot_id not in self._frames:
                    self._frames[job.snapshot_id] = workflows.frame(tx, job.snapshot_id)
            except Exception as exc:
                self.fail_unprepared(job, exc)
                continue
            starts.append((job, workflow, snapshot))

        # A run that the step stopped after starting it (two RESTARTs in one batch) never runs.
        stillborn = {job.task_execution_id for job, _, _ in starts} & set(stops)

        def hand_over() -> None:
            faultpoints.reach("engine.dispatch")
            for te_id in stops:
                if te_id in stillborn:
                    continue
                with self._running_lock:
                    running = self.running.get(te_id)
                    held = self._unhold(te_id)
                if held is not None:
                    self._report(held, TaskStatus.STOPPED, None)
                    continue
                # The attempt this engine runs (of its current leadership), else whichever one this epoch started.
                self.executor.stop_task(te_id, running.epoch if running is not None else epoch)
            for job, workflow, snapshot in starts:
                if job.task_execution_id in stillborn:
                    self._report(job, TaskStatus.STOPPED, None)
                    continue
                try:
                    job = self._prepare(job, workflow, snapshot)
                except Exception as exc:
                    self.fail_unprepared(job, exc)
                    continue
                with self._running_lock:
                    key = (job.workflow_execution_id, job.task_name)
                    if key in self._doubtful.values():
                        self._held.setdefault(key, []).append(job)
                        continue
                    self.running[job.task_execution_id] = job
                self.executor.submit(job)

        return hand_over

    def doubt(self, runs: list[TaskExecutionMeta]) -> None:
        """This engine now leads, and earlier leaders left ``runs`` alive: hold new runs of their tasks."""
        with self._running_lock:
            self._doubtful = {te.id: (te.workflow_execution_id, te.task_name) for te in runs}
            self._held.clear()

    def settled(self, task_execution_ids: list[int]) -> None:
        """Doubtful runs have ended or are counted lost: start the runs held behind them."""
        ready: list[TaskJob] = []
        with self._running_lock:
            for te_id in task_execution_ids:
                key = self._doubtful.pop(te_id, None)
                if key is not None and key not in self._doubtful.values():
                    for job in self._held.pop(key, []):
                        self.running[job.task_execution_id] = job
                        ready.append(job)
        for job in ready:
            self.executor.submit(job)

    def _unhold(self, task_execution_id: int) -> TaskJob | None:
        """Take out a held run (caller holds the lock); None if it is not held."""
        for key, jobs in self._held.items():
            for job in jobs:
                if job.task_execution_id == task_execution_id:
                    jobs.remove(job)
                    if not jobs:
                        del self._held[key]
                    return job
        return None

    def ended(self, job: TaskJob) -> None:
        """An attempt reported its final status."""
        with self._running_lock:
            current = self.running.get(job.task_execution_id)
            if current is not None and current.epoch == job.epoch:
                del self.running[job.task_execution_id]

    def attempts(self) -> list[TaskJob]:
        """The attempts handed over that have not ended."""
        with self._running_lock:
            return list(self.running.values())

    def stop_all(self) -> None:
        """Stop every attempt handed over (the engine lost the scheduler lease); forget the held runs (the
        next leader finds them queued)."""
        with self._running_lock:
            self._held.clear()
            self._doubtful.clear()
        for job in self.attempts():
            self.executor.stop_task(job.task_execution_id, job.epoch)

    def _prepare(self, job: TaskJob, workflow: Any, snapshot: Any) -> TaskJob:
        """Give a job its working directory and its operator (or the pickled workflow for workers)."""
        working_dir = self._working_dirs.get(job.workflow_execution_id)
        if working_dir is None and snapshot is not None:
            dest = working_copy_path(
                self._home, job.namespace, job.workflow_name, job.workflow_execution_id, snapshot.signature
            )
            working_dir = str(self._working_dir(snapshot.uri, snapshot.signature, dest))
            if len(self._working_dirs) > 10_000:
                self._working_dirs.clear()
            self._working_dirs[job.workflow_execution_id] = working_dir
        task = workflow.tasks.get(job.task_name)
        fields: dict[str, Any] = {  # for executors whose workers fetch the snapshot themselves
            "queue": getattr(getattr(task, "config", None), "queue", None),
            "snapshot_uri": snapshot.uri if snapshot is not None else None,
            "snapshot_digest": snapshot.signature if snapshot is not None else None,
        }
        if working_dir and workflow.source_file:
            fields.update(working_dir=working_dir, workflow_file=str(Path(working_dir, workflow.source_file)))
        job = attrs.evolve(job, **fields)
        if self.executor.needs_snapshot_frame:
            return attrs.evolve(job, snapshot_frame=self._frames[job.snapshot_id])
        operator = self._definitions.operator(job, functools.partial(_identity, workflow))
        return attrs.evolve(job, operator=operator)

    def fail_unprepared(self, job: TaskJob, error: BaseException) -> None:
        """A task whose definition cannot be loaded fails, with the traceback in its log."""
        log.error("cannot prepare task %s of execution %s: %s", job.task_name, job.workflow_execution_id, error)
        try:
            with open(job.log_path, "a", encoding="utf-8", opener=private_opener) as task_log:
                trace = "".join(traceback.format_exception(error))
                task_log.write(self._mask("*** the task could not be prepared\n" + trace))
        except OSError:
            log.exception("cannot write the log %s of task execution %s", job.log_path, job.task_execution_id)
        self._report(job, TaskStatus.FAILED, f"task could not be prepared: {type(error).__name__}: {error}")
