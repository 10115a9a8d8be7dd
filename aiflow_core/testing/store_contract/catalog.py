"""The store contract, part: namespaces, workflows, snapshots, workflow and task executions."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from aiflow_core.errors import AlreadyExistsError, InvalidStateError, NotFoundError
from aiflow_core.model.event import Event
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.meta import StartCause, StartKind
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.ports import Store
from aiflow_core.testing.store_contract.support import MANUAL, T0, UTC, at, make_execution, make_workflow


class CatalogContract:
    """Tests of namespaces, workflows, snapshots, workflow and task executions.

    A part of :class:`~aiflow_core.testing.store_contract.StoreContract`.
    """

    # -- namespaces --------------------------------------------------------------------------

    def test_namespaces(self, store: Store) -> None:
        """Namespaces: add, get, list in name order with paging, update, delete; names are case-sensitive."""
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

    def test_workflows_put_get_list_enable(self, store: Store) -> None:
        """Workflows: insert or update by (namespace, name), look up, list by id with paging, enable."""
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


    def test_put_workflow_in_missing_namespace(self, store: Store) -> None:
        """Storing a workflow in a missing namespace raises NotFoundError naming it."""
        with store.transaction() as tx, pytest.raises(NotFoundError, match="nowhere"):
            tx.put_workflow("nowhere", "wf", "c", T0)


    def test_delete_workflow_cascades(self, store: Store) -> None:
        """Deleting a workflow takes its executions, schedules, triggers, snapshots and state along."""
        with store.transaction() as tx:
            wf = make_workflow(tx, "doomed")
            keep = make_workflow(tx, "kept")
            wfe_id = make_execution(tx, wf.id)
            keep_wfe = make_execution(tx, keep.id)
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
            in_ns = make_workflow(tx, "w", namespace="ns")
            tx.append_events([Event("k", namespace="ns"), Event("k")], T0)
            with pytest.raises(InvalidStateError, match="'ns'"):
                tx.delete_namespace("ns")
            tx.delete_workflow(in_ns.id)
            assert tx.delete_namespace("ns") is True  # its workflows are gone: allowed
            assert [e.namespace for e in tx.read_events(0, 10)] == ["default"]


    # -- snapshots ---------------------------------------------------------------------------

    def test_snapshots(self, store: Store) -> None:
        """Snapshots: stored objects come back byte for byte; one in use by an execution is kept."""
        big = os.urandom(5 * 1024 * 1024)
        with store.transaction() as tx:
            wf = make_workflow(tx)
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
            assert [s.id for s in tx.list_snapshots(wf.id, None, None)] == [s1.id, s2.id, s3.id]
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

    def test_workflow_executions(self, store: Store) -> None:
        """Workflow executions: fields and times round-trip, filters and paging, deletion with state."""
        cause = StartCause(
            kind=StartKind.TRIGGER, event_offset=7, event_key="k", rule_index=2, rule="r"
        )
        east = dt.timezone(dt.timedelta(hours=5, minutes=30))
        with store.transaction() as tx:
            tx.add_namespace("other", {})
            a = make_workflow(tx, "a")
            b = make_workflow(tx, "b", namespace="other")
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
            assert ids(workflow_id=None, newest_first=True) == [e3.id, e2.id, e1.id]
            assert ids(workflow_id=None, newest_first=True, before_id=e3.id, limit=1) == [e2.id]
            assert ids(workflow_id=a.id, before_id=e2.id) == [e1.id]

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


    def test_task_executions(self, store: Store) -> None:
        """Task executions: fields round-trip, listing and paging, updates of the allowed fields only."""
        cause = StartCause(kind=StartKind.RULE, event_offset=42, event_key="ké", rule_index=0, rule="x")
        with store.transaction() as tx:
            wfe = make_execution(tx, make_workflow(tx).id)
            other = make_execution(tx, make_workflow(tx, "other").id)
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
            assert [t.id for t in tx.list_task_executions(wfe, limit=2, newest_first=True)] == [t3.id, t2.id]
            assert tx.list_task_executions(10_000) == []
            assert tx.count_task_executions_by_status() == {TaskStatus.INIT: 2, TaskStatus.QUEUED: 2}
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
            tx.update_task_execution(t2.id, status=TaskStatus.RUNNING)
            with pytest.raises(TypeError, match="task_name"):
                tx.update_task_execution(t2.id, task_name="renamed")  # type: ignore[call-arg]
        with store.transaction() as tx:
            got = tx.get_task_execution(t1.id)
            assert got is not None
            assert got.status is TaskStatus.FAILED and got.try_number == 2
            assert got.begin_date == at(4) and got.end_date == end
            assert got.error == "Traceback ... ü" * 10_000 and got.log_path == "/logs/t1.log"
            assert tx.get_task_execution(t2.id).status is TaskStatus.RUNNING  # type: ignore[union-attr]
