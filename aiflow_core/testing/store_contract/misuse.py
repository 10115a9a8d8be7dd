"""The store contract, part: the same misuse gives the same typed error on every backend.

What a store cannot keep is refused with a :class:`~aiflow_core.errors.StoreError`
subclass, never a driver's exception, and the transaction leaves nothing behind.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest

from aiflow_core.errors import StoreConflictError, StoreDataError, StoreError
from aiflow_core.model.event import Event
from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import EventFilter, Store
from aiflow_core.storable import EVENT_FIELD_LIMITS
from aiflow_core.testing.store_contract.support import MANUAL, T0, at


class MisuseContract:
    """Tests of the typed errors of values and references a store refuses.

    A part of :class:`~aiflow_core.testing.store_contract.StoreContract`.
    """

    def _log_is_empty(self, store: Store) -> None:
        with store.transaction() as tx:
            assert tx.max_offset() == 0 and tx.list_events(EventFilter(kinds=None)) == []

    def test_a_reference_to_a_missing_row_is_a_conflict(self, store: Store) -> None:
        """A task execution of a workflow execution that does not exist: StoreConflictError, nothing kept."""
        with pytest.raises(StoreConflictError), store.transaction() as tx:
            tx.append_events([Event("before")], T0)
            tx.add_task_execution(999, "t", 1, 1, ExecutionType.MANUAL, TaskStatus.QUEUED, MANUAL, at(1))
        self._log_is_empty(store)
        assert issubclass(StoreConflictError, StoreError) and issubclass(StoreError, RuntimeError)

    @pytest.mark.parametrize(
        "context", [{"x": object()}, {"x": math.nan}, {"x": {1, 2}}], ids=["object", "nan", "set"]
    )
    def test_a_context_that_is_not_json_is_refused(self, store: Store, context: dict[str, object]) -> None:
        """Event contexts hold JSON only (no NaN): StoreDataError, a ValueError, nothing kept."""
        with pytest.raises(StoreDataError, match="JSON"), store.transaction() as tx:
            tx.append_events([Event("ok"), Event("bad", context=context)], T0)
        self._log_is_empty(store)

    @pytest.mark.parametrize("field", sorted(EVENT_FIELD_LIMITS))
    def test_an_over_long_event_field_is_refused_naming_the_limit(self, store: Store, field: str) -> None:
        """A text field longer than its column: StoreDataError naming the length and the limit."""
        limit = EVENT_FIELD_LIMITS[field]
        changes: dict[str, Any] = {field: "x" * (limit + 1)}
        event = attrs.evolve(Event("k", "v", sender="s", idempotency_key="i"), **changes)
        expected = f"{limit + 1} characters long; the limit is {limit}"
        with pytest.raises(StoreDataError, match=expected), store.transaction() as tx:
            tx.append_events([event], T0)
        self._log_is_empty(store)
        at_limit = Event("k", "v", sender="s" * EVENT_FIELD_LIMITS["sender"], idempotency_key="i" * 255)
        with store.transaction() as tx:
            [stored] = tx.append_events([at_limit], T0)
        assert stored.sender == at_limit.sender

    @pytest.mark.parametrize("field", ["key", "value", "sender"])
    def test_a_nul_character_is_refused_on_every_backend(self, store: Store, field: str) -> None:
        """PostgreSQL text cannot hold NUL, so no store takes it: StoreDataError, nothing kept."""
        changes: dict[str, Any] = {field: "a\x00b"}
        event = attrs.evolve(Event("k", "v", sender="s"), **changes)
        with pytest.raises(StoreDataError, match="NUL"), store.transaction() as tx:
            tx.append_events([event], T0)
        self._log_is_empty(store)

    def test_namespace_properties_that_are_not_json_are_refused(self, store: Store) -> None:
        """Properties hold JSON only: StoreDataError, and the namespace is not added."""
        with pytest.raises(StoreDataError), store.transaction() as tx:
            tx.add_namespace("ns", {"x": object()})
        with store.transaction() as tx:
            assert tx.get_namespace("ns") is None
