"""The scheduler loop: turns time into events and applies events exactly once.

One :meth:`SchedulerLoop.step` is one database transaction that

1. appends the executor reports queued in memory and the events of due
   timers and schedules (keyed, so a fire is never appended twice),
2. reads the events after the checkpoint and applies them,
3. writes state, emitted events and executor commands (the outbox), and
   advances the checkpoint, all in the same commit.

Commands are handed to the executor after the commit and removed from the
outbox once accepted, so a crash at any instant neither loses nor repeats a
decision.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path

import attrs

from aiflow_core.model.clock import Clock
from aiflow_core.model.event import Event, EventKind
from aiflow_core.ports import Command, Store, StoreTx
from aiflow_core.scheduler.apply import Applier
from aiflow_core.scheduler.batch import Batch, WorkflowCache
from aiflow_core.scheduler.schedules import ScheduleFirer
from aiflow_core.scheduler.triggers import TriggerEvaluator

log = logging.getLogger("aiflow.scheduler")

Dispatch = Callable[[StoreTx, list[Command]], None]


@attrs.frozen(kw_only=True)
class StepResult:
    """What one step did: events applied, and whether more are waiting."""

    applied: int
    more: bool
    commands: int


@attrs.frozen(kw_only=True)
class RuleFailure:
    """A user condition (or workflow load) that raised; kept for inspection."""

    message: str
    error: str


class SchedulerLoop:
    """Applies the event log of one store; owns the checkpoint named ``name``."""

    def __init__(
        self, *, store: Store, clock: Clock, log_dir: Path, dispatch: Dispatch,
        name: str = "main", batch_size: int = 500,
    ) -> None:
        self.store = store
        self.clock = clock
        self.name = name
        self.batch_size = batch_size
        self.workflows = WorkflowCache()
        self.applier = Applier(log_dir, TriggerEvaluator())
        self.schedules = ScheduleFirer()
        self._dispatch = dispatch
        self._reports: deque[Event] = deque()
        self._reports_lock = threading.Lock()
        self._checkpoint = 0
        self.failures: deque[RuleFailure] = deque(maxlen=1000)

    # -- inputs --
    def queue_report(self, event: Event) -> None:
        """Queue an executor report; the next step appends it to the log."""
        with self._reports_lock:
            self._reports.append(event)

    def _take_reports(self) -> list[Event]:
        with self._reports_lock:
            reports = list(self._reports)
            self._reports.clear()
        return reports

    def _requeue_reports(self, reports: list[Event]) -> None:
        with self._reports_lock:
            self._reports.extendleft(reversed(reports))

    def _rule_error(self, message: str, error: BaseException) -> None:
        text = "".join(traceback.format_exception(error)).rstrip()
        log.error("%s: %s", message, text)
        self.failures.append(RuleFailure(message=message, error=text))

    # -- the step --
    def step(self) -> StepResult:
        """Run one transaction of scheduling; see the module docstring."""
        now = self.clock.now()
        reports = self._take_reports()
        try:
            with self.store.transaction() as tx:
                inputs = list(reports)
                inputs += _timer_events(tx, now, self.batch_size)
                inputs += self.schedules.fire_due(tx, now, self.batch_size)
                if inputs:
                    tx.append_events(inputs, now)
                checkpoint = tx.get_checkpoint(self.name)
                events = tx.read_events(checkpoint, self.batch_size)
                batch = Batch(tx, now, self.workflows, self._rule_error, events)
                for event in events:
                    self.applier.apply(batch, event)
                batch.state.flush()
                if batch.emitted:
                    tx.append_events(batch.emitted, now)
                if events:
                    tx.set_checkpoint(self.name, events[-1].offset or checkpoint)
                more = len(events) == self.batch_size or bool(batch.emitted)
        except BaseException:
            self._requeue_reports(reports)
            raise
        self._checkpoint = (events[-1].offset or checkpoint) if events else checkpoint
        commands = self.dispatch_pending() if batch.commands else 0
        return StepResult(applied=len(events), more=more, commands=commands)

    def dispatch_pending(self) -> int:
        """Hand the outbox to the executor; returns how many commands were carried out."""
        total = 0
        while True:
            with self.store.transaction() as tx:
                commands = tx.pending_commands(self.batch_size)
                if not commands:
                    return total
                self._dispatch(tx, commands)
                tx.complete_commands([c.id for c in commands])
            total += len(commands)

    def has_work(self) -> bool:
        """True if a step would find something to do now."""
        if self._reports:
            return True
        now = self.clock.now()
        with self.store.transaction(readonly=True) as tx:  # type: ignore[call-arg]
            if tx.max_offset() > self._checkpoint:
                return True
            return _due(tx.next_timer_time(), now) or _due(tx.next_schedule_time(), now)

    def next_wakeup(self) -> dt.datetime | None:
        """The earliest time a timer or schedule is due."""
        with self.store.transaction(readonly=True) as tx:  # type: ignore[call-arg]
            times = [t for t in (tx.next_timer_time(), tx.next_schedule_time()) if t is not None]
        return min(times) if times else None


def _due(when: dt.datetime | None, now: dt.datetime) -> bool:
    return when is not None and when <= now


def _timer_events(tx: StoreTx, now: dt.datetime, limit: int) -> list[Event]:
    timers = tx.due_timers(now, limit)
    if not timers:
        return []
    events = []
    for timer in timers:
        payload = dict(timer.payload)
        events.append(
            Event(
                str(payload.pop("key", timer.kind.value)), None,
                namespace=str(payload.pop("namespace", "default")), sender="aiflow", kind=EventKind(timer.kind),
                workflow_execution_id=payload.get("workflow_execution_id"), context=payload,
                idempotency_key=timer.dedup_key,
            )
        )
    tx.delete_timers([t.id for t in timers])
    return events
