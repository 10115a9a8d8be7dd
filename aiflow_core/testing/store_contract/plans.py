"""The store contract, part: schedules, triggers, and transactions as a whole."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from aiflow_core.leases import Lease
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.ports import EventFilter, Store
from aiflow_core.testing.store_contract.support import MANUAL, T0, UTC, at, make_execution, make_workflow


class PlanContract:
    """Tests of schedules, triggers, and transactions as a whole.

    A part of :class:`~aiflow_core.testing.store_contract.StoreContract`.
    """

    # -- schedules and triggers --------------------------------------------------------------

    def test_schedules(self, store: Store) -> None:
        """Schedules: stored, listed, due when unpaused and their fire time has come, updated, deleted."""
        with store.transaction() as tx:
            wf = make_workflow(tx)
            other = make_workflow(tx, "other")
            assert tx.log_head().next_schedule is None
            s1 = tx.add_schedule(wf.id, "cron@*/5 * * * *", at(300), "COALESCE", T0)
            s2 = tx.add_schedule(wf.id, "interval@0 0 0 30", at(30), "FIRE_ALL", T0)
            s3 = tx.add_schedule(other.id, "interval@0 0 0 10", at(10), "COALESCE", T0)
            s4 = tx.add_schedule(other.id, "cron@0 0 * * *", None, "COALESCE", T0)
            assert (s1.workflow_id, s1.expression, s1.is_paused, s1.misfire_policy) == (
                wf.id,
                "cron@*/5 * * * *",
                False,
                "COALESCE",
            )
            assert s1.next_fire_time == at(300) and s1.create_time == T0
        with store.transaction() as tx:
            assert tx.get_schedule(s2.id) == s2 and tx.get_schedule(10_000) is None
            assert [s.id for s in tx.list_schedules(wf.id, None, None)] == [s1.id, s2.id]
            assert [s.id for s in tx.list_schedules(wf.id, 1, 1)] == [s2.id]
            assert tx.log_head().next_schedule == at(10)
            assert [s.id for s in tx.due_schedules(at(30), 10)] == [s3.id, s2.id]
            assert [s.id for s in tx.due_schedules(at(30), 1)] == [s3.id]
            tx.update_schedule(s3.id, is_paused=True)
            tx.update_schedule(s2.id, next_fire_time=at(60), last_fire_time=at(30))
            with pytest.raises(TypeError, match="expression"):
                tx.update_schedule(s2.id, expression="cron@* * * * *")  # type: ignore[call-arg]
        with store.transaction() as tx:
            paused = tx.get_schedule(s3.id)
            assert paused is not None and paused.is_paused is True
            assert tx.get_schedule(s2.id).next_fire_time == at(60)  # type: ignore[union-attr]
            assert tx.log_head().next_schedule == at(60)
            assert tx.due_schedules(at(59), 10) == []  # s3 is due but paused, s4 has no fire time
            assert [s.id for s in tx.due_schedules(at(1000), 10)] == [s2.id, s1.id]
            tx.update_schedule(s3.id, is_paused=False)
            assert tx.log_head().next_schedule == at(10)
            assert tx.delete_schedules([s1.id]) == 1
            assert tx.delete_schedules(workflow_id=other.id) == 2
            assert tx.get_schedule(s4.id) is None
            assert [s.id for s in tx.list_schedules(wf.id, None, None)] == [s2.id]
            assert tx.delete_schedules([10_000]) == 0


    def test_triggers(self, store: Store) -> None:
        """Triggers: stored, listed by workflow or namespace, paused, deleted with their state."""
        rule = b"\x80\x05pickled rule\x00"
        with store.transaction() as tx:
            tx.add_namespace("ns", {})
            a = make_workflow(tx, "a")
            b = make_workflow(tx, "b")
            c = make_workflow(tx, "c", namespace="ns")
            t1 = tx.add_trigger(a.id, rule, T0)
            t2 = tx.add_trigger(b.id, b"r2", at(1))
            t3 = tx.add_trigger(c.id, b"r3", at(2))
            t4 = tx.add_trigger(a.id, b"r4", at(3))
            assert (t1.workflow_id, t1.rule, t1.is_paused, t1.create_time) == (a.id, rule, False, T0)
        with store.transaction() as tx:
            assert tx.get_trigger(t1.id) == t1 and tx.get_trigger(10_000) is None
            assert [x.id for x in tx.list_triggers(a.id, None, None)] == [t1.id, t4.id]
            assert [x.id for x in tx.list_triggers(a.id, 1, 1)] == [t4.id]
            assert [x.id for x in tx.list_triggers(None, None, None, namespace="default")] == [
                t1.id,
                t2.id,
                t4.id,
            ]
            assert [x.id for x in tx.list_triggers(None, None, None, namespace="ns")] == [t3.id]
            assert [x.id for x in tx.list_triggers(None, None, None)] == [t1.id, t2.id, t3.id, t4.id]
            tx.update_trigger(t2.id, True)
            assert tx.get_trigger(t2.id).is_paused is True  # type: ignore[union-attr]
            tx.update_trigger(t2.id, False)
            assert tx.get_trigger(t2.id).is_paused is False  # type: ignore[union-attr]
            for trigger in (t1, t2, t4):
                tx.save_state(f"trigger:{trigger.id}:0", {"count": b"1"})
        with store.transaction() as tx:
            assert tx.delete_triggers([t2.id]) == 1
            assert tx.load_state(f"trigger:{t2.id}:0") == {}
            assert tx.load_state(f"trigger:{t1.id}:0") == {"count": b"1"}
            assert tx.delete_triggers(workflow_id=a.id) == 2
            assert (
                tx.load_state(f"trigger:{t1.id}:0") == {} and tx.load_state(f"trigger:{t4.id}:0") == {}
            )
            assert tx.delete_triggers([10_000]) == 0
            assert [x.id for x in tx.list_triggers(None, None, None)] == [t3.id]


    def test_transaction_rolls_back_on_error(self, store: Store) -> None:
        """A transaction that raises leaves nothing behind."""
        with pytest.raises(KeyError), store.transaction() as tx:
            tx.add_namespace("ghost", {})
            wf = make_workflow(tx, "ghost", namespace="ghost")
            tx.append_events([Event("k")], T0)
            tx.add_timer(T0, EventKind.RETRY_TASK, f"retry:{wf.id}", {})
            raise KeyError("boom")
        with store.transaction() as tx:
            assert tx.get_namespace("ghost") is None
            assert tx.list_workflows(None, None, None) == []
            assert tx.max_offset() == 0 and tx.log_head().next_timer is None
            assert [e.offset for e in tx.append_events([Event("k")], T0)] == [1]

    def test_a_failed_transaction_undoes_every_kind_of_write(self, store: Store) -> None:
        """A transaction that raises after writing to every part of the store leaves all of it as it was."""
        with store.transaction() as tx:
            tx.add_namespace("kept", {"v": 1})
            tx.add_namespace("doomed", {})
            wf = make_workflow(tx, "wf")
            gone = make_workflow(tx, "gone")
            wfe = make_execution(tx, wf.id)
            gone_wfe = make_execution(tx, gone.id)
            te = tx.add_task_execution(wfe, "t", 1, 1, ExecutionType.MANUAL, TaskStatus.RUNNING, MANUAL, T0)
            tx.save_state(f"wfe:{wfe}:t:0", {"a": b"1", "b": b"2"})
            tx.append_events([Event("old", idempotency_key="old"), Event("older", namespace="kept")], T0)
            tx.set_checkpoint("main", 1)
            tx.acquire_lease("sched", "A", 10)
            tx.acquire_lease("other", "B", 10)
            tx.add_timer(at(10), EventKind.RETRY_TASK, "retry:1", {"n": 1})
            schedule = tx.add_schedule(wf.id, "cron@* * * * *", at(60), "COALESCE", T0)
            trigger = tx.add_trigger(wf.id, b"rule", T0)
            tx.save_state(f"trigger:{trigger.id}:0", {"c": b"3"})
        before = _dump(store)
        with pytest.raises(KeyError, match="boom"), store.transaction() as tx:
            tx.add_namespace("new", {})
            tx.update_namespace("kept", {"v": 2})
            assert tx.delete_namespace("doomed") is True
            new_wf = tx.put_workflow("new", "w", "c", at(1))
            tx.put_workflow("default", "wf", "changed", at(1))
            tx.set_workflow_enabled(wf.id, False, at(1))
            snapshot = tx.add_snapshot(wf.id, "u2", "s2", b"o2", at(1))
            new_wfe = tx.add_workflow_execution(
                new_wf, tx.add_snapshot(new_wf.id, "u", "s", b"o", at(1)).id,
                ExecutionType.MANUAL, WorkflowStatus.RUNNING, at(1), None,
            )
            tx.update_workflow_execution(wfe, WorkflowStatus.FAILED, at(1))
            tx.add_task_execution(new_wfe.id, "t", 1, 1, ExecutionType.MANUAL, TaskStatus.QUEUED, MANUAL, at(1))
            tx.update_task_execution(te.id, status=TaskStatus.FAILED, error="x", end_date=at(1))
            tx.delete_workflow(gone.id)
            assert tx.get_workflow_execution(gone_wfe) is None
            tx.delete_snapshot(snapshot.id)
            tx.save_state(f"wfe:{wfe}:t:0", {"a": b"new", "b": None, "z": b"9"})
            tx.append_events([Event("new", idempotency_key="new"), Event("again", idempotency_key="old")], at(1))
            assert tx.delete_events_before(10, at(2), 10) > 0
            tx.set_checkpoint("main", 3)
            tx.set_checkpoint("fresh", 3)
            tx.acquire_lease("sched", "A", 100)
            tx.release_lease("other", "B")
            tx.acquire_lease("third", "C", 10)
            tx.beat_task_executions([te.id])
            tx.add_timer(at(5), EventKind.RETRY_TASK, "retry:2", {})
            tx.delete_timers(dedup_prefix="retry:1")
            tx.update_schedule(schedule.id, is_paused=True, next_fire_time=at(120))
            tx.add_schedule(new_wf.id, "cron@* * * * *", at(5), "COALESCE", at(1))
            tx.update_trigger(trigger.id, True)
            tx.add_trigger(new_wf.id, b"r", at(1))
            tx.delete_triggers([trigger.id])
            tx.delete_schedules(workflow_id=wf.id)
            tx.delete_workflow_execution(wfe)
            raise KeyError("boom")
        assert _dump(store) == before
        with store.transaction() as tx:  # the counters were restored too: new rows continue from them
            assert [e.offset for e in tx.append_events([Event("next")], at(3))] == [3]
            assert tx.get_checkpoint("fresh") == 0

    def test_readonly_transactions_read_what_was_committed(self, store: Store) -> None:
        """A read-only transaction sees the committed data, and its reads do not block later writes."""
        with store.transaction() as tx:
            tx.append_events([Event("a")], T0)
        with store.transaction(readonly=True) as tx:
            assert [e.key for e in tx.read_events(0, 10)] == ["a"] and tx.log_head().end == 1
        with store.transaction() as tx:
            assert [e.offset for e in tx.append_events([Event("b")], T0)] == [2]


def _dump(store: Store) -> dict[str, Any]:
    """Everything the port can read back, for comparing a store before and after."""
    with store.transaction(readonly=True) as tx:
        workflows = tx.list_workflows(None, None, None)
        executions = tx.list_workflow_executions(None)
        scopes = [f"wfe:{e.id}:t:0" for e in executions] + [
            f"trigger:{t.id}:0" for t in tx.list_triggers(None, None, None)
        ]
        return {
            "namespaces": tx.list_namespaces(None, None),
            "workflows": workflows,
            "snapshots": [tx.list_snapshots(w.id, None, None) for w in workflows],
            "objects": [tx.get_snapshot_object(s.id) for w in workflows for s in tx.list_snapshots(w.id, None, None)],
            "executions": executions,
            "tasks": [tx.list_task_executions(e.id) for e in executions],
            "state": {scope: tx.load_state(scope) for scope in scopes},
            "events": tx.list_events(EventFilter(kinds=None)),
            "max_offset": tx.max_offset(),
            "checkpoints": (tx.get_checkpoint("main"), tx.get_checkpoint("fresh")),
            "leases": [_lease(tx.get_lease(name)) for name in ("sched", "other", "third")],
            "heartbeats": tx.task_execution_heartbeats(
                [te.id for e in executions for te in tx.list_task_executions(e.id)]
            ),
            "timers": tx.due_timers(dt.datetime.max.replace(tzinfo=UTC), 100),
            "head": tx.log_head(),
            "schedules": [tx.list_schedules(w.id, None, None) for w in workflows],
            "triggers": tx.list_triggers(None, None, None),
            "trigger_version": tx.triggers_version(),
        }


def _lease(lease: Lease | None) -> tuple[str, int, dt.datetime, bool] | None:
    """What a lease holds (its ``now`` is the reading's time, not held)."""
    return None if lease is None else (lease.owner, lease.epoch, lease.expires, lease.live)
