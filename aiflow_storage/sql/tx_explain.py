"""Store operations on explanations (what the scheduler evaluated for each event)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from aiflow_core.model.explanation import ExplanationRecord
from aiflow_core.storable import check_json
from aiflow_storage.sql import schema as t
from aiflow_storage.sql.prepared import JsonTextInsert
from aiflow_storage.sql.tx_base import TxBase

_c = t.explanations.c
#: Binds the payload as the JSON text check_json made of it.
_INSERT = JsonTextInsert(t.explanations, "payload")


def _record(row: Any) -> ExplanationRecord:
    return ExplanationRecord(
        id=row.id, event_offset=row.event_offset, namespace=row.namespace,
        workflow_execution_id=row.workflow_execution_id, workflow_id=row.workflow_id, task_name=row.task_name,
        create_time=row.create_time, payload=row.payload,
    )


class ExplainOps(TxBase):
    """Explanation rows."""

    def add_explanations(self, records: Sequence[ExplanationRecord]) -> None:
        """Insert explanation rows in one statement; StoreDataError if a payload is not JSON."""
        if not records:
            return
        _INSERT.executemany(self.conn, [
            {
                "event_offset": r.event_offset, "namespace": r.namespace,
                "workflow_execution_id": r.workflow_execution_id, "workflow_id": r.workflow_id,
                "task_name": r.task_name, "create_time": r.create_time,
                "payload": check_json(r.payload, f"explanation of event @ offset {r.event_offset}"),
            }
            for r in records
        ])

    def list_explanations(
        self, *, event_offset: int | None = None, workflow_execution_id: int | None = None,
        task_name: str | None = None, before_id: int | None = None, limit: int | None = None,
        newest_first: bool = False,
    ) -> list[ExplanationRecord]:
        """Rows matching every filter given, ordered by id."""
        query = sa.select(t.explanations)
        if event_offset is not None:
            query = query.where(_c.event_offset == event_offset)
        if workflow_execution_id is not None:
            query = query.where(_c.workflow_execution_id == workflow_execution_id)
        if task_name is not None:
            query = query.where(_c.task_name == task_name)
        if before_id is not None:
            query = query.where(_c.id < before_id)
        query = query.order_by(_c.id.desc() if newest_first else _c.id)
        if limit is not None:
            query = query.limit(limit)
        return [_record(row) for row in self.conn.execute(query)]

    def delete_explanations_before(self, before: dt.datetime, limit: int) -> int:
        """Delete up to ``limit`` rows created before ``before``, oldest first."""
        ids = [
            row.id for row in self.conn.execute(
                sa.select(_c.id).where(_c.create_time < before).order_by(_c.id).limit(limit)
            )
        ]
        if ids:
            self.conn.execute(sa.delete(t.explanations).where(_c.id.in_(ids)))
        return len(ids)
