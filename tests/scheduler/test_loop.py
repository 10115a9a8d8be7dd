"""The scheduler loop applying batches on a memory store, with no executor: commands are only recorded.

Task statuses come back the way an executor reports them (``queue_report``),
so each test decides what the tasks do and when.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from aiflow_core.client import Client
from aiflow_core.errors import LeaseLostError
from aiflow_core.model.event import Event, EventKind
from aiflow_core.model.internal.events import TaskReport
from aiflow_core.model.meta import TaskExecutionMeta
from aiflow_core.model.status import TaskStatus
from aiflow_core.ports import Command, StartTask, StopTask, StoreTx
from aiflow_core.scheduler.loop import POISON_ATTEMPTS, SchedulerLoop
from aiflow_core.testing import FakeClock
from aiflow_core.testing.memory import MemoryStore

CHAIN = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name="chain") as chain:
    first = BashOperator(name="first", bash_command="true")
    second = BashOperator(name="second", bash_command="true")
    second.start_after(first)

with Workflow(name="listener") as listener:
    task = BashOperator(name="t", bash_command="true")
    task.action_on_event_received(TaskAction.START, "go")

with Workflow(name="flaky") as flaky:
    BashOperator(name="download", bash_command="false", retries=1, retry_delay=60)
"""


@attrs.define
class Harness:
    """A loop on a memory store, a client to act on it and the commands the loop gave."""

    store: MemoryStore
    client: Client
    clock: FakeClock
    loop: SchedulerLoop
    commands: list[tuple[type[Command], int]]

    def settle(self) -> int:
        """Step until a step finds nothing more to do; returns how many steps ran."""
        steps = 0
        while True:
            result = self.loop.step()
            steps += 1
            if not result.more:
                return steps

    def tasks(self, execution_id: int) -> list[TaskExecutionMeta]:
        return self.client.list_task_executions(execution_id)

    def report(
        self, te: TaskExecutionMeta, status: TaskStatus, error: str | None = None, epoch: int | None = None
    ) -> None:
        """Report a status of a task execution, as an executor would."""
        execution = self.client.get_workflow_execution(te.workflow_execution_id)
        assert execution is not None
        self.loop.queue_report(
            TaskReport(
                namespace=execution.namespace, workflow_name=execution.workflow_name,
                workflow_execution_id=execution.id, task_execution_id=te.id, task_name=te.task_name,
                sequence_number=te.sequence_number, status=status, error=error, epoch=epoch,
            ).to_event()
        )

    def checkpoint(self) -> int:
        with self.store.transaction() as tx:
            return tx.get_checkpoint(self.loop.name)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    store = MemoryStore()
    clock = FakeClock()
    client = Client(store=store, clock=clock, blob=str(tmp_path / "blob"))
    commands: list[tuple[type[Command], int]] = []

    def dispatch(tx: StoreTx, given: list[Command]) -> Callable[[], None]:
        return lambda: commands.extend((type(c), c.task_execution_id) for c in given)

    loop = SchedulerLoop(store=store, clock=clock, log_dir=tmp_path / "logs", dispatch=dispatch)
    workflow_file = tmp_path / "workflows.py"
    workflow_file.write_text(textwrap.dedent(CHAIN), encoding="utf-8")
    client.upload_workflows(str(workflow_file))
    yield Harness(store=store, client=client, clock=clock, loop=loop, commands=commands)
    client.close()


def test_a_start_queues_the_first_tasks_in_the_same_transaction_as_the_checkpoint(harness: Harness) -> None:
    execution = harness.client.start_workflow_execution("chain")
    result = harness.loop.step()
    [first] = harness.tasks(execution)
    assert (first.task_name, first.status) == ("first", TaskStatus.QUEUED)
    assert result.commands == 1 and harness.commands == [(StartTask, first.id)]
    with harness.store.transaction() as tx:
        assert tx.get_checkpoint(harness.loop.name) == tx.max_offset()  # everything the step emitted is applied


def test_a_status_and_the_rules_it_fires_are_applied_in_one_step(harness: Harness) -> None:
    execution = harness.client.start_workflow_execution("chain")
    harness.settle()
    [first] = harness.tasks(execution)
    harness.report(first, TaskStatus.RUNNING)
    harness.report(first, TaskStatus.SUCCESS)
    harness.commands.clear()
    result = harness.loop.step()  # reports -> status events -> second starts: rounds in one transaction
    first, second = harness.tasks(execution)
    assert first.status is TaskStatus.SUCCESS and second.status is TaskStatus.QUEUED
    assert second.cause.kind.value == "RULE" and second.cause.event_key == "aiflow.task_status/chain/first"
    assert harness.commands == [(StartTask, second.id)]
    assert result.applied >= 3 and not result.more


def test_a_failed_step_leaves_the_store_as_it_was_and_a_poison_event_is_skipped(harness: Harness) -> None:
    execution = harness.client.start_workflow_execution("listener")
    harness.settle()
    bogus = Event(
        "aiflow.task_status/listener/t", "NOT-A-STATUS", kind=EventKind.TASK_REPORT,
        workflow_execution_id=execution, context={"task_execution_id": 1},
    )
    with harness.store.transaction() as tx:
        tx.append_events([Event("go")], harness.clock.now())
        [stored] = tx.append_events([bogus], harness.clock.now())
        tx.append_events([Event("go")], harness.clock.now())
    before = harness.checkpoint()

    with pytest.raises(Exception, match="NOT-A-STATUS"):
        harness.loop.step()  # the batch holding the bad event: nothing of it is kept
    assert harness.checkpoint() == before and harness.tasks(execution) == []
    harness.loop.step()  # the events before it apply on their own
    assert harness.checkpoint() == (stored.offset or 0) - 1
    assert [t.cause.event_key for t in harness.tasks(execution)] == ["go"]
    for _ in range(POISON_ATTEMPTS):
        with pytest.raises(Exception, match="NOT-A-STATUS"):
            harness.loop.step()  # then it is tried alone
        assert harness.checkpoint() == (stored.offset or 0) - 1
    harness.settle()  # skipped with a NOTICE; the event after it applies
    notices = harness.client.list_events(include_internal=True)
    assert [e.key for e in notices if e.kind is EventKind.NOTICE] == [f"aiflow.skipped_event/{stored.offset}"]
    assert len(harness.tasks(execution)) == 1  # the second "go" found the task alive: START is ignored
    with harness.store.transaction() as tx:
        assert tx.get_checkpoint(harness.loop.name) == tx.max_offset() > (stored.offset or 0)


def test_a_retry_waits_for_its_timer_in_simulated_time(harness: Harness) -> None:
    execution = harness.client.start_workflow_execution("flaky")
    harness.settle()
    [attempt] = harness.tasks(execution)
    harness.report(attempt, TaskStatus.RUNNING)
    harness.report(attempt, TaskStatus.FAILED, "exit 1")
    harness.settle()
    [attempt] = harness.tasks(execution)
    assert attempt.status is TaskStatus.RETRYING
    assert harness.loop.next_wakeup() == harness.clock.now() + dt.timedelta(seconds=60)
    harness.commands.clear()

    harness.clock.advance(dt.timedelta(seconds=59))
    harness.settle()
    assert harness.commands == [] and harness.tasks(execution)[-1].try_number == 1
    harness.clock.advance(dt.timedelta(seconds=1))
    harness.settle()
    latest = harness.tasks(execution)[-1]
    assert (latest.try_number, latest.status) == (2, TaskStatus.QUEUED)
    assert harness.commands == [(StartTask, latest.id)]
    assert harness.loop.next_wakeup() is None  # the timer was used up


def test_stopping_an_execution_stops_its_live_tasks(harness: Harness) -> None:
    execution = harness.client.start_workflow_execution("chain")
    harness.settle()
    [first] = harness.tasks(execution)
    harness.report(first, TaskStatus.RUNNING)
    harness.settle()
    harness.commands.clear()
    harness.client.stop_workflow_execution(execution)
    harness.settle()
    [first] = harness.tasks(execution)
    assert first.status is TaskStatus.STOPPING and harness.commands == [(StopTask, first.id)]
    harness.report(first, TaskStatus.STOPPED)
    harness.settle()
    assert harness.tasks(execution)[0].status is TaskStatus.STOPPED
    assert harness.client.get_workflow_execution(execution).status.value == "STOPPED"  # type: ignore[union-attr]


def test_a_fenced_step_that_fails_its_check_commits_nothing_and_hands_nothing_over(harness: Harness) -> None:
    def fence(tx: StoreTx) -> None:
        tx.check_lease("scheduler", "me", 1)

    harness.loop.fence = fence
    with harness.store.transaction() as tx:
        assert tx.acquire_lease("scheduler", "other", 60) is not None  # another engine leads
    execution = harness.client.start_workflow_execution("chain")
    before = harness.checkpoint()
    with pytest.raises(LeaseLostError, match="held by other"):
        harness.loop.step()
    assert harness.checkpoint() == before and harness.tasks(execution) == [] and harness.commands == []


def test_reports_of_an_attempt_of_another_epoch_are_refused_with_a_notice(harness: Harness) -> None:
    harness.loop.epochs = frozenset({2})
    execution = harness.client.start_workflow_execution("chain")
    harness.settle()
    [first] = harness.tasks(execution)
    harness.report(first, TaskStatus.RUNNING, epoch=2)
    harness.settle()
    harness.report(first, TaskStatus.FAILED, error="from a deposed engine", epoch=1)
    harness.settle()
    [first] = harness.tasks(execution)
    assert first.status is TaskStatus.RUNNING  # unchanged
    notices = [e for e in harness.client.list_events(include_internal=True) if e.kind is EventKind.NOTICE]
    assert [e.key for e in notices] == [f"aiflow.stale_attempt/{first.id}"]
    assert "lease epoch 1" in (notices[0].value or "") and "leads at epoch 2" in (notices[0].value or "")
    harness.report(first, TaskStatus.SUCCESS, epoch=2)
    harness.settle()
    assert harness.tasks(execution)[0].status is TaskStatus.SUCCESS


def test_events_a_step_left_for_the_next_are_not_applied_once_they_left_the_log(harness: Harness) -> None:
    loop = SchedulerLoop(store=harness.store, clock=harness.clock, log_dir=harness.loop.applier.log_dir,
                         dispatch=lambda tx, given: lambda: None, batch_size=1)
    execution = harness.client.start_workflow_execution("listener")
    for _ in range(3):
        harness.client.send_event("go")
    assert loop.step().more  # the start applied; the three events are left for the next steps
    with harness.store.transaction() as tx:  # as deleting their namespace would
        deleted = tx.delete_events_before(tx.max_offset(), harness.clock.now() + dt.timedelta(days=1), 10)
    assert deleted == 4
    while loop.step().more:
        pass
    assert harness.tasks(execution) == []  # no deleted "go" started the listener's task
    harness.client.send_event("go")
    loop.step()
    assert [te.task_name for te in harness.tasks(execution)] == ["t"]
