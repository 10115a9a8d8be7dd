"""Explanations: what the scheduler evaluated for an event, and why it acted or did not (pure data).

For every event it applies, the scheduler records, for each task rule and
workflow trigger whose condition expects the event's key, the condition's
result, the action it took or why it took none, and (depending on the
``explanations`` setting, see :class:`ExplainLevel`) the condition state.
One stored row (:class:`ExplanationRecord`) covers one event and one task of
one workflow execution, or one event and the triggers of one workflow.

The query results (:class:`TaskExecutionExplanation`, :class:`TaskExplanation`,
:class:`EventExplanation`) are plain attrs records; ``to_dict()`` gives JSON
values and ``describe()`` readable text.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import attrs

from aiflow_core.model.meta import StartCause


class ExplainLevel(str, Enum):
    """How much the scheduler records about its evaluations (config key and Engine argument ``explanations``).

    ``off`` records nothing; ``decisions`` records every evaluation's result,
    the action taken or why none was, and the condition state after it;
    ``full`` also records the state before each evaluation and the event's value.
    """

    OFF = "off"
    DECISIONS = "decisions"
    FULL = "full"


class Outcome(str, Enum):
    """What came of one rule (or trigger) for one event."""

    #: The rule fired and a new run of the task started.
    STARTED = "STARTED"
    #: The rule fired RESTART: the alive run was asked to stop and a new run started.
    RESTARTED = "RESTARTED"
    #: The rule fired STOP (or RESTART of a run that cannot restart yet): the alive run was asked to stop.
    STOPPED = "STOPPED"
    #: The rule fired START but a run of the task is alive: nothing was done.
    ALIVE = "ALIVE"
    #: The rule fired STOP but no run of the task was alive: nothing was done.
    NOTHING_TO_STOP = "NOTHING_TO_STOP"
    #: The condition was evaluated and is not met.
    NOT_MET = "NOT_MET"
    #: The condition raised (or returned something other than True or False); it counts as not met.
    ERROR = "ERROR"
    #: Not evaluated: an earlier rule of the task fired on this event first.
    EARLIER_RULE_FIRED = "EARLIER_RULE_FIRED"
    #: Not evaluated: the workflow execution is not running (it has ended, or not started yet).
    EXECUTION_NOT_RUNNING = "EXECUTION_NOT_RUNNING"
    #: A workflow trigger fired and started a workflow execution.
    EXECUTION_STARTED = "EXECUTION_STARTED"
    #: A workflow trigger fired but its workflow is disabled: no execution started.
    WORKFLOW_DISABLED = "WORKFLOW_DISABLED"
    #: A workflow trigger fired but its workflow no longer exists: no execution started.
    WORKFLOW_MISSING = "WORKFLOW_MISSING"
    #: Not evaluated: an earlier trigger of the same workflow fired on this event first.
    EARLIER_TRIGGER_FIRED = "EARLIER_TRIGGER_FIRED"


def to_plain(value: Any) -> Any:
    """``value`` as JSON values: attrs records as dicts, enums by value, datetimes in ISO 8601."""
    if attrs.has(type(value)):
        return {f.name: to_plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


class _Plain:
    def to_dict(self) -> dict[str, Any]:
        """The record as JSON values (attrs records as dicts, enums by value, datetimes in ISO 8601)."""
        plain: dict[str, Any] = to_plain(self)
        return plain


@attrs.frozen(kw_only=True)
class ExplanationRecord:
    """One stored row: what one event did to one task of one execution, or to the triggers of one workflow.

    ``task_name`` is None for trigger rows. ``payload`` holds JSON values:
    ``{"key": event key, "workflow_name": ..., "rules": [RuleEvaluation.to_dict(), ...]}``.
    ``id`` is given by the store.
    """

    id: int | None = None
    event_offset: int
    namespace: str
    workflow_execution_id: int | None = None
    workflow_id: int | None = None
    task_name: str | None = None
    create_time: dt.datetime
    payload: dict[str, Any]


@attrs.frozen(kw_only=True)
class RuleEvaluation(_Plain):
    """One rule of a task, or one workflow trigger, meeting one event.

    ``met`` is None when the condition was not evaluated (``outcome`` says
    why) or raised (``error``). ``state`` is the condition state after the
    evaluation (None when the condition keeps none or it was not read);
    ``state_before`` is only recorded at level ``full``.
    """

    rule_index: int | None = None
    trigger_id: int | None = None
    condition: str
    action: str | None = None
    met: bool | None = None
    outcome: Outcome
    reason: str
    error: str | None = None
    task_execution_id: int | None = None
    workflow_execution_id: int | None = None
    state: dict[str, Any] | None = None
    state_before: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuleEvaluation:
        """Inverse of :meth:`to_dict`."""
        fields = {f.name for f in attrs.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["outcome"] = Outcome(values["outcome"])
        return cls(**values)

    def describe(self) -> str:
        """One line, e.g. ``rule #0 (event 'key') -> START: met; STARTED task execution 4``."""
        if self.trigger_id is not None:
            who = f"trigger {self.trigger_id} ({self.condition})"
        else:
            who = f"rule #{self.rule_index} ({self.condition}) -> {self.action}"
        met = "not evaluated" if self.met is None and self.error is None else (
            "raised" if self.met is None else "met" if self.met else "not met"
        )
        line = f"{who}: {met}; {self.outcome.value}: {self.reason}"
        if self.error:
            line += f" [{self.error.splitlines()[-1] if self.error.strip() else self.error}]"
        if self.state_before is not None:
            line += f"; state before {self.state_before}"
        if self.state is not None:
            line += f"; state {self.state}"
        return line


@attrs.frozen(kw_only=True)
class Evaluation(_Plain):
    """What one event did to one task of one workflow execution (or, with no task, to one workflow's triggers)."""

    id: int
    event_offset: int
    event_key: str
    namespace: str
    time: dt.datetime
    workflow_execution_id: int | None = None
    workflow_id: int | None = None
    workflow_name: str | None = None
    task_name: str | None = None
    event_value: str | None = None
    rules: tuple[RuleEvaluation, ...] = ()

    @classmethod
    def from_record(cls, record: ExplanationRecord) -> Evaluation:
        """The evaluation a stored row holds."""
        payload = record.payload
        return cls(
            id=record.id or 0, event_offset=record.event_offset, event_key=str(payload.get("key", "")),
            namespace=record.namespace, time=record.create_time,
            workflow_execution_id=record.workflow_execution_id, workflow_id=record.workflow_id,
            workflow_name=payload.get("workflow_name"), task_name=record.task_name,
            event_value=payload.get("value"),
            rules=tuple(RuleEvaluation.from_dict(rule) for rule in payload.get("rules", ())),
        )

    def describe(self) -> str:
        """A heading line naming the event and the task (or triggers), then one line per rule."""
        if self.task_name is not None:
            what = f"task {self.task_name!r} of workflow execution {self.workflow_execution_id}"
        else:
            what = f"triggers of workflow {self.namespace}.{self.workflow_name}"
        head = f"event {self.event_key!r} @ offset {self.event_offset} ({self.time:%Y-%m-%d %H:%M:%S}) -> {what}"
        return "\n".join([head, *(f"  {rule.describe()}" for rule in self.rules)])


@attrs.frozen(kw_only=True)
class EventInfo(_Plain):
    """An event of the log, as explanations show it."""

    offset: int
    key: str
    value: str | None
    namespace: str
    kind: str
    sender: str | None
    workflow_execution_id: int | None
    time: dt.datetime | None

    def describe(self) -> str:
        """One line: key, offset, kind, sender and value."""
        line = f"event {self.key!r} @ offset {self.offset} ({self.kind}"
        line += f", from {self.sender}" if self.sender else ""
        line += f", workflow execution {self.workflow_execution_id}" if self.workflow_execution_id else ""
        line += ")"
        if self.value is not None:
            line += f" value {self.value[:80]!r}"
        return line


@attrs.frozen(kw_only=True)
class EventExplanation(_Plain):
    """Everything one event did: each task rule and trigger that expected it, and what came of it.

    ``event`` is None when the event is no longer in the log (history
    retention pruned it). ``recorded`` is False when no evaluation was
    recorded for it (no rule expects its key, explanations are ``off``, or
    they were pruned).
    """

    offset: int
    event: EventInfo | None
    evaluations: tuple[Evaluation, ...]
    recorded: bool

    def describe(self) -> str:
        """Readable text: the event, then every evaluation."""
        lines = [self.event.describe() if self.event else f"event @ offset {self.offset} (no longer in the log)"]
        if not self.evaluations:
            lines.append("  no rule or trigger evaluation recorded for it")
        lines += [f"  {line}" for e in self.evaluations for line in e.describe().splitlines()]
        return "\n".join(lines)


@attrs.frozen(kw_only=True)
class CauseLink(_Plain):
    """One step of the chain that led to a task run: the run, why it started, and the event and rule behind it.

    For the execution's own start the link has no task run
    (``task_execution_id`` None) and ``cause`` is the execution's cause.
    """

    task_execution_id: int | None = None
    task_name: str | None = None
    sequence_number: int | None = None
    cause: StartCause | None = None
    event: EventInfo | None = None
    evaluation: RuleEvaluation | None = None
    text: str


@attrs.frozen(kw_only=True)
class TaskExecutionExplanation(_Plain):
    """Why a task run happened: the chain of runs, events and rules back to the execution's start.

    ``chain[0]`` is the run asked about; each next link is what caused the
    event of the one before (the run that sent it or whose status it
    reports); the last link is the start of the workflow execution.
    """

    task_execution_id: int
    workflow_execution_id: int
    task_name: str
    chain: tuple[CauseLink, ...]

    def describe(self) -> str:
        """Readable text: one indented step per link."""
        return "\n".join(("  " * min(depth, 8)) + ("<- " if depth else "") + link.text
                         for depth, link in enumerate(self.chain))


@attrs.frozen(kw_only=True)
class RuleStatus(_Plain):
    """A rule of a task as it stands: what it waits for now, its state, and its last evaluation."""

    rule_index: int
    condition: str
    action: str
    expects: tuple[str, ...]
    waiting_for: tuple[str, ...] = ()
    state: dict[str, Any] | None = None
    last_evaluation: RuleEvaluation | None = None
    last_event_offset: int | None = None
    last_event_key: str | None = None
    last_time: dt.datetime | None = None

    def describe(self) -> str:
        """Readable lines: the rule, what it waits for, its state and last evaluation."""
        lines = [f"rule #{self.rule_index}: {self.condition} -> {self.action} (expects {', '.join(self.expects)})"]
        if self.waiting_for:
            lines.append(f"  waiting for: {'; '.join(self.waiting_for)}")
        if self.state:
            lines.append(f"  state: {self.state}")
        if self.last_evaluation is None:
            lines.append("  never evaluated in this execution (no event with an expected key yet)")
        else:
            lines.append(
                f"  last evaluated on event {self.last_event_key!r} @ offset {self.last_event_offset}: "
                f"{'met' if self.last_evaluation.met else 'not met' if self.last_evaluation.met is False else 'n/a'}; "
                f"{self.last_evaluation.outcome.value}: {self.last_evaluation.reason}"
            )
        return "\n".join(lines)


@attrs.frozen(kw_only=True)
class TaskExplanation(_Plain):
    """Why a task of a workflow execution runs, ran, or has not started: its rules and what each waits for.

    ``summary`` is the one-line answer; ``rules`` holds each rule of the task
    with what it is waiting for now (for a ``MeetAllCondition``, the parts
    still missing; for a condition keeping state, that state) and its last
    evaluation; ``recent`` the last recorded evaluations, newest first.
    """

    workflow_execution_id: int
    namespace: str
    workflow_name: str
    execution_status: str
    task_name: str
    task_status: str | None
    latest_task_execution_id: int | None
    summary: str
    rules: tuple[RuleStatus, ...] = ()
    recent: tuple[Evaluation, ...] = ()

    def describe(self) -> str:
        """Readable text: the summary, each rule, then the recent evaluations."""
        lines = [
            f"task {self.task_name!r} of workflow execution {self.workflow_execution_id} "
            f"({self.namespace}.{self.workflow_name}, {self.execution_status})",
            self.summary,
        ]
        lines += [f"  {line}" for rule in self.rules for line in rule.describe().splitlines()]
        if self.recent:
            lines.append("recent evaluations (newest first):")
            lines += [f"  {line}" for e in self.recent for line in e.describe().splitlines()]
        return "\n".join(lines)
