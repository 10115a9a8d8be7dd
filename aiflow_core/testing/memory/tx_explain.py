"""Memory store operations on explanations (what the scheduler evaluated for each event)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from aiflow_core.model.clock import ensure_utc
from aiflow_core.model.explanation import ExplanationRecord
from aiflow_core.testing.memory.tx_base import TxBase, from_json, to_json


class ExplainOps(TxBase):
    """Explanation rows, kept with their payload as JSON text (as a SQL store's JSON column)."""

    def add_explanations(self, records: Sequence[ExplanationRecord]) -> None:
        """Store explanation rows with new ids."""
        for record in records:
            payload = to_json(record.payload, f"explanation of event @ offset {record.event_offset}")
            row = attrs.evolve(record, id=self._next_id("explanation"), payload={},
                               create_time=ensure_utc(record.create_time))
            self._put(self.t.explanations, row.id, (row, payload))

    def list_explanations(
        self, *, event_offset: int | None = None, workflow_execution_id: int | None = None,
        task_name: str | None = None, before_id: int | None = None, limit: int | None = None,
        newest_first: bool = False,
    ) -> list[ExplanationRecord]:
        """Rows matching every filter given, ordered by id."""
        found: list[ExplanationRecord] = []
        for row_id in sorted(self.t.explanations, reverse=newest_first):
            row, payload = self.t.explanations[row_id]
            if (
                (event_offset is None or row.event_offset == event_offset)
                and (workflow_execution_id is None or row.workflow_execution_id == workflow_execution_id)
                and (task_name is None or row.task_name == task_name)
                and (before_id is None or row_id < before_id)
            ):
                found.append(attrs.evolve(row, payload=from_json(payload)))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def delete_explanations_before(self, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` rows created before ``before``, oldest first."""
        before = ensure_utc(before)
        doomed = [i for i in sorted(self.t.explanations) if self.t.explanations[i][0].create_time < before][:limit]
        for row_id in doomed:
            self._pop(self.t.explanations, row_id)
        return len(doomed)
