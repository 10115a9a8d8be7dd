"""The contract of ``aiflow_core.ports.StoreTx``, run unchanged on every backend."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest

from aiflow_core.errors import AlreadyExistsError, InvalidStateError, NotFoundError
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.meta import StartCause, StartKind, WorkflowMeta
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.ports import EventFilter, StoreTx
from aiflow_storage.sql import SqlStore

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
MANUAL = StartCause(kind=StartKind.MANUAL)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore(db_url)
    yield s
    s.close()


def _workflow(tx: StoreTx, name: str = "wf", namespace: str = "default") -> WorkflowMeta:
    return tx.put_workflow(namespace, name, f"content of {name}", T0)


def _execution(tx: StoreTx, workflow_id: int) -> int:
    snap = tx.add_snapshot(workflow_id, f"file:///snap/{workflow_id}", "sig", b"obj", T0)
    workflow = tx.get_workflow_by_id(workflow_id)
    assert workflow is not None
    wfe = tx.add_workflow_execution(
        workflow, snap.id, ExecutionType.MANUAL, WorkflowStatus.RUNNING, T0, MANUAL
    )
    return wfe.id


# -- namespaces --------------------------------------------------------------------------


def test_namespaces(store: SqlStore) -> None:
    with store.transaction() as tx:
        ns = tx.add_namespace("ns1", {"owner": "me", "n": 1})
        assert ns.name == "ns1" and ns.properties == {"owner": "me", "n": 1}
        with pytest.raises(AlreadyExistsError, match="ns1"):
            tx.add_namespace("ns1", {})
        tx.add_namespace("ns2", {})
    with store.transaction() as tx:
        assert [n.name for n in tx.list_namespaces(None, None)] == ["default", "ns1", "ns2"]
        assert [n.name for n in tx.list_namespaces(1, 1)] == ["ns1"]
        assert [n.name for n in tx.list_namespaces(10, 2)] == ["ns2"]
        tx.add_namespace("NS1", {"upper": True})  # names are case-sensitive on every backend
        assert tx.get_namespace("ns1").properties == {"owner": "me", "n": 1}  # type: ignore[union-attr]
        assert tx.get_namespace("missing") is None
        updated = tx.update_namespace("ns1", {"owner": "you"})
        assert updated is not None and updated.properties == {"owner": "you"}
        assert (
            tx.update_namespace("ns1", {"owner": "you"}) is not None
        )  # unchanged values still count
        assert tx.update_namespace("missing", {}) is None
    with store.transaction() as tx:
        assert tx.get_namespace("ns1").properties == {"owner": "you"}  # type: ignore[union-attr]
        assert tx.delete_namespace("ns2") is True
        assert tx.delete_namespace("ns2") is False
        assert tx.get_namespace("ns2") is None
        assert tx.get_namespace("NS1").properties == {"upper": True}  # type: ignore[union-attr]


# -- workflows ---------------------------------------------------------------------------


def test_workflows_put_get_list_enable(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_namespace("other", {})
        first = tx.put_workflow("default", "a", "v1", T0)
        assert (first.namespace, first.name, first.content) == ("default", "a", "v1")
        assert first.is_enabled is True and first.snapshot_id is None
        assert first.create_time == T0 and first.update_time == T0
        second = tx.put_workflow("default", "b", "x", T0)
        third = tx.put_workflow("other", "a", "y", T0)
        assert len({first.id, second.id, third.id}) == 3
    with store.transaction() as tx:
        again = tx.put_workflow("default", "a", "v2" * 50_000, at(5))
        assert again.id == first.id
        assert again.content == "v2" * 50_000
        assert again.create_time == T0 and again.update_time == at(5)
        assert tx.get_workflow("default", "a") == again
        assert tx.get_workflow_by_id(first.id) == again
        assert tx.get_workflow("default", "missing") is None
        assert tx.get_workflow("default", "A") is None
        assert tx.get_workflow_by_id(10_000) is None
        assert [w.id for w in tx.list_workflows("default", None, None)] == [first.id, second.id]
        assert [w.id for w in tx.list_workflows(None, None, None)] == [
            first.id,
            second.id,
            third.id,
        ]
        assert [w.id for w in tx.list_workflows(None, 1, 1)] == [second.id]
        assert [w.id for w in tx.list_workflows("other", None, None)] == [third.id]
        assert tx.list_workflows("missing", None, None) == []
        tx.set_workflow_enabled(first.id, False, at(9))
    with store.transaction() as tx:
        disabled = tx.get_workflow_by_id(first.id)
        assert (
            disabled is not None and disabled.is_enabled is False and disabled.update_time == at(9)
        )
        tx.set_workflow_enabled(first.id, True, at(10))
        assert tx.get_workflow_by_id(first.id).is_enabled is True  # type: ignore[union-attr]


def test_put_workflow_in_missing_namespace(store: SqlStore) -> None:
    with store.transaction() as tx, pytest.raises(NotFoundError, match="nowhere"):
        tx.put_workflow("nowhere", "wf", "c", T0)


def test_delete_workflow_cascades(store: SqlStore) -> None:
    with store.transaction() as tx:
        wf = _workflow(tx, "doomed")
        keep = _workflow(tx, "kept")
        wfe_id = _execution(tx, wf.id)
        keep_wfe = _execution(tx, keep.id)
        te = tx.add_task_execution(
            wfe_id, "t", 1, 1, ExecutionType.MANUAL, TaskStatus.RUNNING, MANUAL, T0
        )
        keep_te = tx.add_task_execution(
            keep_wfe, "t", 1, 1, ExecutionType.MANUAL, TaskStatus.RUNNING, MANUAL, T0
        )
        tx.add_schedule(wf.id, "interval@0 0 1 0", at(60), "COALESCE", T0)
        keep_schedule = tx.add_schedule(keep.id, "interval@0 0 1 0", at(60), "COALESCE", T0)
        trigger = tx.add_trigger(wf.id, b"rule", T0)
        keep_trigger = tx.add_trigger(keep.id, b"rule", T0)
        tx.save_state(f"wfe:{wfe_id}:t:0", {"v": b"1"})
        tx.save_state(f"trigger:{trigger.id}:0", {"v": b"2"})
        tx.save_state(f"wfe:{keep_wfe}:t:0", {"v": b"3"})
        tx.save_state(f"trigger:{keep_trigger.id}:0", {"v": b"4"})
        snapshot_ids = [s.id for s in tx.list_snapshots(wf.id, None, None)]
    with store.transaction() as tx:
        tx.delete_workflow(wf.id)
    with store.transaction() as tx:
        assert tx.get_workflow_by_id(wf.id) is None
        assert tx.get_workflow_execution(wfe_id) is None
        assert tx.get_task_execution(te.id) is None
        assert tx.list_schedules(wf.id, None, None) == []
        assert tx.list_triggers(wf.id, None, None) == []
        assert tx.get_trigger(trigger.id) is None
        assert all(tx.get_snapshot(i) is None for i in snapshot_ids)
        assert tx.load_state(f"wfe:{wfe_id}:t:0") == {}
        assert tx.load_state(f"trigger:{trigger.id}:0") == {}
        # the other workflow is untouched
        assert tx.get_workflow_execution(keep_wfe) is not None
        assert tx.get_task_execution(keep_te.id) is not None
        assert tx.get_schedule(keep_schedule.id) is not None
        assert tx.get_trigger(keep_trigger.id) is not None
        assert tx.load_state(f"wfe:{keep_wfe}:t:0") == {"v": b"3"}
        assert tx.load_state(f"trigger:{keep_trigger.id}:0") == {"v": b"4"}
    with store.transaction() as tx:
        tx.add_namespace("ns", {})
        in_ns = _workflow(tx, "w", namespace="ns")
        tx.append_events([Event("k", namespace="ns"), Event("k")], T0)
        with pytest.raises(InvalidStateError, match="'ns'"):
            tx.delete_namespace("ns")
        tx.delete_workflow(in_ns.id)
        assert tx.delete_namespace("ns") is True  # its workflows are gone: allowed
        assert [e.namespace for e in tx.read_events(0, 10)] == ["default"]


# -- snapshots ---------------------------------------------------------------------------


def test_snapshots(store: SqlStore) -> None:
    big = os.urandom(5 * 1024 * 1024)
    with store.transaction() as tx:
        wf = _workflow(tx)
        s1 = tx.add_snapshot(wf.id, "file:///a.zip", "a" * 64, b"\x00\x01pickle\xff", at(1))
        assert tx.get_workflow_by_id(wf.id).snapshot_id == s1.id  # type: ignore[union-attr]
        s2 = tx.add_snapshot(wf.id, "s3://bucket/b.zip", "b" * 64, big, at(2))
        assert tx.get_workflow_by_id(wf.id).snapshot_id == s2.id  # type: ignore[union-attr]
        s3 = tx.add_snapshot(wf.id, "file:///c.zip", "c" * 64, b"c", at(3))
    with store.transaction() as tx:
        assert tx.get_snapshot(s2.id) == s2
        assert (s2.workflow_id, s2.uri, s2.signature, s2.create_time) == (
            wf.id,
            "s3://bucket/b.zip",
            "b" * 64,
            at(2),
        )
        assert tx.get_snapshot_object(s1.id) == b"\x00\x01pickle\xff"
        assert tx.get_snapshot_object(s2.id) == big
        assert tx.get_snapshot(10_000) is None and tx.get_snapshot_object(10_000) is None
        assert [s.id for s in tx.list_snapshots(wf.id, None, None)] == [s3.id, s2.id, s1.id]
        assert [s.id for s in tx.list_snapshots(wf.id, 1, 1)] == [s2.id]
        tx.add_workflow_execution(
            wf, s1.id, ExecutionType.MANUAL, WorkflowStatus.RUNNING, T0, None
        )
        assert tx.delete_snapshot(s1.id) is False  # an execution runs from it
        assert tx.get_snapshot(s1.id) is not None
        assert tx.delete_snapshot(s2.id) is True
        assert tx.delete_snapshot(s2.id) is False
        assert tx.get_snapshot_object(s2.id) is None
        assert tx.delete_snapshot(s3.id) is True  # the current one: the workflow has none left
        assert tx.get_workflow_by_id(wf.id).snapshot_id is None  # type: ignore[union-attr]


# -- executions --------------------------------------------------------------------------


def test_workflow_executions(store: SqlStore) -> None:
    cause = StartCause(
        kind=StartKind.TRIGGER, event_offset=7, event_key="k", rule_index=2, rule="r"
    )
    east = dt.timezone(dt.timedelta(hours=5, minutes=30))
    with store.transaction() as tx:
        tx.add_namespace("other", {})
        a = _workflow(tx, "a")
        b = _workflow(tx, "b", namespace="other")
        snap_a = tx.add_snapshot(a.id, "u", "s", b"o", T0)
        snap_b = tx.add_snapshot(b.id, "u", "s", b"o", T0)
        e1 = tx.add_workflow_execution(
            a,
            snap_a.id,
            ExecutionType.EVENT,
            WorkflowStatus.INIT,
            T0.astimezone(east),
            cause,
        )
        e2 = tx.add_workflow_execution(
            a, snap_a.id, ExecutionType.MANUAL, WorkflowStatus.RUNNING, at(1), None
        )
        e3 = tx.add_workflow_execution(
            b, snap_b.id, ExecutionType.PERIODIC, WorkflowStatus.RUNNING, at(2), MANUAL
        )
    with store.transaction() as tx:
        got = tx.get_workflow_execution(e1.id)
        assert got == e1
        assert got is not None
        assert (got.workflow_id, got.workflow_name, got.namespace, got.snapshot_id) == (
            a.id,
            "a",
            "default",
            snap_a.id,
        )
        assert got.execution_type is ExecutionType.EVENT and got.status is WorkflowStatus.INIT
        assert got.cause == cause
        assert got.begin_date == T0 and got.begin_date.utcoffset() == dt.timedelta(0)
        assert got.begin_date.microsecond == 123456
        assert got.end_date is None
        assert tx.get_workflow_execution(e2.id).cause is None  # type: ignore[union-attr]
        assert tx.get_workflow_execution(10_000) is None

        def ids(**kw: object) -> list[int]:
            return [e.id for e in tx.list_workflow_executions(**kw)]  # type: ignore[arg-type]

        assert ids(workflow_id=a.id) == [e1.id, e2.id]
        assert ids(workflow_id=None) == [e1.id, e2.id, e3.id]
        assert ids(workflow_id=None, limit=1, offset=1) == [e2.id]
        assert ids(workflow_id=None, statuses=[WorkflowStatus.RUNNING]) == [e2.id, e3.id]
        assert ids(workflow_id=a.id, statuses=[WorkflowStatus.INIT, WorkflowStatus.FAILED]) == [
            e1.id
        ]
        assert ids(workflow_id=None, namespace="other") == [e3.id]
        assert ids(workflow_id=None, namespace="default", statuses=[WorkflowStatus.RUNNING]) == [
            e2.id
        ]
        assert ids(workflow_id=None, statuses=[]) == []

        end = dt.datetime(2024, 3, 1, 13, 0, 0, 1, tzinfo=UTC)
        tx.update_workflow_execution(e1.id, WorkflowStatus.SUCCESS, end)
    with store.transaction() as tx:
        done = tx.get_workflow_execution(e1.id)
        assert done is not None and done.status is WorkflowStatus.SUCCESS and done.end_date == end
        te = tx.add_task_execution(
            e2.id, "t", 1, 1, ExecutionType.MANUAL, TaskStatus.QUEUED, MANUAL, T0
        )
        tx.save_state(f"wfe:{e2.id}:t:0", {"x": b"1"})
        tx.save_state(f"wfe:{e2.id}0:t:0", {"x": b"2"})  # scope of another execution id
        tx.delete_workflow_execution(e2.id)
        assert tx.get_workflow_execution(e2.id) is None
        assert tx.get_task_execution(te.id) is None
        assert tx.load_state(f"wfe:{e2.id}:t:0") == {}
        assert tx.load_state(f"wfe:{e2.id}0:t:0") == {"x": b"2"}
        assert ids(workflow_id=None) == [e1.id, e3.id]


def test_task_executions(store: SqlStore) -> None:
    cause = StartCause(kind=StartKind.RULE, event_offset=42, event_key="ké", rule_index=0, rule="x")
    with store.transaction() as tx:
        wfe = _execution(tx, _workflow(tx).id)
        other = _execution(tx, _workflow(tx, "other").id)
        t1 = tx.add_task_execution(
            wfe, "extract", 1, 1, ExecutionType.EVENT, TaskStatus.INIT, cause, at(1)
        )
        t2 = tx.add_task_execution(
            wfe, "load", 1, 1, ExecutionType.MANUAL, TaskStatus.QUEUED, MANUAL, at(2)
        )
        t3 = tx.add_task_execution(
            wfe,
            "extract",
            2,
            1,
            ExecutionType.PERIODIC,
            TaskStatus.QUEUED,
            StartCause(kind=StartKind.PERIODIC),
            at(3),
        )
        tx.add_task_execution(
            other, "extract", 1, 1, ExecutionType.MANUAL, TaskStatus.INIT, MANUAL, T0
        )
    with store.transaction() as tx:
        got = tx.get_task_execution(t1.id)
        assert got == t1
        assert got is not None
        assert (got.workflow_execution_id, got.task_name, got.sequence_number, got.try_number) == (
            wfe,
            "extract",
            1,
            1,
        )
        assert got.execution_type is ExecutionType.EVENT and got.status is TaskStatus.INIT
        assert (
            got.cause == cause and got.cause.describe() == "rule #0 (x) on event 'ké' @ offset 42"
        )
        assert got.begin_date == at(1)
        assert got.end_date is None and got.error is None and got.log_path is None
        assert tx.get_task_execution(10_000) is None
        assert [t.id for t in tx.list_task_executions(wfe)] == [t1.id, t2.id, t3.id]
        assert [t.id for t in tx.list_task_executions(wfe, task_name="extract")] == [t1.id, t3.id]
        assert [t.id for t in tx.list_task_executions(wfe, limit=1, offset=1)] == [t2.id]
        assert tx.list_task_executions(10_000) == []
        end = dt.datetime(2024, 3, 2, 0, 0, 0, 999999, tzinfo=UTC)
        tx.update_task_execution(
            t1.id,
            status=TaskStatus.FAILED,
            try_number=2,
            begin_date=at(4),
            end_date=end,
            error="Traceback ... ü" * 10_000,
            log_path="/logs/t1.log",
        )
        tx.update_task_execution(t2.id, status="RUNNING")
        with pytest.raises(TypeError, match="task_name"):
            tx.update_task_execution(t2.id, task_name="renamed")
    with store.transaction() as tx:
        got = tx.get_task_execution(t1.id)
        assert got is not None
        assert got.status is TaskStatus.FAILED and got.try_number == 2
        assert got.begin_date == at(4) and got.end_date == end
        assert got.error == "Traceback ... ü" * 10_000 and got.log_path == "/logs/t1.log"
        assert tx.get_task_execution(t2.id).status is TaskStatus.RUNNING  # type: ignore[union-attr]


# -- state -------------------------------------------------------------------------------


def test_state(store: SqlStore) -> None:
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
        # a prefix is literal: '_' and '%' are not wildcards
        tx.delete_state("wfe:1:")
        assert tx.load_state("wfe:1:t") == {} and tx.load_state("wfe:1:u") == {}
        assert tx.load_state("wfe_1:t") == {"a": b"underscore"}
        assert tx.load_state("wfe%1:t") == {"a": b"percent"}
        assert tx.load_state("wfe:10:t") == {"a": b"ten"}
        tx.delete_state("wfe_")
        assert tx.load_state("wfe_1:t") == {}
        assert tx.load_state("wfe%1:t") == {"a": b"percent"}


# -- events ------------------------------------------------------------------------------


def test_event_offsets_and_idempotency(store: SqlStore) -> None:
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


def test_a_transaction_reads_the_events_it_appended(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.append_events([Event("old", "0")], T0)
    with store.transaction() as tx:
        checkpoint = tx.get_checkpoint("main")
        assert checkpoint == 0 and tx.max_offset() == 1
        mine = tx.append_events(
            [Event("a", "1", context={"n": [1, 2]}, workflow_execution_id=7, idempotency_key="ka"), Event("b")], at(1)
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


def test_the_trigger_version_changes_with_every_trigger_change(store: SqlStore) -> None:
    with store.transaction() as tx:
        wf = _workflow(tx)
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


def test_log_head(store: SqlStore) -> None:
    with store.transaction() as tx:
        head = tx.log_head()
        assert (head.end, head.next_timer, head.next_schedule) == (0, None, None)
        wf = _workflow(tx)
        tx.append_events([Event("a"), Event("b")], T0)
        tx.add_timer(at(30), EventKind.RETRY_TASK, "retry:1", {})
        tx.add_timer(at(20), EventKind.RETRY_TASK, "retry:2", {})
        paused = tx.add_schedule(wf.id, "cron@* * * * *", at(5), "coalesce", T0)
        tx.update_schedule(paused.id, is_paused=True)
        tx.add_schedule(wf.id, "cron@* * * * *", at(60), "coalesce", T0)
    with store.transaction() as tx:
        head = tx.log_head()
        assert (head.end, head.next_timer, head.next_schedule) == (2, at(20), at(60))


def test_event_fields_and_filters(store: SqlStore) -> None:
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


def test_checkpoints_and_leases(store: SqlStore) -> None:
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

        assert tx.acquire_lease("sched", "A", T0, 10) is True
        assert tx.acquire_lease("sched", "B", at(5), 10) is False
        assert tx.acquire_lease("sched", "A", at(5), 10) is True  # renew: now expires at(15)
        assert tx.acquire_lease("sched", "B", at(12), 10) is False
        assert tx.acquire_lease("other", "B", at(12), 10) is True  # leases are independent
        assert tx.get_live_lease_owner("sched", at(14)) == "A"
        assert tx.get_live_lease_owner("sched", at(15)) is None  # expired at(15): its holder may be gone
        assert tx.get_live_lease_owner("nobody", at(1)) is None
    with store.transaction() as tx:
        assert tx.acquire_lease("sched", "B", at(15.5), 10) is True  # A's lease expired
        assert tx.acquire_lease("sched", "A", at(16), 10) is False
        tx.release_lease("sched", "A")  # not the holder: no effect
        assert tx.acquire_lease("sched", "A", at(17), 10) is False
        tx.release_lease("sched", "B")
        assert tx.acquire_lease("sched", "A", at(17), 10) is True


def test_timers(store: SqlStore) -> None:
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


# -- schedules and triggers --------------------------------------------------------------


def test_schedules(store: SqlStore) -> None:
    with store.transaction() as tx:
        wf = _workflow(tx)
        other = _workflow(tx, "other")
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
            tx.update_schedule(s2.id, expression="cron@* * * * *")
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


def test_triggers(store: SqlStore) -> None:
    rule = b"\x80\x05pickled rule\x00"
    with store.transaction() as tx:
        tx.add_namespace("ns", {})
        a = _workflow(tx, "a")
        b = _workflow(tx, "b")
        c = _workflow(tx, "c", namespace="ns")
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


def test_transaction_rolls_back_on_error(store: SqlStore) -> None:
    with pytest.raises(KeyError), store.transaction() as tx:
        tx.add_namespace("ghost", {})
        wf = _workflow(tx, "ghost", namespace="ghost")
        tx.append_events([Event("k")], T0)
        tx.add_timer(T0, EventKind.RETRY_TASK, f"retry:{wf.id}", {})
        raise KeyError("boom")
    with store.transaction() as tx:
        assert tx.get_namespace("ghost") is None
        assert tx.list_workflows(None, None, None) == []
        assert tx.max_offset() == 0 and tx.log_head().next_timer is None
        assert [e.offset for e in tx.append_events([Event("k")], T0)] == [1]
