"""Leadership: which of the engines sharing a database schedules, fenced by the lease's epoch.

One engine holds the scheduler lease and schedules; the others wait to take
over. The lease lives in the database and is judged by the database's clock
alone: :meth:`Leadership.ensure` takes it, or renews it once a third of its
length (config key ``scheduler_lease_ttl``) has passed. Every taking by a new
holder raises the lease's *epoch*, the fencing token. Each scheduler
transaction ends with :meth:`Leadership.fence`, which proves inside that
transaction that this engine still holds the lease at its epoch, unexpired;
otherwise the transaction rolls back with LeaseLostError and the engine is
deposed: it stops scheduling, stops the tasks it runs (:attr:`on_deposed`)
and waits to take the lease again. The store names an engine's database
sessions after it; a standby that finds another engine's lease expired ends
that engine's sessions (:meth:`~aiflow_core.ports.Store.end_sessions`), so
that one frozen inside a transaction does not hold its locks until it
resumes.

A new leader does not count the task attempts of the engine before it lost
at once: they may still run (a paused engine's workers stop themselves only
once their heartbeats go unanswered). An attempt is lost when its engine is
known dead (a process of this host that is gone) and its attempts died with
it (not so on Celery workers, which end a task only once its heartbeats go
unanswered), or when both that engine's
lease and the attempt's own heartbeat (recorded on the database's clock)
have expired: :meth:`Leadership.settle_lost` reports those FAILED (or STOPPED
when they were stopping).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from aiflow_core.api.observe import LEASE_NAME, dead_local_owner
from aiflow_core.errors import LeaseLostError
from aiflow_core.leases import Lease
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import TaskReport
from aiflow_core.model.meta import TaskExecutionMeta
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Store, StoreTx

log = logging.getLogger("aiflow.engine")

#: Seconds between looks at the database's clock while attempts of earlier leaders are in doubt.
SETTLE_EVERY = 0.25
#: The statuses of a task execution whose attempt may still run.
ALIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.STOPPING)


class Leadership:
    """The scheduler lease of one engine (``owner``) on ``store``, ``ttl`` seconds long.

    ``on_elected(epochs)`` runs when the engine becomes leader, and when
    its unbroken leadership moves to a new epoch (``epochs`` are those of
    that leadership), ``on_deposed(reason)``
    when it loses the lease; ``queue`` takes the reports that settle lost
    task attempts; ``own_attempts`` names the task executions this engine
    runs itself. An attempt of another engine is lost ``grace`` seconds
    after its last heartbeat and the taking of the lease (both on the
    database's clock), or at once when that engine is known dead and
    ``attempts_die_with_engine`` (they ran in its process or its children).
    ``on_doubtful(runs)`` is told, on election, the task executions earlier
    leaders left alive; ``on_settled(ids)`` those of them that have ended or
    are now counted lost.
    """

    def __init__(
        self, *, store: Store, owner: str, ttl: float, grace: float,
        on_elected: Callable[[frozenset[int]], None], on_deposed: Callable[[str], None],
        queue: Callable[[Event], None], own_attempts: Callable[[], set[int]], attempts_die_with_engine: bool = True,
        on_doubtful: Callable[[list[TaskExecutionMeta]], None] = lambda runs: None,
        on_settled: Callable[[list[int]], None] = lambda ids: None,
    ) -> None:
        self.store = store
        #: False when attempts run on other machines (Celery workers): an engine's death does not end them.
        self.attempts_die_with_engine = attempts_die_with_engine
        self._owner = ""
        self.owner = owner
        self.ttl = ttl
        self.grace = dt.timedelta(seconds=grace)
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._queue = queue
        self._own_attempts = own_attempts
        self._on_doubtful = on_doubtful
        self._on_settled = on_settled
        #: The epoch this engine holds the lease at; None when it does not lead.
        self.epoch: int | None = None
        #: The epochs of this engine's unbroken leadership: its lease expired and it took it again before
        #: anyone else did (the epoch then grew by exactly one), so its attempts of those epochs are current.
        self.epochs: frozenset[int] = frozenset()
        #: Off only to measure what the check costs (benchmarks); an unfenced engine is unsafe to share.
        self.fencing = True
        self._renew_at = 0.0
        self._valid_until = 0.0
        #: Task executions of earlier leaders that may still run -> when they count as lost (database clock).
        self._doubtful: dict[int, dt.datetime] = {}
        self._next_settle: dt.datetime | None = None
        self._next_look = 0.0

    @property
    def owner(self) -> str:
        """This engine's name as the lease holder; the store names its database sessions after it."""
        return self._owner

    @owner.setter
    def owner(self, value: str) -> None:
        self._owner = value
        self.store.name_sessions(value)

    @property
    def leader(self) -> bool:
        """True while this engine holds the lease (as of its last taking, renewal or fenced commit)."""
        return self.epoch is not None

    def holds(self) -> bool:
        """True while this engine leads and its lease, by this host's monotonic clock, cannot have expired.

        The bound is conservative: it counts from before the transaction
        that took or renewed the lease. Workers' heartbeats are answered
        "go on" only while it holds.
        """
        return self.epoch is not None and time.monotonic() < self._valid_until

    def ensure(self) -> bool:
        """Take or renew the lease when due; True while this engine is the leader."""
        if self.epoch is not None and time.monotonic() < self._renew_at:
            return True
        started = time.monotonic()
        try:
            lease = self._take()
        except Exception:
            if self.epoch is not None and started >= self._valid_until:
                self.depose("the lease could not be renewed before it ended")
            raise
        if lease is None:
            if self.epoch is not None:
                self.depose("another engine holds the scheduler lease")
            return False
        if self.epoch is not None and lease.epoch != self.epoch:
            if lease.epoch != self.epoch + 1:
                self.depose(f"another engine held the lease meanwhile (epoch {self.epoch} -> {lease.epoch})")
                return self.ensure()
            log.warning("%s renewed its expired lease: epoch %s -> %s", self.owner, self.epoch, lease.epoch)
            self.epoch = lease.epoch
            self.epochs = self.epochs | {lease.epoch}
            self._on_elected(self.epochs)
        self._renew_at = started + self.ttl / 3
        self._valid_until = started + self.ttl
        if self.epoch is None:
            self.epoch = lease.epoch
            self.epochs = frozenset({lease.epoch})
            log.info("%s leads the scheduler at epoch %s", self.owner, lease.epoch)
            self._on_elected(self.epochs)
        return True

    def _take(self) -> Lease | None:
        """Take or renew the lease in one transaction; returns it, or None while another engine holds it."""
        previous = None
        with self.store.transaction() as tx:
            if self.epoch is None:
                previous = tx.get_lease(LEASE_NAME)
                if previous is not None and previous.owner != self.owner:
                    if previous.live and not dead_local_owner(previous.owner):
                        return None  # held: do not queue behind the lock of the holder's transaction
                    if not previous.live:
                        self._end_sessions(previous)
            lease = tx.acquire_lease(LEASE_NAME, self.owner, self.ttl)
            if lease is None and previous is not None and dead_local_owner(previous.owner):
                log.warning("taking over the scheduler lease of %s, whose process is gone", previous.owner)
                tx.release_lease(LEASE_NAME, previous.owner)
                lease = tx.acquire_lease(LEASE_NAME, self.owner, self.ttl)
            if lease is not None and self.epoch is None:
                self._find_doubtful(tx, previous, lease.now)
        return lease

    def _end_sessions(self, previous: Lease) -> None:
        """End the database sessions of the holder whose lease expired, before locking the lease.

        That holder may be frozen inside a transaction holding locks (the
        lease's among them) that the database does not free on its own: in
        the middle of sending a statement, say, or of receiving rows. A
        standby reads the lease without locking it while it is held, so it
        never waits on such a lock before it can end the holder's sessions.
        """
        ended = self.store.end_sessions(previous.owner)
        if ended:
            log.warning(
                "ended %d database sessions of %s, whose lease expired (epoch %s)", ended, previous.owner,
                previous.epoch,
            )

    def fence(self, tx: StoreTx) -> None:
        """Prove inside ``tx`` that this engine holds the lease at its epoch; LeaseLostError otherwise."""
        if not self.fencing:
            return
        if self.epoch is None:
            raise LeaseLostError(f"{self.owner} does not hold the scheduler lease")
        tx.check_lease(LEASE_NAME, self.owner, self.epoch)

    def recheck(self, reason: str) -> None:
        """A transaction found the lease lost (``reason``): take it again if nobody else took it, else step down."""
        if self.epoch is None:
            return
        self._renew_at = 0.0
        try:
            self.ensure()
        except Exception:
            self.depose(reason)
            raise

    def depose(self, reason: str) -> None:
        """This engine no longer leads: stop scheduling and stop the tasks it runs."""
        if self.epoch is None:
            return
        log.warning("%s lost the scheduler lease (epoch %s): %s", self.owner, self.epoch, reason)
        self.step_down()
        self._doubtful.clear()
        self._on_deposed(reason)

    def _find_doubtful(self, tx: StoreTx, previous: object, taken: dt.datetime) -> None:
        """Note the attempts earlier leaders left alive: lost now if their engine is known dead, else later."""
        owner = getattr(previous, "owner", None)
        known_dead = owner is None or owner == self.owner or (
            self.attempts_die_with_engine and dead_local_owner(owner)
        )
        alive = tx.list_task_executions_by_status(list(ALIVE))
        beats = tx.task_execution_heartbeats([te.id for te in alive])
        self._doubtful = {
            te.id: taken if known_dead else max(beats.get(te.id, taken), taken) + self.grace for te in alive
        }
        self._next_settle = min(self._doubtful.values(), default=None)
        self._on_doubtful(alive)

    def settle_lost(self) -> None:
        """Report lost the doubtful attempts whose time came (call while leading, before a step)."""
        if self._next_settle is None or time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + SETTLE_EVERY
        with self.store.transaction(readonly=True) as tx:
            now = tx.store_now()
            if now < self._next_settle:
                return
            due = [te_id for te_id, when in self._doubtful.items() if when <= now]
            beats = tx.task_execution_heartbeats(due)
            own = self._own_attempts()
            lost = []
            settled = []
            for te_id in due:
                beat = beats.get(te_id)
                if te_id in own or (beat is not None and beat + self.grace > now):
                    # Still running here (stopping since a deposition), or beating: look again later.
                    self._doubtful[te_id] = max(beat or now, now) + self.grace
                    continue
                del self._doubtful[te_id]
                settled.append(te_id)
                te = tx.get_task_execution(te_id)
                execution = None if te is None else tx.get_workflow_execution(te.workflow_execution_id)
                if te is not None and execution is not None and te.status in ALIVE:
                    lost.append((te, execution))
        self._next_settle = min(self._doubtful.values(), default=None)
        self._on_settled(settled)
        for te, execution in lost:
            status = TaskStatus.STOPPED if te.status is TaskStatus.STOPPING else TaskStatus.FAILED
            self._queue(
                TaskReport(
                    namespace=execution.namespace, workflow_name=execution.workflow_name,
                    workflow_execution_id=execution.id, task_execution_id=te.id, task_name=te.task_name,
                    sequence_number=te.sequence_number, status=status, epoch=self.epoch,
                    error=None if status is TaskStatus.STOPPED else "task lost: the engine running it stopped",
                ).to_event()
            )

    def release(self) -> None:
        """Give up the lease (the engine stops); its epoch stays, so the next holder's is higher."""
        with self.store.transaction() as tx:
            tx.release_lease(LEASE_NAME, self.owner)
        self.step_down()

    def step_down(self) -> None:
        """Stop counting as leader here (the engine stops), without touching the lease."""
        self.epoch = None
        self.epochs = frozenset()
        self._renew_at = self._valid_until = 0.0
