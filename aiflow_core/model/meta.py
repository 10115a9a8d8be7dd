"""Meta objects: what the client returns about stored things.

Plain attrs records with the fields of the original AIFlow metadata classes.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import attrs

from aiflow_core.model.execution_type import ExecutionType
from aiflow_core.model.status import TaskStatus, WorkflowStatus


@attrs.frozen(kw_only=True)
class NamespaceMeta:
    """A namespace: isolates workflows and events."""

    name: str
    properties: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class WorkflowMeta:
    """A stored workflow; ``snapshot_id`` is its latest snapshot."""

    id: int
    name: str
    namespace: str
    content: str
    is_enabled: bool
    create_time: dt.datetime
    update_time: dt.datetime
    snapshot_id: int | None = None


@attrs.frozen(kw_only=True)
class WorkflowSnapshotMeta:
    """One uploaded version of a workflow: its archive ``uri`` and SHA-256 ``signature``."""

    id: int
    workflow_id: int
    uri: str
    signature: str
    create_time: dt.datetime


class StartKind(str, Enum):
    """Why an execution started."""

    MANUAL = "MANUAL"
    RULE = "RULE"
    PERIODIC = "PERIODIC"
    WORKFLOW_START = "WORKFLOW_START"
    RETRY = "RETRY"
    SCHEDULE = "SCHEDULE"
    TRIGGER = "TRIGGER"


@attrs.frozen(kw_only=True)
class StartCause:
    """Why an execution started: the kind, and for events the offset, key and rule."""

    kind: StartKind
    event_offset: int | None = None
    event_key: str | None = None
    rule_index: int | None = None
    rule: str | None = None

    def describe(self) -> str:
        """One line for people, e.g. ``rule #0 (event 'key') on event 'key' @ offset 7``."""
        if self.kind is StartKind.RULE:
            return (
                f"rule #{self.rule_index} ({self.rule}) on event {self.event_key!r} "
                f"@ offset {self.event_offset}"
            )
        if self.event_offset is not None:
            return f"{self.kind.value.lower()} (event {self.event_key!r} @ offset {self.event_offset})"
        return self.kind.value.lower()

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "kind": self.kind.value,
            "event_offset": self.event_offset,
            "event_key": self.event_key,
            "rule_index": self.rule_index,
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StartCause:
        """Inverse of :meth:`as_dict`."""
        return cls(
            kind=StartKind(data["kind"]),
            event_offset=data.get("event_offset"),
            event_key=data.get("event_key"),
            rule_index=data.get("rule_index"),
            rule=data.get("rule"),
        )


@attrs.frozen(kw_only=True)
class WorkflowExecutionMeta:
    """An execution of a workflow."""

    id: int
    workflow_id: int
    workflow_name: str
    namespace: str
    snapshot_id: int
    execution_type: ExecutionType
    status: WorkflowStatus
    begin_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    cause: StartCause | None = None


@attrs.frozen(kw_only=True)
class TaskExecutionMeta:
    """An execution (one sequence number, one try) of a task."""

    id: int
    workflow_execution_id: int
    task_name: str
    sequence_number: int
    try_number: int
    execution_type: ExecutionType
    status: TaskStatus
    cause: StartCause
    begin_date: dt.datetime | None = None
    end_date: dt.datetime | None = None
    error: str | None = None
    log_path: str | None = None


@attrs.frozen(kw_only=True)
class WorkflowScheduleMeta:
    """A periodic schedule of a workflow."""

    id: int
    workflow_id: int
    expression: str
    is_paused: bool
    create_time: dt.datetime
    next_fire_time: dt.datetime | None = None
    last_fire_time: dt.datetime | None = None
    misfire_policy: str = "coalesce"


@attrs.frozen(kw_only=True)
class WorkflowTriggerMeta:
    """An event trigger of a workflow; ``rule`` is the WorkflowRule."""

    id: int
    workflow_id: int
    rule: Any
    is_paused: bool
    create_time: dt.datetime
