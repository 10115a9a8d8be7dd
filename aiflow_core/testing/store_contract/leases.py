"""The store contract, part: fenced leases and attempt heartbeats, on the store's own clock."""

from __future__ import annotations

import time

import pytest

from aiflow_core.errors import LeaseLostError
from aiflow_core.model.event import Event
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Store
from aiflow_core.testing.store_contract.support import MANUAL, T0, make_execution, make_workflow

#: Lease length of the tests that wait for a lease to expire, in seconds of the store's clock.
SHORT = 0.3


def _wait_past(store: Store, seconds: float) -> None:
    """Sleep until ``seconds`` passed on the store's clock."""
    with store.transaction(readonly=True) as tx:
        until = tx.store_now().timestamp() + seconds
    while True:
        with store.transaction(readonly=True) as tx:
            left = until - tx.store_now().timestamp()
        if left <= 0:
            return
        time.sleep(left + 0.01)


class LeaseContract:
    """Tests of leases (holder, epoch, expiry on the store's clock), fencing and heartbeats.

    A part of :class:`~aiflow_core.testing.store_contract.StoreContract`.
    """

    def test_a_lease_is_taken_renewed_and_refused_to_others(self, store: Store) -> None:
        """The first taker gets epoch 1; renewing keeps it; another owner is refused while it is live."""
        with store.transaction() as tx:
            assert tx.get_lease("sched") is None
            first = tx.acquire_lease("sched", "A", 10)
            assert first is not None and (first.owner, first.epoch, first.live) == ("A", 1, True)
            assert first.expires > first.now
            assert tx.acquire_lease("sched", "B", 10) is None
            renewed = tx.acquire_lease("sched", "A", 20)
            assert renewed is not None and renewed.epoch == 1 and renewed.expires > first.expires
            other = tx.acquire_lease("other", "B", 10)  # leases are independent
            assert other is not None and other.epoch == 1
        with store.transaction(readonly=True) as tx:
            held = tx.get_lease("sched")
            assert held is not None and (held.owner, held.epoch, held.live) == ("A", 1, True)

    def test_the_epoch_grows_with_every_change_of_holder(self, store: Store) -> None:
        """An expired lease goes to the next taker with epoch + 1, and so does a released one; a holder
        whose lease expired gets a new epoch too; releasing is only for the holder."""
        with store.transaction() as tx:
            assert tx.acquire_lease("sched", "A", SHORT) is not None
        _wait_past(store, SHORT)
        with store.transaction() as tx:
            expired = tx.get_lease("sched")
            assert expired is not None and expired.owner == "A" and not expired.live
            taken = tx.acquire_lease("sched", "B", 10)
            assert taken is not None and (taken.owner, taken.epoch) == ("B", 2)
            assert tx.acquire_lease("sched", "A", 10) is None
            tx.release_lease("sched", "A")  # not the holder: no effect
            still = tx.get_lease("sched")
            assert still is not None and still.live and still.owner == "B"
            tx.release_lease("sched", "B")
            released = tx.get_lease("sched")
            assert released is not None and not released.live and released.epoch == 2
            again = tx.acquire_lease("sched", "A", SHORT)
            assert again is not None and again.epoch == 3
        _wait_past(store, SHORT)
        with store.transaction() as tx:
            renewed_late = tx.acquire_lease("sched", "A", 10)
            assert renewed_late is not None and renewed_late.epoch == 4  # it may have been deposed meanwhile

    def test_check_lease_proves_holder_and_epoch(self, store: Store) -> None:
        """check_lease passes for the holder at its epoch and raises LeaseLostError for anything else."""
        assert issubclass(LeaseLostError, RuntimeError)
        with store.transaction() as tx:
            lease = tx.acquire_lease("sched", "A", 10)
            assert lease is not None
            tx.check_lease("sched", "A", lease.epoch)
            with pytest.raises(LeaseLostError, match="epoch"):
                tx.check_lease("sched", "A", lease.epoch + 1)
            with pytest.raises(LeaseLostError, match="held by A"):
                tx.check_lease("sched", "B", lease.epoch)
            with pytest.raises(LeaseLostError, match="nobody"):
                tx.check_lease("nobody", "A", 1)

    def test_a_transaction_fenced_by_an_expired_lease_leaves_nothing(self, store: Store) -> None:
        """A lease that expired on the store's clock fails check_lease; the transaction that checked rolls back."""
        with store.transaction() as tx:
            lease = tx.acquire_lease("sched", "A", SHORT)
            assert lease is not None
        _wait_past(store, SHORT)
        with pytest.raises(LeaseLostError, match="expired"), store.transaction() as tx:
            tx.append_events([Event("late")], T0)
            tx.set_checkpoint("main", 1)
            tx.check_lease("sched", "A", lease.epoch)
        with store.transaction() as tx:
            assert tx.read_events(0, 10) == [] and tx.get_checkpoint("main") == 0
        with store.transaction() as tx:  # a deposed holder's check fails, the new holder's passes
            new = tx.acquire_lease("sched", "B", 10)
            assert new is not None and new.epoch == lease.epoch + 1
            with pytest.raises(LeaseLostError):
                tx.check_lease("sched", "A", lease.epoch)
            tx.check_lease("sched", "B", new.epoch)

    def test_heartbeats_of_attempts_are_on_the_store_clock(self, store: Store) -> None:
        """Heartbeats are recorded at the store's time, per task execution, and go with it."""
        with store.transaction() as tx:
            wfe = make_execution(tx, make_workflow(tx).id)
            te = tx.add_task_execution(wfe, "t", 1, 1, ExecutionType.MANUAL, TaskStatus.RUNNING, MANUAL, T0)
            other = tx.add_task_execution(wfe, "u", 1, 1, ExecutionType.MANUAL, TaskStatus.RUNNING, MANUAL, T0)
            assert tx.task_execution_heartbeats([te.id, other.id]) == {}
            before = tx.store_now()
            tx.beat_task_executions([te.id])
            beats = tx.task_execution_heartbeats([te.id, other.id, 10_000])
            assert list(beats) == [te.id]
            assert before <= beats[te.id] <= tx.store_now()
            tx.beat_task_executions([])
            tx.delete_workflow_execution(wfe)
            assert tx.task_execution_heartbeats([te.id]) == {}
