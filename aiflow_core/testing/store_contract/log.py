"""The store contract, part: the event log, condition state, checkpoints and timers."""

from __future__ import annotations

import os

import pytest

from aiflow_core.model.event import Event, EventKind
from aiflow_core.ports import EventFilter, Store
from aiflow_core.testing.store_contract.support import T0, at, make_execution, make_workflow


class LogContract:
    """Tests of the event log, condition state, checkpoints and timers.

    A part of :class:`~aiflow_core.testing.store_contract.StoreContract`.
    """

    # -- state -------------------------------------------------------------------------------

    def test_state(self, store: Store) -> None:
        """Condition state: save, overwrite, delete by name and by literal scope prefix."""
        with store.transaction() as tx:
            assert tx.load_state("wfe:1:t") == {}
            tx.save_state("wfe:1:t", {"a": b"\x00\xff", "b": b"2", "Ä": b"3"})
            tx.save_state("wfe:1:u", {"a": b"other"})
            tx.save_state("wfe_1:t", {"a": b"underscore"})
            tx.save_state("wfe%1:t", {"a": b"percent"})
            tx.save_state("wfe:10:t", {"a": b"ten"})
        with store.transaction() as tx:
            assert tx.load_state("wfe:1:t") == {"a": b"\x00\xff", "b": b"2", "Ä": b"3"}
            tx.save_state("wfe:1:t", {"a": b"new", "b": None, "absent": None})
            assert tx.load_state("wfe:1:t") == {"a": b"new", "Ä": b"3"}
            big = os.urandom(200_000)
            tx.save_state("big", {"v": big})
            assert tx.load_state("big") == {"v": big}
        with store.transaction() as tx:
            # deleting an execution deletes its state, and only its own
            wfe = make_execution(tx, make_workflow(tx).id)
            other = make_execution(tx, make_workflow(tx, "other").id)
            tx.save_state(f"wfe:{wfe}:t:0", {"a": b"mine"})
            tx.save_state(f"wfe:{other}:t:0", {"a": b"other"})
            tx.delete_workflow_execution(wfe)
            assert tx.load_state(f"wfe:{wfe}:t:0") == {}
            assert tx.load_state(f"wfe:{other}:t:0") == {"a": b"other"}
            assert tx.load_state("wfe_1:t") == {"a": b"underscore"}


    # -- events ------------------------------------------------------------------------------

    def test_event_offsets_and_idempotency(self, store: Store) -> None:
        """Offsets are consecutive and idempotency keys dedupe, within a batch and across transactions."""
        with store.transaction() as tx:
            assert tx.max_offset() == 0
            assert tx.append_events([], T0) == []
            first = tx.append_events(
                [
                    Event("a", "1", idempotency_key="k1"),
                    Event("b", "2"),
                    Event("a", "again", idempotency_key="k1"),  # same key in the batch
                    Event("c", None, idempotency_key="k2"),
                ],
                T0,
            )
            assert [e.offset for e in first] == [1, 2, 1, 3]
            assert first[2] == first[0] and first[2].value == "1"
            assert all(e.create_time == T0 for e in first)
        with store.transaction() as tx:
            second = tx.append_events(
                [
                    Event("x", "dup", idempotency_key="k2"),
                    Event("d", "4"),
                    Event("e", idempotency_key="K2"),
                ],
                at(1),
            )
            assert [e.offset for e in second] == [3, 4, 5]
            assert second[0].key == "c" and second[0].value is None and second[0].create_time == T0
            assert tx.max_offset() == 5
        with store.transaction() as tx:
            events = tx.read_events(0, 100)
            assert [(e.offset, e.key) for e in events] == [
                (1, "a"),
                (2, "b"),
                (3, "c"),
                (4, "d"),
                (5, "e"),
            ]
            assert events[0] == first[0]
            assert [e.offset for e in tx.read_events(1, 2)] == [2, 3]
            assert [e.offset for e in tx.read_events(4, 10)] == [5]
            assert tx.read_events(5, 10) == []
        assert [e.offset for e in store.events_after(3, 10)] == [4, 5]
        with store.transaction() as tx:
            assert tx.delete_events_before(3, at(1), 10) == 3  # offsets 1..3 were created at T0
            assert [e.offset for e in tx.read_events(0, 10)] == [4, 5]
            assert tx.delete_events_before(5, at(1), 10) == 0  # 4 and 5 are not older than at(1)
            assert tx.max_offset() == 5
            assert [e.offset for e in tx.append_events([Event("f")], at(2))] == [6]


    def test_a_transaction_reads_the_events_it_appended(self, store: Store) -> None:
        """A transaction reads back the events it appended, through every way of reading the log."""
        with store.transaction() as tx:
            tx.append_events([Event("old", "0")], T0)
        with store.transaction() as tx:
            checkpoint = tx.get_checkpoint("main")
            assert checkpoint == 0 and tx.max_offset() == 1
            mine = tx.append_events(
                [
                    Event("a", "1", context={"n": [1, 2]}, workflow_execution_id=7, idempotency_key="ka"),
                    Event("b"),
                ],
                at(1),
            )
            assert [e.offset for e in mine] == [2, 3]
            assert tx.read_events(checkpoint, 10)[1:] == mine  # the old event from the store, the new ones too
            assert tx.read_events(1, 1) == mine[:1] and tx.read_events(3, 10) == []
            # every other way of reading the log sees them as well
            assert tx.count_events(EventFilter(kinds=None)) == 3
            assert [e.key for e in tx.list_events(EventFilter(keys=["a", "b"], kinds=None))] == ["a", "b"]
            assert tx.append_events([Event("again", idempotency_key="ka")], at(2)) == mine[:1]
            assert tx.log_head().end == 3
            more = tx.append_events([Event("c")], at(2))
            assert [e.offset for e in tx.read_events(2, 10)] == [3, 4] and more[0].offset == 4
        with store.transaction() as tx:
            stored = tx.read_events(1, 10)
            assert stored == mine + more  # what the transaction read back is what it committed
            assert stored[0].context == {"n": [1, 2]} and stored[0].workflow_execution_id == 7
            assert stored[0].create_time == at(1)


    def test_the_trigger_version_changes_with_every_trigger_change(self, store: Store) -> None:
        """The trigger version changes with every trigger change and only then."""
        with store.transaction() as tx:
            wf = make_workflow(tx)
            before = tx.triggers_version()
            trigger = tx.add_trigger(wf.id, b"rule", T0)
            added = tx.triggers_version()
            assert added != before
        with store.transaction() as tx:
            tx.add_schedule(wf.id, "cron@* * * * *", T0, "coalesce", T0)  # not a trigger change
            assert tx.triggers_version() == added
            tx.update_trigger(trigger.id, is_paused=True)
            paused = tx.triggers_version()
            assert paused != added
        with store.transaction() as tx:
            assert tx.triggers_version() == paused
            tx.add_trigger(wf.id, b"rule", T0)
            tx.delete_triggers([trigger.id])
            deleted = tx.triggers_version()
            assert deleted not in (before, added, paused)
        with store.transaction() as tx:
            tx.delete_workflow(wf.id)  # takes its last trigger with it
            assert tx.triggers_version() not in (before, added, paused, deleted)


    def test_log_head(self, store: Store) -> None:
        """The log head: the end of the log, the earliest timer, the earliest unpaused schedule fire."""
        with store.transaction() as tx:
            head = tx.log_head()
            assert (head.end, head.next_timer, head.next_schedule) == (0, None, None)
            wf = make_workflow(tx)
            tx.append_events([Event("a"), Event("b")], T0)
            tx.add_timer(at(30), EventKind.RETRY_TASK, "retry:1", {})
            tx.add_timer(at(20), EventKind.RETRY_TASK, "retry:2", {})
            paused = tx.add_schedule(wf.id, "cron@* * * * *", at(5), "coalesce", T0)
            tx.update_schedule(paused.id, is_paused=True)
            tx.add_schedule(wf.id, "cron@* * * * *", at(60), "coalesce", T0)
        with store.transaction() as tx:
            head = tx.log_head()
            assert (head.end, head.next_timer, head.next_schedule) == (2, at(20), at(60))


    def test_event_fields_and_filters(self, store: Store) -> None:
        """Event fields round-trip (unicode, large values, contexts) and every filter selects alike."""
        big_value = "é" * 1_048_576
        with store.transaction() as tx:
            tx.add_namespace("ns", {})
            stored = tx.append_events(
                [
                    Event("k1", "v", namespace="default", sender="s1", context={"a": [1, "ü"]}),
                    Event("k2", big_value, namespace="default", sender="s2", workflow_execution_id=7),
                    Event("K1", "v", namespace="ns", sender="s1"),
                    Event("k1", "status", kind=EventKind.TASK_STATUS, workflow_execution_id=7),
                    Event("ключ/🔑", "значение ✓", namespace="ns", sender="sënder"),
                ],
                T0,
            )
            tx.append_events([Event("k1", "late", sender="s1")], at(10))
        with store.transaction() as tx:
            everything = tx.read_events(0, 10)
            assert everything[:5] == stored
            assert everything[0].context == {"a": [1, "ü"]} and everything[0].kind is EventKind.USER
            assert everything[1].value == big_value and everything[1].workflow_execution_id == 7
            assert everything[3].kind is EventKind.TASK_STATUS
            assert (everything[4].key, everything[4].value, everything[4].sender) == (
                "ключ/🔑",
                "значение ✓",
                "sënder",
            )
            assert everything[5].create_time == at(10)

            def offsets(**kw: object) -> list[int]:
                flt = EventFilter(**kw)  # type: ignore[arg-type]
                found = [e.offset for e in tx.list_events(flt)]
                assert tx.count_events(flt) == len(found)
                return found  # type: ignore[return-value]

            assert offsets() == [1, 2, 3, 5, 6]  # USER events by default
            assert offsets(kinds=None) == [1, 2, 3, 4, 5, 6]
            assert offsets(kinds=[EventKind.TASK_STATUS]) == [4]
            assert offsets(keys=["k1"]) == [1, 6]  # keys are case-sensitive
            assert offsets(keys=["k1"], kinds=None) == [1, 4, 6]
            assert offsets(keys=["k1", "ключ/🔑"]) == [1, 5, 6]
            assert offsets(keys=[]) == []
            assert offsets(namespace="ns") == [3, 5]
            assert offsets(namespace="NS") == []
            assert offsets(begin_offset=2) == [3, 5, 6]
            assert offsets(begin_time=at(5)) == [6]
            assert offsets(begin_time=T0) == [1, 2, 3, 5, 6]
            assert offsets(sender="s1") == [1, 3, 6]
            assert offsets(sender="sënder") == [5]
            assert offsets(workflow_execution_id=7, kinds=None) == [2, 4]
            assert offsets(keys=["k1"], namespace="default", sender="s1", begin_offset=1) == [6]
            assert [e.offset for e in tx.list_events(EventFilter(kinds=None), limit=2)] == [1, 2]


    # -- checkpoints, leases, timers --------------------------------------------------------

    def test_checkpoints(self, store: Store) -> None:
        """Checkpoints persist and roll back (leases: see the lease part)."""
        with store.transaction() as tx:
            assert tx.get_checkpoint("main") == 0
            tx.set_checkpoint("main", 17)
            tx.set_checkpoint("fresh", 3)  # set without a prior get
            assert tx.get_checkpoint("main") == 17
        with store.transaction() as tx:
            assert tx.get_checkpoint("main") == 17 and tx.get_checkpoint("fresh") == 3
            assert tx.get_checkpoint("other") == 0
            tx.set_checkpoint("main", 18)
        with pytest.raises(RuntimeError), store.transaction() as tx:
            tx.set_checkpoint("main", 99)
            raise RuntimeError("roll back")
        with store.transaction() as tx:
            assert tx.get_checkpoint("main") == 18

    def test_timers(self, store: Store) -> None:
        """Timers: deduplicated by key, due in fire-time order, deleted by id or literal key prefix."""
        with store.transaction() as tx:
            assert tx.log_head().next_timer is None
            assert (
                tx.add_timer(at(30), EventKind.PERIODIC_TASK, "periodic:1:t:a", {"task": "t"}) is True
            )
            assert tx.add_timer(at(99), EventKind.PERIODIC_TASK, "periodic:1:t:a", {}) is False
            assert tx.add_timer(at(10), EventKind.HEARTBEAT_TIMEOUT, "hb:5", {"te": 5}) is True
            assert tx.add_timer(at(20), EventKind.SCHEDULE_FIRE, "periodic_1:x", {}) is True
            assert tx.add_timer(at(40), EventKind.RETRY_TASK, "periodic:2:t", {}) is True
        with store.transaction() as tx:
            assert tx.log_head().next_timer == at(10)
            assert tx.due_timers(at(5), 10) == []
            due = tx.due_timers(at(30), 10)
            assert [(x.dedup_key, x.fire_time, x.kind) for x in due] == [
                ("hb:5", at(10), EventKind.HEARTBEAT_TIMEOUT),
                ("periodic_1:x", at(20), EventKind.SCHEDULE_FIRE),
                ("periodic:1:t:a", at(30), EventKind.PERIODIC_TASK),
            ]
            assert due[0].payload == {"te": 5} and due[2].payload == {"task": "t"}
            assert tx.due_timers(at(30), 1) == due[:1]
            tx.delete_timers([due[0].id])
            assert tx.log_head().next_timer == at(20)
            tx.delete_timers(dedup_prefix="periodic:1:")
            assert [x.dedup_key for x in tx.due_timers(at(100), 10)] == ["periodic_1:x", "periodic:2:t"]
            tx.delete_timers(dedup_prefix="periodic_")
            assert [x.dedup_key for x in tx.due_timers(at(100), 10)] == ["periodic:2:t"]
            # a deleted timer's key can be stored again
            assert tx.add_timer(at(1), EventKind.HEARTBEAT_TIMEOUT, "hb:5", {}) is True
            assert tx.log_head().next_timer == at(1)
