"""What every group of client operations shares: the store, the clock and lookups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiflow_core.config import AIFlowConfig
from aiflow_core.errors import InvalidArgumentError, NotFoundError
from aiflow_core.model.clock import Clock
from aiflow_core.model.meta import WorkflowExecutionMeta, WorkflowMeta
from aiflow_core.model.names import check_name
from aiflow_core.ports import Store, StoreTx

CREATE_NAMESPACE_HINT = "create it first (add_namespace, or `aiflow namespace add NAME`)"


def check_limit_offset(limit: int | None, offset: int | None) -> None:
    """Refuse negative or non-integer paging arguments."""
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise InvalidArgumentError(f"{name} must be a non-negative integer or None, got {value!r}")


def check_id(kind: str, value: object) -> int:
    """Return ``value`` as an id, refusing what is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{kind} id must be a positive integer, got {value!r}")
    return value


class ClientBase:
    """State shared by the operation groups."""

    store: Store
    clock: Clock
    home: Path
    blob_spec: Any
    config: AIFlowConfig

    def now(self) -> dt.datetime:
        """The client's current time."""
        return self.clock.now()

    @contextmanager
    def _tx(self, readonly: bool = False) -> Iterator[StoreTx]:
        with self.store.transaction(readonly=readonly) as tx:
            yield tx

    def _written(self) -> None:
        """Called after an operation appended events; an engine wakes its loop here."""

    @staticmethod
    def _workflow(tx: StoreTx, workflow_name: str, namespace: str) -> WorkflowMeta:
        check_name("workflow", workflow_name)
        check_name("namespace", namespace)
        workflow = tx.get_workflow(namespace, workflow_name)
        if workflow is None:
            if tx.get_namespace(namespace) is None:
                raise NotFoundError("namespace", namespace, CREATE_NAMESPACE_HINT)
            raise NotFoundError(
                "workflow", f"{namespace}.{workflow_name}",
                "upload it first (upload_workflows, or `aiflow workflow upload FILE`)",
            )
        return workflow

    @staticmethod
    def _execution(tx: StoreTx, workflow_execution_id: int) -> WorkflowExecutionMeta:
        execution = tx.get_workflow_execution(check_id("workflow execution", workflow_execution_id))
        if execution is None:
            raise NotFoundError("workflow execution", workflow_execution_id)
        return execution

    @staticmethod
    def _namespace_exists(tx: StoreTx, namespace: str) -> None:
        check_name("namespace", namespace)
        if tx.get_namespace(namespace) is None:
            raise NotFoundError("namespace", namespace, CREATE_NAMESPACE_HINT)
