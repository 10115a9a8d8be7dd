"""The store contract, part: explanations (what the scheduler evaluated for each event)."""

from __future__ import annotations

import pytest

from aiflow_core.errors import StoreDataError
from aiflow_core.model.explanation import ExplanationRecord
from aiflow_core.ports import Store
from aiflow_core.testing.store_contract.support import UTC, at, make_execution, make_workflow


def _record(offset: int, seconds: float, execution: int | None = None, task: str | None = "t",
            workflow: int | None = None, **payload: object) -> ExplanationRecord:
    return ExplanationRecord(
        event_offset=offset, namespace="default", workflow_execution_id=execution, workflow_id=workflow,
        task_name=task, create_time=at(seconds),
        payload={"key": "k", "rules": [{"rule_index": 0, "outcome": "NOT_MET", "state": {"sum": 7}}], **payload},
    )


class ExplainContract:
    """Tests of explanation rows.

    A part of :class:`~aiflow_core.testing.store_contract.StoreContract`.
    """

    def test_explanations_round_trip_filters_and_order(self, store: Store) -> None:
        """Rows come back as stored (JSON payload, aware UTC times), filtered, by id either way, paged by id."""
        with store.transaction() as tx:
            wfe = make_execution(tx, make_workflow(tx).id)
            assert tx.list_explanations() == []
            tx.add_explanations([])
            tx.add_explanations([
                _record(5, 1, wfe, "a", text="Ä\u00e9 \"quoted\"", nested={"x": [1, 2.5, None, True]}),
                _record(5, 1, wfe, "b"),
                _record(6, 2, None, None, workflow=7),
            ])
        with store.transaction() as tx:
            tx.add_explanations([_record(8, 3, wfe, "a")])
        with store.transaction(readonly=True) as tx:
            rows = tx.list_explanations()
            assert [(r.event_offset, r.task_name) for r in rows] == [(5, "a"), (5, "b"), (6, None), (8, "a")]
            ids = [r.id for r in rows]
            assert all(isinstance(i, int) for i in ids) and ids == sorted(set(ids))  # type: ignore[type-var]
            first = rows[0]
            assert first.workflow_execution_id == wfe and first.namespace == "default" and first.workflow_id is None
            assert first.create_time == at(1) and first.create_time.tzinfo is not None
            assert first.create_time.utcoffset() == UTC.utcoffset(None)
            assert first.payload == {
                "key": "k", "rules": [{"rule_index": 0, "outcome": "NOT_MET", "state": {"sum": 7}}],
                "text": "Ä\u00e9 \"quoted\"", "nested": {"x": [1, 2.5, None, True]},
            }
            assert rows[2].workflow_id == 7 and rows[2].task_name is None
            assert [r.event_offset for r in tx.list_explanations(event_offset=5)] == [5, 5]
            mine = tx.list_explanations(workflow_execution_id=wfe, task_name="a", newest_first=True)
            assert [r.event_offset for r in mine] == [8, 5]
            assert [r.event_offset for r in tx.list_explanations(newest_first=True, limit=2)] == [8, 6]
            older = tx.list_explanations(newest_first=True, before_id=ids[2], limit=10)
            assert [r.id for r in older] == [ids[1], ids[0]]
            assert tx.list_explanations(event_offset=99) == []

    def test_explanations_go_with_their_execution_workflow_and_time(self, store: Store) -> None:
        """Deleting an execution or workflow deletes its rows; retention deletes rows older than a time."""
        with store.transaction() as tx:
            workflow = make_workflow(tx).id
            gone, kept = make_execution(tx, workflow), make_execution(tx, make_workflow(tx, "other").id)
            tx.add_explanations([
                _record(1, 0, gone), _record(2, 10, kept), _record(3, 20, kept),
                _record(4, 30, None, None, workflow=workflow), _record(5, 40, None, None, workflow=workflow + 1000),
            ])
        with store.transaction() as tx:
            tx.delete_workflow_execution(gone)
            assert [r.event_offset for r in tx.list_explanations()] == [2, 3, 4, 5]
            tx.delete_workflow(workflow)
            assert [r.event_offset for r in tx.list_explanations()] == [2, 3, 5]
        with store.transaction() as tx:
            assert tx.delete_explanations_before(at(15), 100) == 1
            assert tx.delete_explanations_before(at(15), 100) == 0
            assert tx.delete_explanations_before(at(100), 1) == 1
            assert [r.event_offset for r in tx.list_explanations()] == [5]

    def test_explanations_roll_back_with_their_transaction(self, store: Store) -> None:
        """Rows written in a transaction that fails are not kept."""
        with pytest.raises(RuntimeError, match="boom"), store.transaction() as tx:
            tx.add_explanations([_record(1, 0)])
            raise RuntimeError("boom")
        with store.transaction(readonly=True) as tx:
            assert tx.list_explanations() == []

    def test_explanation_payload_must_be_json(self, store: Store) -> None:
        """A payload that is not JSON (NaN, say) is refused with StoreDataError naming the event; nothing is written."""
        with pytest.raises(StoreDataError, match="offset 1"), store.transaction() as tx:
            tx.add_explanations([_record(1, 0, bad=float("nan"))])
        with store.transaction(readonly=True) as tx:
            assert tx.list_explanations() == []
