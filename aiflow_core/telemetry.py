"""OpenTelemetry spans of scheduler steps and task executions (extra ``otel``).

``Engine(tracing=True)`` sends spans to the global tracer provider the host
configured (``opentelemetry.trace.set_tracer_provider``); ``tracing=`` a
``TracerProvider`` sends them to that one. Spans:

* ``aiflow.scheduler.step``: one scheduler transaction, with the number of
  events applied, commands and executions ended;
* ``aiflow.event``: an event whose application started task executions, a
  child of the step that applied it (key, offset, kind);
* ``aiflow.task_execution``: a task execution from its hand-over to the
  executor to its final status (ERROR when it failed), linked to the
  ``aiflow.event`` span of the event that caused it (for runs started by a
  rule, a user's command, a periodic or retry fire).

OpenTelemetry is imported only here, and only when tracing is asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiflow_core.errors import ConfigError, install_hint
from aiflow_core.model.meta import StartCause
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Command, StartTask, StoreTx

if TYPE_CHECKING:
    from aiflow_core.scheduler.loop import StepResult

#: Event spans kept to link task spans to (the newest events; older ones are forgotten).
_EVENTS_KEPT = 10_000


class NoTelemetry:
    """What an engine without tracing uses: every hook does nothing."""

    def run_step(self, step: Callable[[], StepResult]) -> StepResult:
        """Run one scheduler step."""
        return step()

    def around_hand_over(
        self, tx: StoreTx, commands: Sequence[Command], hand_over: Callable[[], None]
    ) -> Callable[[], None]:
        """The hand-over of ``commands`` to the executor (run after ``tx`` commits), as it is."""
        return hand_over

    def task_reported(self, task_execution_id: int, status: TaskStatus, error: str | None = None) -> None:
        """Nothing to note."""

    def close(self) -> None:
        """Nothing to end."""


def open_telemetry(tracing: Any) -> NoTelemetry:
    """The telemetry of an engine: ``False``/``None`` none, ``True`` the global tracer provider, or a provider."""
    if tracing is None or tracing is False:
        return NoTelemetry()
    return Telemetry(None if tracing is True else tracing)


class Telemetry(NoTelemetry):
    """Makes the spans of one engine; ``tracer_provider`` None means the global one."""

    def __init__(self, tracer_provider: Any = None) -> None:
        try:
            from opentelemetry import trace
        except ImportError:
            raise ConfigError(f"tracing needs OpenTelemetry; install it with {install_hint('otel')}") from None
        import aiflow_core

        self._trace = trace
        self._tracer = trace.get_tracer("aiflow", aiflow_core.__version__, tracer_provider=tracer_provider)
        self._lock = threading.Lock()
        self._tasks: dict[int, Any] = {}
        self._events: OrderedDict[int, Any] = OrderedDict()

    def run_step(self, step: Callable[[], StepResult]) -> StepResult:
        """Run one scheduler step in an ``aiflow.scheduler.step`` span that records what it did."""
        with self._tracer.start_as_current_span("aiflow.scheduler.step") as span:
            result = step()
            span.set_attributes({"aiflow.events_applied": result.applied, "aiflow.commands": result.commands,
                                 "aiflow.executions_ended": len(result.ended)})
        return result

    def around_hand_over(
        self, tx: StoreTx, commands: Sequence[Command], hand_over: Callable[[], None]
    ) -> Callable[[], None]:
        """Read in ``tx`` why each task execution to start was started; the returned hand-over (run after
        the commit) starts their spans, then hands the commands over."""
        pending: list[tuple[StartTask, StartCause]] = []
        for command in commands:
            if isinstance(command, StartTask):
                run = tx.get_task_execution(command.task_execution_id)
                if run is not None:
                    pending.append((command, run.cause))

        def traced() -> None:
            for command, cause in pending:
                self.task_queued(command, cause)
            hand_over()

        return traced

    def _event_context(self, cause: StartCause) -> Any:
        """The span context of the event behind ``cause`` (its span made now, under the current step)."""
        offset = cause.event_offset
        if offset is None:
            return None
        with self._lock:
            known = self._events.get(offset)
            if known is not None:
                return known
        attributes: dict[str, str | int] = {"aiflow.event.offset": offset, "aiflow.event.key": cause.event_key or ""}
        span = self._tracer.start_span("aiflow.event", attributes=attributes)
        span.end()
        with self._lock:
            self._events[offset] = span.get_span_context()
            while len(self._events) > _EVENTS_KEPT:
                self._events.popitem(last=False)
        return span.get_span_context()

    def task_queued(self, command: StartTask, cause: StartCause) -> None:
        """Start the span of a task execution handed to the executor, linked to the event that caused it."""
        from opentelemetry.trace import Link

        context = self._event_context(cause)
        attributes: dict[str, str | int] = {
            "aiflow.task_execution.id": command.task_execution_id, "aiflow.task.name": command.task_name,
            "aiflow.workflow.name": command.workflow_name, "aiflow.namespace": command.namespace,
            "aiflow.workflow_execution.id": command.workflow_execution_id,
            "aiflow.task_execution.sequence_number": command.sequence_number,
            "aiflow.task_execution.try_number": command.try_number, "aiflow.cause": cause.describe(),
            "aiflow.cause.kind": cause.kind.value,
        }
        span = self._tracer.start_span(
            "aiflow.task_execution", context=self._trace.set_span_in_context(self._trace.INVALID_SPAN),
            attributes=attributes, links=[Link(context)] if context is not None else (),
        )
        with self._lock:
            self._tasks[command.task_execution_id] = span

    def task_reported(self, task_execution_id: int, status: TaskStatus, error: str | None = None) -> None:
        """Note a status a task execution reported; a final one ends its span."""
        with self._lock:
            span = self._tasks.get(task_execution_id) if not status.is_final else \
                self._tasks.pop(task_execution_id, None)
        if span is None:
            return
        if not status.is_final:
            span.add_event(f"aiflow.task_execution.{status.value.lower()}")
            return
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("aiflow.task_execution.status", status.value)
        if status is TaskStatus.FAILED:
            span.set_status(Status(StatusCode.ERROR, (error or "failed")[:500]))
        span.end()

    def close(self) -> None:
        """End the spans of task executions still open (the engine stops)."""
        with self._lock:
            spans = list(self._tasks.values())
            self._tasks.clear()
        for span in spans:
            span.set_attribute("aiflow.task_execution.status", "UNKNOWN: the engine stopped")
            span.end()
