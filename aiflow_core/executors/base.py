"""The executor interface and the code that runs one task execution.

An executor receives :class:`TaskJob` objects (``submit``), may be asked to
stop one (``stop_task``), and reports every status change through the
:data:`Reporter` it was opened with. ``submit`` and ``stop_task`` are
idempotent per task execution id: the engine may repeat a command after a
crash, and a repeat changes nothing.
"""

from __future__ import annotations

import abc
import copy
import traceback
from collections.abc import Callable
from typing import IO, Any, cast

import attrs

from aiflow_core.executors.tasklog import TaskLog
from aiflow_core.model.context import TaskExecutionContext
from aiflow_core.model.operator import AIFlowOperator, Operator
from aiflow_core.model.status import TaskStatus
from aiflow_core.runtime.context import TaskRuntime, task_runtime
from aiflow_core.runtime.output import MaskedLog, task_output


class TaskStopped(BaseException):
    """Raised inside a task thread to end it when the task is stopped."""


@attrs.frozen(kw_only=True)
class TaskJob:
    """Everything an executor needs to run one task execution."""

    task_execution_id: int
    workflow_execution_id: int
    namespace: str
    workflow_name: str
    task_name: str
    sequence_number: int
    try_number: int
    snapshot_id: int
    log_path: str
    execution_timeout: float | None = None
    #: The scheduler lease epoch of the engine that dispatched this attempt: with the task execution id it
    #: names the attempt (reports of an attempt of an older epoch are refused as stale).
    epoch: int | None = None
    working_dir: str | None = None
    workflow_file: str | None = None
    #: The queue of remote workers the task runs on (the operator's ``queue`` option), if it names one.
    queue: str | None = None
    #: The blob URI and SHA-256 of the execution's snapshot, for workers that fetch it themselves.
    snapshot_uri: str | None = None
    snapshot_digest: str | None = None
    operator: Operator | None = attrs.field(default=None, eq=False, repr=False)
    snapshot_frame: bytes | None = attrs.field(default=None, eq=False, repr=False)


Reporter = Callable[[TaskJob, TaskStatus, "str | None"], None]
RuntimeFactory = Callable[[TaskJob], TaskRuntime]


def _nothing(*_: object) -> None:
    return None


@attrs.frozen(kw_only=True)
class ExecutorContext:
    """What the engine gives an executor when it opens it.

    ``reporter`` receives status changes; ``runtime_factory`` builds a task's
    runtime; ``wake`` nudges the scheduler (a task in another process sent an
    event); ``heartbeat`` records that a task execution is alive; ``env`` is
    extra environment for worker processes; ``heartbeat_interval`` is how
    often workers send heartbeats, in seconds; ``heartbeat`` answers each
    heartbeat: True means go on, False that the attempt must stop (its
    engine lost the scheduler lease); a worker that gets no answer within
    ``heartbeat_timeout`` seconds stops its task itself; ``serve`` carries out a call a
    task attempt in a worker process sent over its channel (see
    :mod:`aiflow_core.executors.attempt`).
    """

    reporter: Reporter
    runtime_factory: RuntimeFactory
    wake: Callable[[], None] = _nothing
    heartbeat: Callable[[int], bool] = lambda _te_id: True
    env: dict[str, str] = attrs.field(factory=dict)
    heartbeat_interval: float = 10.0
    #: After how many seconds without a heartbeat the engine fails a running task (workers on other
    #: machines end their task before that when they cannot reach the engine).
    heartbeat_timeout: float = 60.0
    serve: Callable[[TaskJob, str, dict[str, Any]], Any] | None = None


class Executor(abc.ABC):
    """Runs task executions; see the module docstring for the contract."""

    #: Name used in configuration (``task_executor``).
    name: str = ""

    @abc.abstractmethod
    def open(self, context: ExecutorContext) -> None:
        """Prepare to run tasks; statuses go to ``context.reporter``."""

    @abc.abstractmethod
    def submit(self, job: TaskJob) -> None:
        """Run ``job`` (report RUNNING, then SUCCESS, FAILED or STOPPED)."""

    @abc.abstractmethod
    def stop_task(self, task_execution_id: int, epoch: int | None = None) -> None:
        """Stop the attempt of a task execution; unknown or finished ids report STOPPED or are ignored.

        ``epoch`` names the attempt (see :attr:`TaskJob.epoch`): a stop that
        names one must reach only that attempt, never a later one of the same
        task execution nor another job that reuses its worker; None stops
        whichever attempt runs.
        """

    @abc.abstractmethod
    def busy(self) -> bool:
        """True while a submitted task has not finished."""

    def poll(self) -> None:  # noqa: B027 - optional hook; most executors have nothing to do here
        """Do pending work in the caller's thread (only the inline executor has any)."""

    @abc.abstractmethod
    def close(self, timeout: float | None = None) -> None:
        """Stop every running task and release resources."""

    @property
    def needs_snapshot_frame(self) -> bool:
        """True if jobs must carry the pickled workflow (tasks run in other processes)."""
        return False

    @property
    def sends_heartbeats(self) -> bool:
        """True if running tasks send heartbeats (the engine then fails silent ones)."""
        return False

    @property
    def attempts_die_with_engine(self) -> bool:
        """True if the attempts end when the engine's process dies (they run in it or in its children); an
        engine taking over then counts a dead engine's attempts lost at once instead of after their heartbeat
        timeout."""
        return True


def log_error(job: TaskJob, error: OSError) -> str:
    """The error of a task execution whose log file cannot be opened."""
    return f"cannot open the log file {job.log_path!r} of task {job.task_name!r}: {type(error).__name__}: {error}"


def run_task(
    job: TaskJob,
    operator: Operator,
    runtime: TaskRuntime,
    on_start: Callable[[AIFlowOperator, Any], None] | None = None,
    *,
    isolated: bool = False,
    eager_log: bool = False,
) -> tuple[TaskStatus, str | None]:
    """Run one task execution in the calling thread; returns its final status and error.

    Output goes to the task's log file, which is created on the first write
    (a successful run that wrote nothing leaves none; ``eager_log`` creates
    it at once, for a caller whose own output goes there); an exception is
    written there with its traceback and fails the task; :class:`TaskStopped`
    ends it as STOPPED. A log that cannot be opened fails the task with
    the error.
    What is not an :class:`Exception` (``KeyboardInterrupt``, ``SystemExit``,
    a test runner's timeout) belongs to the caller's thread and propagates,
    after the log records it, unless ``isolated``: a task on a worker thread
    or process of its own fails with it like with any exception.
    """
    if not isinstance(operator, AIFlowOperator):
        return TaskStatus.FAILED, f"task {job.task_name!r} is a {type(operator).__name__}, not an AIFlowOperator"
    task = copy.copy(operator)
    header = f"*** {job.workflow_name}.{job.task_name} execution {job.sequence_number} try {job.try_number}\n"
    with TaskLog(job.log_path, header, eager=eager_log) as log:
        status, error = _run_logged(task, job, runtime, log, on_start, isolated)
    if log.failed is not None:
        return TaskStatus.FAILED, log_error(job, log.failed)
    return status, error


def _run_logged(
    task: AIFlowOperator, job: TaskJob, runtime: TaskRuntime, log: TaskLog,
    on_start: Callable[[AIFlowOperator, Any], None] | None, isolated: bool,
) -> tuple[TaskStatus, str | None]:
    """The body of :func:`run_task`; notes to a log that cannot be opened are dropped (the caller reports it)."""
    context = TaskExecutionContext(
        workflow_name=job.workflow_name, namespace=job.namespace,
        workflow_execution_id=job.workflow_execution_id, task_name=job.task_name,
        task_execution_id=job.task_execution_id, sequence_number=job.sequence_number,
        try_number=job.try_number, log_file=log, log_path=job.log_path, working_dir=job.working_dir,
    )
    if on_start is not None:
        on_start(task, context)
    stream = cast(IO[str], log)
    masked = stream if runtime.mask is str else cast(IO[str], MaskedLog(stream, runtime.mask))
    with task_runtime(runtime), task_output(masked):
        try:
            task.start(context)
            task.await_termination(context, timeout=job.execution_timeout)
        except TaskStopped:
            log.note("*** stopped\n")
            return TaskStatus.STOPPED, None
        except BaseException as exc:
            log.note(runtime.mask("".join(traceback.format_exception(exc))))
            if not isolated and not isinstance(exc, Exception):
                log.note(f"*** interrupted by {type(exc).__name__}\n")
                raise
            log.note("*** failed\n")
            return TaskStatus.FAILED, runtime.mask(f"{type(exc).__name__}: {exc}")
    if log.opened:
        log.note("*** succeeded\n")
    return TaskStatus.SUCCESS, None
