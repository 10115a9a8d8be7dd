"""Leadership: which of the engines sharing a database schedules.

One engine holds the scheduler lease and schedules; the others wait to take
over. :meth:`Leadership.ensure` takes or renews the lease; when an engine
becomes leader it settles the task executions left alive by the engine that
held the lease before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiflow_core.api.observe import LEASE_NAME, dead_local_owner
from aiflow_core.model.clock import Clock
from aiflow_core.model.event import Event
from aiflow_core.model.internal.events import TaskReport
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Store

log = logging.getLogger("aiflow.engine")

LEASE_TTL = 30.0


class Leadership:
    """The scheduler lease of one engine (``owner``) on ``store``.

    ``on_elected`` runs when the engine becomes leader (it forgets what it
    kept between transactions); ``queue`` takes the reports that settle the
    task executions the previous leader left alive.
    """

    def __init__(
        self, *, store: Store, clock: Clock, owner: str, on_elected: Callable[[], None],
        queue: Callable[[Event], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self._on_elected = on_elected
        self._queue = queue
        self._lease_until = 0.0
        self.leader = False

    def ensure(self) -> bool:
        """Take or renew the lease when due; True while this engine is the leader."""
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
            if not self.leader:
                self.leader = True
                self._on_elected()
                self._recover()
        else:
            self.leader = False
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
            self._queue(
                TaskReport(
                    namespace=execution.namespace, workflow_name=execution.workflow_name,
                    workflow_execution_id=execution.id, task_execution_id=te.id, task_name=te.task_name,
                    sequence_number=te.sequence_number, status=lost,
                    error=None if lost is TaskStatus.STOPPED else "task lost: the engine running it stopped",
                ).to_event()
            )

    def release(self) -> None:
        """Give up the lease (the engine stops)."""
        with self.store.transaction() as tx:
            tx.release_lease(LEASE_NAME, self.owner)
        self.leader = False
