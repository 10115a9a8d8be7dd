"""The scheduler loop: turns time into events and applies events exactly once.

One :meth:`SchedulerLoop.step` is one database transaction that

1. appends the executor reports queued in memory and the events of due
   timers and schedules (keyed, so a fire is never appended twice),
2. reads the events after the checkpoint and applies them (a step that
   leaves events for the next ones hands them over in memory, read in its
   own transaction, while a count shows that they are all still in the log),
3. writes state, emitted events, the task executions that commands to
   the executor start or stop and the explanations of its decisions, and
   advances the checkpoint, all in the same commit.

A start command's record is its QUEUED task execution, a stop command's the
STOPPING status, both written in the deciding transaction. Commands are
prepared inside the transaction and handed to the executor once, after the
commit, so no task execution is ever started twice. A crash between the
commit and the hand-over leaves task executions that never ran: the next
engine records them FAILED with the error "task lost" (their status events
reach the rules), so nothing is silently lost either.

Every transaction of a step ends with the loop's ``fence``: the engine
proves there that it still holds the scheduler lease at its epoch, on the
database's clock. A deposed engine's step rolls back (LeaseLostError) before
anything it decided is handed to an executor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from aiflow_core import faultpoints
from aiflow_core.errors import StoreDataError, StoreError
from aiflow_core.model.clock import Clock
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.internal.events import SkippedEventNotice, StaleAttemptNotice, TaskReport, timer_event
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Command, EventFilter, Store, StoreTx
from aiflow_core.scheduler.apply import Applier
from aiflow_core.scheduler.batch import Batch, SchedulerMemory, WorkflowCache
from aiflow_core.scheduler.explain import ExplanationRecorder
from aiflow_core.scheduler.schedules import ScheduleFirer
from aiflow_core.scheduler.triggers import TriggerEvaluator

log = logging.getLogger("aiflow.scheduler")

#: Prepares commands inside a transaction; returns what hands them to the executor after the commit.
Dispatch = Callable[[StoreTx, list[Command]], Callable[[], None]]
#: Proves inside a transaction, just before it commits, that the engine still leads (raises otherwise).
Fence = Callable[[StoreTx], None]


def _unfenced(tx: StoreTx) -> None:
    return None


@attrs.frozen(kw_only=True)
class StepResult:
    """What one step did: events applied, whether more are waiting, the executions that ended."""

    applied: int
    more: bool
    commands: int
    ended: tuple[int, ...] = ()


@attrs.frozen(kw_only=True)
class RuleFailure:
    """A user condition (or workflow load) that raised; kept for inspection."""

    message: str
    error: str


class SchedulerLoop:
    """Applies the event log of one store; owns the checkpoint named ``name``.

    ``recorder`` records what rules and triggers made of each event (see
    :mod:`aiflow_core.scheduler.explain`); without one nothing is recorded.
    """

    def __init__(
        self, *, store: Store, clock: Clock, log_dir: Path, dispatch: Dispatch,
        name: str = "main", batch_size: int = 500, fence: Fence = _unfenced,
        recorder: ExplanationRecorder | None = None,
    ) -> None:
        self.store = store
        #: Called inside every transaction of a step, last: a deposed engine's step rolls back.
        self.fence = fence
        #: The lease epochs of the engine's unbroken leadership (None: unfenced); other epochs' attempts are stale.
        self.epochs: frozenset[int] | None = None
        self.clock = clock
        self.name = name
        self.batch_size = batch_size
        self.workflows = WorkflowCache()
        self.applier = Applier(log_dir, TriggerEvaluator(), recorder)
        self.schedules = ScheduleFirer()
        self._dispatch = dispatch
        self._reports: deque[Event] = deque()
        self._reports_lock = threading.Lock()
        self._checkpoint = 0
        self.memory = SchedulerMemory()
        self._next_timer: dt.datetime | None = None
        self._next_schedule: dt.datetime | None = None
        #: Events after the checkpoint that the last step read in its transaction but left to the next ones.
        self._unapplied: list[Event] = []
        self._suspect: tuple[int, int] | None = None
        self._suspect_error = ""
        self.failures: deque[RuleFailure] = deque(maxlen=1000)

    @property
    def checkpoint(self) -> int:
        """The offset of the last event this loop applied (as of its last step)."""
        return self._checkpoint

    # -- inputs --
    def queue_report(self, event: Event) -> None:
        """Queue an executor report; the next step appends it to the log."""
        with self._reports_lock:
            self._reports.append(event)

    def reports_queued(self) -> bool:
        """True if executor reports wait for the next step."""
        return bool(self._reports)

    def only_start_reports(self) -> bool:
        """True if the queued reports (at least one) all say that a task started running."""
        with self._reports_lock:
            return bool(self._reports) and all(e.value == TaskStatus.RUNNING.value for e in self._reports)

    def _take_reports(self) -> list[Event]:
        with self._reports_lock:
            reports = list(self._reports)
            self._reports.clear()
        return reports

    def _requeue_reports(self, reports: list[Event]) -> None:
        with self._reports_lock:
            self._reports.extendleft(reversed(reports))

    def _fresh(self, reports: list[Event]) -> list[Event]:
        """The reports to append: those of attempts of another epoch than this loop's become NOTICEs instead.

        Such an attempt was dispatched by an earlier leadership of this
        engine, which lost the lease since: what it reports changes nothing.
        """
        if self.epochs is None:
            return reports
        kept = []
        for event in reports:
            epoch = (event.context or {}).get("epoch") if event.kind is EventKind.TASK_REPORT else None
            if epoch is None or epoch in self.epochs:
                kept.append(event)
                continue
            report = TaskReport.from_event(event)
            reason = (
                f"report {report.status.value} of task execution {report.task_execution_id} refused: its attempt "
                f"was dispatched at lease epoch {epoch}, this engine leads at epoch {max(self.epochs)}"
            )
            log.warning("%s", reason)
            kept.append(
                StaleAttemptNotice(
                    namespace=event.namespace, task_execution_id=report.task_execution_id, epoch=epoch, reason=reason,
                ).to_event()
            )
        return kept

    def _rule_error(self, message: str, error: BaseException) -> None:
        text = "".join(traceback.format_exception(error)).rstrip()
        log.error("%s: %s", message, text)
        self.failures.append(RuleFailure(message=message, error=text))

    # -- the step --
    @contextlib.contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        """A transaction of this loop: the fence runs at its end, so it commits only while the engine leads."""
        with self.store.transaction() as tx:
            yield tx
            self.fence(tx)

    def step(self) -> StepResult:
        """Run one transaction of scheduling; see the module docstring."""
        now = self.clock.now()
        reports = self._take_reports()
        kept, self._unapplied = self._unapplied, []
        self.applier.recorder.begin()
        try:
            with self.transaction() as tx:
                checkpoint = tx.get_checkpoint(self.name)
                batch = Batch(tx, now, self.workflows, self._rule_error, memory=self.memory)
                inputs = self._fresh(reports) + self._time_inputs(batch)
                if inputs:
                    tx.append_events(inputs, now)
                limit = self._limit(checkpoint)
                if limit == 0:
                    self._skip_poison(tx, checkpoint, now)
                    return StepResult(applied=1, more=True, commands=0)
                events = self._read(tx, kept, checkpoint, limit)
                rest = kept[limit:] if kept and events and events[0] is kept[0] else []  # kept but not read
                batch.next_round(events, limit)
                last, applied = checkpoint, 0
                for round_number in range(ROUNDS):
                    for event in events:
                        try:
                            self.applier.apply(batch, event)
                        except Exception as exc:
                            raise _ApplyError(event, exc) from exc
                        last = event.offset or last
                    applied += len(events)
                    if not batch.emitted or applied >= limit or round_number == ROUNDS - 1:
                        break
                    # Apply what this transaction emitted (status changes, say) in the same transaction.
                    tx.append_events(batch.emitted, now)
                    events = tx.read_events(last, limit - applied)
                    batch.next_round(events, limit - applied)
                batch.state.flush()
                self.applier.recorder.flush(tx)
                if batch.emitted:
                    tx.append_events(batch.emitted, now)
                if last != checkpoint:
                    tx.set_checkpoint(self.name, last)
                more = applied >= limit or bool(batch.emitted)
                unapplied: list[Event] = []
                if more:  # what the next steps apply first: held in memory rather than read and decoded again
                    after = (rest[-1].offset or last) if rest else last
                    unapplied = rest + tx.read_events(after, max(KEPT_BATCHES * self.batch_size - len(rest), 0))
                submit = self._dispatch(tx, batch.commands) if batch.commands else None
                faultpoints.reach("scheduler.step")
        except BaseException as exc:
            self._requeue_reports(reports)
            self.memory.clear()
            self.applier.triggers.forget()
            self._next_timer = self._next_schedule = None
            self._note_failure(exc)
            raise
        if batch.timers_added:
            self._next_timer = None
        ended = self.memory.forget_finished()
        self._checkpoint = last
        self._unapplied = unapplied
        if submit is not None:
            submit()
        return StepResult(applied=applied, more=more, commands=len(batch.commands), ended=tuple(ended))

    @staticmethod
    def _read(tx: StoreTx, kept: list[Event], checkpoint: int, limit: int) -> list[Event]:
        """Up to ``limit`` events after ``checkpoint``: first those the last step left unapplied (``kept``, read
        in its transaction) while all of them are still in the log, then from the store.

        Only a namespace's deletion removes events after the checkpoint: a count of the kept range sees it.
        """
        kept = kept[:limit]
        if not kept or kept[0].offset != checkpoint + 1:
            return tx.read_events(checkpoint, limit)
        end = kept[-1].offset or checkpoint
        if tx.count_events(EventFilter(begin_offset=checkpoint, end_offset=end + 1, kinds=None)) != len(kept):
            return tx.read_events(checkpoint, limit)
        return kept + tx.read_events(end, limit - len(kept)) if len(kept) < limit else kept

    # -- events that cannot be applied --
    def _note_failure(self, exc: BaseException) -> None:
        """Remember which event failed to apply (database errors do not count: they say nothing of it)."""
        if not isinstance(exc, _ApplyError) or _from_store(exc.__cause__) or exc.event.offset is None:
            return
        offset = exc.event.offset
        count = self._suspect[1] + 1 if self._suspect and self._suspect[0] == offset else 1
        self._suspect = (offset, count)
        self._suspect_error = f"{type(exc.__cause__).__name__}: {exc.__cause__}"

    def _limit(self, checkpoint: int) -> int:
        """How many events to apply now: all before a failing event, then it alone; 0 means skip it."""
        if self._suspect is None:
            return self.batch_size
        offset, count = self._suspect
        if checkpoint >= offset:
            self._suspect = None
            return self.batch_size
        if checkpoint + 1 < offset:
            return min(self.batch_size, offset - checkpoint - 1)
        return 0 if count > POISON_ATTEMPTS else 1

    def _skip_poison(self, tx: StoreTx, checkpoint: int, now: dt.datetime) -> None:
        """Step over an event that failed alone ``POISON_ATTEMPTS`` times, leaving a NOTICE that says why."""
        assert self._suspect is not None
        offset = self._suspect[0]
        event = tx.read_events(checkpoint, 1)[0]
        reason = f"event {event.key!r} @ offset {offset} skipped: applying it failed ({self._suspect_error})"
        log.error("%s", reason)
        tx.append_events(
            [SkippedEventNotice(namespace=event.namespace, offset=offset, kind=event.kind, reason=reason).to_event()],
            now,
        )
        tx.set_checkpoint(self.name, offset)
        self._suspect = None

    def _time_inputs(self, batch: Batch) -> list[Event]:
        """Events of due timers and schedule fires; looked up only when something may be due.

        Only this loop adds timers, so the earliest one is known until it is
        due or the loop adds more. Clients add schedules, so those are looked
        up again at least every half second of clock time.
        """
        tx, now = batch.tx, batch.now
        timer_due = self._next_timer is None or self._next_timer <= now
        schedule_due = self._next_schedule is None or self._next_schedule <= now
        if not (timer_due or schedule_due):
            return []
        events = _timer_events(tx, now, self.batch_size) if timer_due else []
        if schedule_due:
            events += self.schedules.fire_due(tx, now, self.batch_size, batch.workflow_meta)
        head = tx.log_head()
        self._next_timer = head.next_timer or _NEVER
        self._next_schedule = min(head.next_schedule or _NEVER, now + _REFRESH)
        return events

    def forget(self) -> None:
        """Drop what the loop keeps between transactions (another engine may have written)."""
        self.memory.clear()
        self.applier.triggers.forget()
        self._next_timer = self._next_schedule = None
        self._unapplied = []
        self.workflows = WorkflowCache()

    def has_work(self) -> bool:
        """True if a step would find something to do now."""
        if self.reports_queued():
            return True
        now = self.clock.now()
        with self.store.transaction(readonly=True) as tx:
            head = tx.log_head()
        return head.end > self._checkpoint or _due(head.next_timer, now) or _due(head.next_schedule, now)

    def has_work_after_step(self) -> bool:
        """Like :meth:`has_work`, right after a step that left nothing to do; asks the store only if needed.

        Such a step read the log to its end and knows when its timers and
        schedules are next due, so only queued reports, a due time or a
        due time it does not know (it just added timers) can mean more work;
        events other processes append after it are found by the next call.
        """
        if self.reports_queued():
            return True
        known = self.known_next_due()
        if known is None:
            return self.has_work()
        return known <= self.clock.now()

    def known_next_due(self) -> dt.datetime | None:
        """The earliest due time as the last step looked it up (no query); None when not known."""
        if self._next_timer is None or self._next_schedule is None:
            return None
        return min(self._next_timer, self._next_schedule)

    def next_wakeup(self) -> dt.datetime | None:
        """The earliest time a timer or schedule is due."""
        with self.store.transaction(readonly=True) as tx:
            head = tx.log_head()
        times = [t for t in (head.next_timer, head.next_schedule) if t is not None]
        return min(times) if times else None


_REFRESH = dt.timedelta(seconds=0.5)
_NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
#: How many batches of events after the checkpoint a step keeps in memory for the next steps, at most.
KEPT_BATCHES = 10
#: How many times one transaction goes on to apply the events it emitted itself.
ROUNDS = 4
#: Times an event is tried alone, after failing in a batch, before it is skipped.
POISON_ATTEMPTS = 3


class _ApplyError(Exception):
    """Applying one event raised; carries where, so repeated failures can be told apart."""

    def __init__(self, event: Event, error: Exception) -> None:
        super().__init__(f"applying event {event.key!r} @ offset {event.offset} failed: {error}")
        self.event = event


def _from_store(error: BaseException | None) -> bool:
    """True for database failures: they say nothing about the event, so it is never skipped for them.

    A value the store refuses (StoreDataError) does say something about the
    event whose application wrote it: that one counts like any other error.
    """
    return isinstance(error, StoreError) and not isinstance(error, StoreDataError)


def _due(when: dt.datetime | None, now: dt.datetime) -> bool:
    return when is not None and when <= now


def _timer_events(tx: StoreTx, now: dt.datetime, limit: int) -> list[Event]:
    timers = tx.due_timers(now, limit)
    if not timers:
        return []
    events = [timer_event(EventKind(timer.kind), timer.payload, timer.dedup_key) for timer in timers]
    tx.delete_timers([t.id for t in timers])
    return events
