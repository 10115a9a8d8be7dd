"""Client operations that explain the scheduler: why a task run started, why a task has not, what an event did.

They read what the scheduler recorded for each event it applied (see
:mod:`aiflow_core.model.explanation`; how much is recorded is the
``explanations`` setting) together with the task executions, the event log
and the current condition state.
"""

from __future__ import annotations

from typing import Any

from aiflow_core import serialization
from aiflow_core.api.base import ClientBase, check_id
from aiflow_core.errors import InvalidArgumentError, NotFoundError
from aiflow_core.model.action import TaskAction
from aiflow_core.model.context import RuleContext
from aiflow_core.model.event import Event
from aiflow_core.model.explanation import (
    CauseLink,
    Evaluation,
    EventExplanation,
    EventInfo,
    Outcome,
    RuleEvaluation,
    RuleStatus,
    TaskExecutionExplanation,
    TaskExplanation,
)
from aiflow_core.model.meta import StartKind, TaskExecutionMeta, WorkflowExecutionMeta
from aiflow_core.model.status import WorkflowStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.ports import EventFilter, StoreTx
from aiflow_core.scheduler.batch import rule_scope
from aiflow_core.scheduler.explain import render_state
from aiflow_core.scheduler.waiting import waiting_for

#: Most links followed back from a task run towards its execution's start.
CHAIN_LIMIT = 50
#: Most explanation rows read to find the last evaluation of each rule of a task.
SCAN_LIMIT = 1000
_PAGE = 100


def _check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}")
    return limit


def _check_offset(offset: object) -> int:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
        raise InvalidArgumentError(f"event offset must be a positive integer, got {offset!r}")
    return offset


def _event(tx: StoreTx, offset: int | None) -> Event | None:
    """The event at ``offset`` (any kind), or None if it is not in the log."""
    if offset is None:
        return None
    found = tx.list_events(EventFilter(begin_offset=offset - 1, kinds=None), limit=1)
    return found[0] if found and found[0].offset == offset else None


def _info(event: Event | None) -> EventInfo | None:
    if event is None or event.offset is None:
        return None
    return EventInfo(
        offset=event.offset, key=event.key, value=event.value, namespace=event.namespace, kind=event.kind.value,
        sender=event.sender, workflow_execution_id=event.workflow_execution_id, time=event.create_time,
    )


def _event_text(info: EventInfo | None, offset: int | None, key: str | None) -> str:
    return info.describe() if info is not None else f"event {key!r} @ offset {offset} (no longer in the log)"


def _run_text(te: TaskExecutionMeta) -> str:
    return (f"task {te.task_name!r} run {te.id} (sequence {te.sequence_number}, try {te.try_number}, "
            f"{te.status.value})")


def _rule_evaluations(
    tx: StoreTx, offset: int, execution_id: int, task_name: str | None
) -> list[RuleEvaluation]:
    rows = tx.list_explanations(event_offset=offset, workflow_execution_id=execution_id)
    return [rule for row in rows if row.task_name == task_name for rule in Evaluation.from_record(row).rules]


class ExplainOps(ClientBase):
    """Explanations of the scheduler's decisions."""

    def explain_task_execution(self, task_execution_id: int) -> TaskExecutionExplanation:
        """Why a task run started: the chain of events and rules that led to it, back to its execution's start.

        The first link is the run itself and the rule (with its condition
        state) or other cause that started it; each next link is the run that
        sent the event of the link before, or whose status change it was; the
        last link is the start of the workflow execution (by a user, a
        schedule or a workflow trigger). Raises NotFoundError for an unknown id.
        """
        check_id("task execution", task_execution_id)
        with self._tx(readonly=True) as tx:
            run = tx.get_task_execution(task_execution_id)
            if run is None:
                raise NotFoundError("task execution", task_execution_id, "list them with aiflow task-execution list")
            execution = self._execution(tx, run.workflow_execution_id)
            chain: list[CauseLink] = []
            seen: set[int] = set()
            current: TaskExecutionMeta | None = run
            while current is not None and current.id not in seen and len(chain) < CHAIN_LIMIT:
                seen.add(current.id)
                link, current = self._run_link(tx, current)
                chain.append(link)
            chain.append(self._execution_link(tx, execution))
        return TaskExecutionExplanation(
            task_execution_id=run.id, workflow_execution_id=run.workflow_execution_id, task_name=run.task_name,
            chain=tuple(chain),
        )

    def _run_link(self, tx: StoreTx, run: TaskExecutionMeta) -> tuple[CauseLink, TaskExecutionMeta | None]:
        """The link of one run and the run behind its cause's event (None when the chain ends at the execution)."""
        cause = run.cause
        event = _event(tx, cause.event_offset)
        info = _info(event)
        evaluation: RuleEvaluation | None = None
        previous: TaskExecutionMeta | None = None
        if cause.kind is StartKind.RULE and cause.event_offset is not None:
            evaluation = next((r for r in _rule_evaluations(tx, cause.event_offset, run.workflow_execution_id,
                                                            run.task_name) if r.rule_index == cause.rule_index), None)
            text = (f"{_run_text(run)} started by rule #{cause.rule_index} ({cause.rule}) on "
                    f"{_event_text(info, cause.event_offset, cause.event_key)}")
            if evaluation is not None and evaluation.state is not None:
                text += f"; condition state {evaluation.state}"
            sender_run = (event.context or {}).get("task_execution_id") if event is not None else None
            if isinstance(sender_run, int):
                previous = tx.get_task_execution(sender_run)
        elif cause.kind is StartKind.RETRY:
            text = f"{_run_text(run)} is a retry after try {run.try_number - 1} failed"
            previous = next((te for te in tx.list_task_executions(run.workflow_execution_id, task_name=run.task_name)
                             if te.sequence_number == run.sequence_number and te.try_number == run.try_number - 1),
                            None)
        elif cause.kind is StartKind.WORKFLOW_START:
            text = f"{_run_text(run)} started with its workflow execution (the task has no START rule)"
        elif cause.kind is StartKind.MANUAL:
            text = f"{_run_text(run)} started by a user ({_event_text(info, cause.event_offset, cause.event_key)})"
        elif cause.kind is StartKind.PERIODIC:
            text = f"{_run_text(run)} started by its periodic schedule " \
                   f"({_event_text(info, cause.event_offset, cause.event_key)})"
        else:
            text = f"{_run_text(run)} started by {cause.describe()}"
        link = CauseLink(
            task_execution_id=run.id, task_name=run.task_name, sequence_number=run.sequence_number, cause=cause,
            event=info, evaluation=evaluation, text=text,
        )
        return link, previous

    def _execution_link(self, tx: StoreTx, execution: WorkflowExecutionMeta) -> CauseLink:
        cause = execution.cause
        name = f"workflow execution {execution.id} of {execution.namespace}.{execution.workflow_name}"
        if cause is None or cause.kind is StartKind.MANUAL:
            return CauseLink(cause=cause, text=f"{name} started by a user (start_workflow_execution)")
        info = _info(_event(tx, cause.event_offset))
        evaluation: RuleEvaluation | None = None
        if cause.kind is StartKind.TRIGGER and cause.event_offset is not None:
            evaluation = next((r for r in _rule_evaluations(tx, cause.event_offset, execution.id, None)
                               if r.outcome is Outcome.EXECUTION_STARTED), None)
            text = f"{name} started by a workflow trigger ({cause.rule}) on " \
                   f"{_event_text(info, cause.event_offset, cause.event_key)}"
        elif cause.kind is StartKind.SCHEDULE:
            text = f"{name} started by a schedule ({_event_text(info, cause.event_offset, cause.event_key)})"
        else:
            text = f"{name} started by {cause.describe()}"
        return CauseLink(cause=cause, event=info, evaluation=evaluation, text=text)

    def explain_task(self, task_name: str, workflow_execution_id: int, limit: int = 10) -> TaskExplanation:
        """Why a task of a workflow execution runs, ran, or has not started ("why is it not running?").

        Gives the task's latest run, and for each of its rules what it is
        waiting for now (for a ``MeetAllCondition`` the events or task
        statuses still missing; for a condition that keeps state, that state,
        e.g. the sum so far) and its last recorded evaluation; ``recent``
        holds the ``limit`` newest evaluations of the task's rules. Raises
        NotFoundError for an unknown execution or task.
        """
        _check_limit(limit)
        with self._tx(readonly=True) as tx:
            execution = self._execution(tx, workflow_execution_id)
            workflow = self._workflow_of(tx, execution)
            if task_name not in workflow.tasks:
                raise NotFoundError(
                    "task", task_name,
                    f"workflow {execution.namespace}.{execution.workflow_name} has tasks {sorted(workflow.tasks)}",
                )
            latest = {te.task_name: te for te in tx.latest_task_executions(execution.id)}
            rules = workflow.rules.get(task_name, [])
            cells = [self._state(tx, rule_scope(execution.id, task_name, i)) for i in range(len(rules))]
            rows = self._recent_rows(tx, execution.id, task_name, len(rules), limit)
        statuses = []
        last: dict[int, tuple[RuleEvaluation, Evaluation]] = {}
        for row in rows:
            for rule_eval in row.rules:
                if rule_eval.rule_index is not None and rule_eval.rule_index not in last:
                    last[rule_eval.rule_index] = (rule_eval, row)
        for index, rule in enumerate(rules):
            context = RuleContext(
                cells[index], lambda name: latest[name].status if name in latest else None, execution.id, workflow
            )
            found = last.get(index)
            statuses.append(RuleStatus(
                rule_index=index, condition=rule.condition.describe(), action=rule.action.value,
                expects=tuple(rule.condition.expect_event_keys),
                waiting_for=tuple(waiting_for(rule.condition, context)), state=render_state(cells[index]),
                last_evaluation=found[0] if found else None,
                last_event_offset=found[1].event_offset if found else None,
                last_event_key=found[1].event_key if found else None, last_time=found[1].time if found else None,
            ))
        run = latest.get(task_name)
        return TaskExplanation(
            workflow_execution_id=execution.id, namespace=execution.namespace, workflow_name=execution.workflow_name,
            execution_status=execution.status.value, task_name=task_name,
            task_status=run.status.value if run else None, latest_task_execution_id=run.id if run else None,
            summary=_summary(execution, run, statuses), rules=tuple(statuses), recent=tuple(rows[:limit]),
        )

    def _workflow_of(self, tx: StoreTx, execution: WorkflowExecutionMeta) -> Workflow:
        frame = tx.get_snapshot_object(execution.snapshot_id)
        if frame is None:
            raise NotFoundError("workflow snapshot", execution.snapshot_id, "it was deleted")
        workflow: Workflow = serialization.loads(frame)
        return workflow

    @staticmethod
    def _state(tx: StoreTx, scope: str) -> dict[str, Any]:
        """The condition state of a scope; values that cannot be unpickled are left out."""
        cell: dict[str, Any] = {}
        for name, frame in tx.load_state(scope).items():
            try:
                cell[name] = serialization.loads(frame)
            except Exception:  # the scheduler quarantines such values; they are not shown here
                continue
        return cell

    @staticmethod
    def _recent_rows(tx: StoreTx, execution_id: int, task_name: str, rule_count: int, limit: int) -> list[Evaluation]:
        """The newest evaluations of a task: ``limit`` of them, and older ones back to the last of each rule,
        reading at most :data:`SCAN_LIMIT` rows."""
        rows: list[Evaluation] = []
        seen: set[int] = set()
        before: int | None = None
        for _ in range(0, SCAN_LIMIT, _PAGE):
            page = tx.list_explanations(workflow_execution_id=execution_id, task_name=task_name, before_id=before,
                                        limit=_PAGE, newest_first=True)
            for record in page:
                evaluation = Evaluation.from_record(record)
                if len(rows) < limit or any(r.rule_index not in seen for r in evaluation.rules):
                    rows.append(evaluation)
                seen.update(r.rule_index for r in evaluation.rules if r.rule_index is not None)
            if len(page) < _PAGE or (len(rows) >= limit and len(seen) >= rule_count):
                break
            before = page[-1].id
        return rows

    def explain_event(self, offset: int) -> EventExplanation:
        """Everything one event did: every task rule and workflow trigger that expected its key, and what came of it.

        Raises NotFoundError when the log holds no event at ``offset`` and
        nothing was recorded for it.
        """
        _check_offset(offset)
        with self._tx(readonly=True) as tx:
            event = _event(tx, offset)
            rows = tx.list_explanations(event_offset=offset)
            if event is None and not rows:
                raise NotFoundError(
                    "event", offset, f"the log ends at offset {tx.max_offset()}; the history retention prunes old ones"
                )
        return EventExplanation(
            offset=offset, event=_info(event), evaluations=tuple(Evaluation.from_record(r) for r in rows),
            recorded=bool(rows),
        )

    def list_evaluations(
        self, *, workflow_execution_id: int | None = None, task_name: str | None = None,
        event_offset: int | None = None, before_id: int | None = None, limit: int = 100,
    ) -> list[Evaluation]:
        """Recorded evaluations matching every filter given, newest first, at most ``limit``.

        For paging, pass the ``id`` of the last evaluation of a page as
        ``before_id`` to get the next (older) page.
        """
        _check_limit(limit)
        if workflow_execution_id is not None:
            check_id("workflow execution", workflow_execution_id)
        if event_offset is not None:
            _check_offset(event_offset)
        if before_id is not None:
            check_id("evaluation", before_id)
        with self._tx(readonly=True) as tx:
            rows = tx.list_explanations(
                event_offset=event_offset, workflow_execution_id=workflow_execution_id, task_name=task_name,
                before_id=before_id, limit=limit, newest_first=True,
            )
        return [Evaluation.from_record(r) for r in rows]


def _summary(execution: WorkflowExecutionMeta, run: TaskExecutionMeta | None, rules: list[RuleStatus]) -> str:
    """The one-line answer to "why is this task (not) running?"."""
    if execution.status is WorkflowStatus.INIT:
        return "the workflow execution has not started yet: it starts once an engine serving the database sees it"
    if execution.status.is_final:
        ran = f"the task's last run {run.id} ended {run.status.value}" if run else "the task never ran"
        return f"the workflow execution is {execution.status.value}: its rules are no longer evaluated; {ran}"
    if run is not None and not run.status.is_final:
        return f"the task is {run.status.value}: run {run.id} started by {run.cause.describe()}"
    starting = [r for r in rules if r.action != TaskAction.STOP.value]
    if not starting:
        if run is None:
            return "the task has no START rule: it starts with the workflow execution"
        return f"the task's last run {run.id} ended {run.status.value}; no rule of the task starts it again"
    waits = "; ".join(f"rule #{r.rule_index} waits for {' and '.join(r.waiting_for)}" for r in starting)
    if run is None:
        return f"the task has not started: {waits}"
    return f"the task's last run {run.id} ended {run.status.value}; not started again: {waits}"
