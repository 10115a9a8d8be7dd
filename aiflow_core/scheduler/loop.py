"""The scheduler loop: turns time into events and applies events exactly once.

One :meth:`SchedulerLoop.step` is one database transaction that

1. appends the executor reports queued in memory and the events of due
   timers and schedules (keyed, so a fire is never appended twice),
2. reads the events after the checkpoint and applies them,
3. writes state, emitted events and executor commands (the outbox), and
   advances the checkpoint, all in the same commit.

Commands are prepared inside the transaction, handed to the executor after
the commit, and removed from the outbox by the next transaction: a crash at
any instant loses no decision, and a command handed over just before a crash
is handed over again (executors ignore a task execution they already run).
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
from aiflow_core.scheduler.batch import Batch, SchedulerMemory, WorkflowCache
from aiflow_core.scheduler.schedules import ScheduleFirer
from aiflow_core.scheduler.triggers import TriggerEvaluator

log = logging.getLogger("aiflow.scheduler")

#: Prepares commands inside a transaction; returns what hands them to the executor after the commit.
Dispatch = Callable[[StoreTx, list[Command]], Callable[[], None]]


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
        self.memory = SchedulerMemory()
        self._dispatched: list[int] = []
        self._next_due: dt.datetime | None = None
        self._due_refresh_at = clock.now()
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
                if self._dispatched:
                    tx.complete_commands(self._dispatched)
                inputs = list(reports) + self._time_inputs(tx, now)
                if inputs:
                    tx.append_events(inputs, now)
                checkpoint = tx.get_checkpoint(self.name)
                events = tx.read_events(checkpoint, self.batch_size)
                batch = Batch(tx, now, self.workflows, self._rule_error, events, self.memory)
                for event in events:
                    self.applier.apply(batch, event)
                batch.state.flush()
                if batch.emitted:
                    tx.append_events(batch.emitted, now)
                if events:
                    tx.set_checkpoint(self.name, events[-1].offset or checkpoint)
                more = len(events) == self.batch_size or bool(batch.emitted)
                submit = self._dispatch(tx, batch.commands) if batch.commands else None
        except BaseException:
            self._requeue_reports(reports)
            self.memory.clear()
            self._next_due = None
            raise
        if batch.timers_added:
            self._next_due = None
        self._dispatched = []
        self.memory.forget_finished()
        self._checkpoint = (events[-1].offset or checkpoint) if events else checkpoint
        if submit is not None:
            submit()
            self._dispatched = [c.id for c in batch.commands]
        return StepResult(applied=len(events), more=more, commands=len(batch.commands))

    def _time_inputs(self, tx: StoreTx, now: dt.datetime) -> list[Event]:
        """Events of due timers and schedule fires; looked up only when something may be due.

        The earliest due time is remembered and looked up again when it passes,
        after this loop adds timers, and at least every half second of clock
        time (schedules added by other processes).
        """
        if self._next_due is not None and now < self._next_due and now < self._due_refresh_at:
            return []
        events = _timer_events(tx, now, self.batch_size) + self.schedules.fire_due(tx, now, self.batch_size)
        times = [t for t in (tx.next_timer_time(), tx.next_schedule_time()) if t is not None]
        self._next_due = min(times) if times else now + _REFRESH
        self._due_refresh_at = now + _REFRESH
        return events

    def dispatch_pending(self) -> int:
        """Hand the whole outbox to the executor (after a restart); returns how many commands."""
        with self.store.transaction() as tx:
            commands = tx.pending_commands(1_000_000)
            submit = self._dispatch(tx, commands)
        submit()
        self._dispatched.extend(c.id for c in commands)
        return len(commands)

    def forget(self) -> None:
        """Drop what the loop keeps between transactions (another engine may have written)."""
        self.memory.clear()
        self._next_due = None
        self.workflows = WorkflowCache()

    def has_work(self) -> bool:
        """True if a step would find something to do now."""
        if self._reports or self._dispatched:
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


_REFRESH = dt.timedelta(seconds=0.5)


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
