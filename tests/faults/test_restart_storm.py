"""A RESTART storm on the process executor: a stop reaches only the run it names.

Each event RESTARTs a short task, and is sent as soon as the run before has
started, so stops keep arriving just as runs end and pooled workers are
handed the next run. No run may be ended by a stop meant for another: none
FAILS (a stray SIGTERM shows as "worker process exited with code -15"), and
every STOPPED run is one that a RESTART asked to stop.

``AIFLOW_STORM_EVENTS`` sets the number of events (the issue's full storm
is 5,000; the default, 300, keeps the test within about two minutes).
"""

from __future__ import annotations

import os
import select
import time
from collections import Counter
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus
from aiflow_core.scheduler.apply import WORKFLOW_STOP_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

EVENTS = int(os.environ.get("AIFLOW_STORM_EVENTS", "300"))

STORM = '''
import os
import random
import time

from aiflow_core import AIFlowOperator, TaskAction, Workflow

STARTED = {started!r}


class Short(AIFlowOperator):
    """Says that it started, then works for up to 10 ms."""

    def start(self, context):
        fd = os.open(STARTED, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, f"{{context.sequence_number}}\\n".encode())
        finally:
            os.close(fd)
        time.sleep(random.Random(context.sequence_number).uniform(0.0, 0.01))


with Workflow(name="storm", keep_open=True) as w:
    short = Short("short")
    short.action_on_event_received(TaskAction.RESTART, "go")
'''


class Starts:
    """The sequence numbers of runs that started, read from a FIFO the runs write to."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path, 0o600)
        self._read = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self._hold = os.open(path, os.O_WRONLY)  # a writer always there: reads wait instead of seeing the end
        self._buffer = b""
        self.seen: set[int] = set()

    def wait_for(self, sequence: int, timeout: float) -> None:
        """Block until run ``sequence`` has started."""
        deadline = time.monotonic() + timeout
        while sequence not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"run {sequence} did not start within {timeout} s (started: {len(self.seen)})"
            if select.select([self._read], [], [], left)[0]:
                self._buffer += os.read(self._read, 65536)
                *lines, self._buffer = self._buffer.split(b"\n")
                self.seen.update(int(line) for line in lines if line)

    def close(self) -> None:
        """Close both ends."""
        os.close(self._read)
        os.close(self._hold)


def test_a_restart_storm_stops_only_the_runs_it_names(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = Starts(tmp_path / "started")
    workflow = tmp_path / "storm.py"
    workflow.write_text(STORM.format(started=str(tmp_path / "started")), encoding="utf-8")
    began = time.monotonic()
    try:
        with Engine(sqlite_url, executor="process", parallelism=4) as engine:
            engine.upload_workflows(str(workflow))
            execution_id = engine.start_workflow_execution("storm")
            for i in range(1, EVENTS + 2):
                try:
                    starts.wait_for(i, timeout=60)
                except AssertionError as exc:
                    last = [(te.sequence_number, te.status.value, te.error) for te in
                            engine.list_task_executions(execution_id)[-3:]]
                    raise AssertionError(f"{exc}; the last runs: {last}") from None
                if i <= EVENTS:
                    engine.send_event("go", str(i))
            deadline = time.monotonic() + 60
            while True:
                runs = engine.list_task_executions(execution_id)
                if len(runs) == EVENTS + 1 and all(te.status.is_final for te in runs):
                    break
                assert time.monotonic() < deadline, Counter(te.status.value for te in runs)
                time.sleep(0.1)
    finally:
        starts.close()
    took = time.monotonic() - began
    statuses = Counter(te.status.value for te in runs)
    with capsys.disabled():
        print(f"\nrestart storm: {EVENTS} events in {took:.1f} s ({EVENTS / took:.1f}/s): {dict(statuses)}")

    assert sorted(te.sequence_number for te in runs) == list(range(1, EVENTS + 2))
    assert [te.try_number for te in runs] == [1] * (EVENTS + 1)
    failed = [(te.sequence_number, te.error) for te in runs if te.status is TaskStatus.FAILED]
    assert failed == []
    by_sequence = {te.sequence_number: te for te in runs}
    for te in runs:
        assert te.status in (TaskStatus.SUCCESS, TaskStatus.STOPPED), (te.sequence_number, te.status, te.error)
        if te.status is TaskStatus.STOPPED:
            # Stopped only because the RESTART that started the next run asked for it.
            assert te.sequence_number <= EVENTS, te
            assert (te.error or "").startswith(f"{WORKFLOW_STOP_PREFIX}RESTART"), (te.sequence_number, te.error)
            assert f"@ offset {by_sequence[te.sequence_number + 1].cause.event_offset}" in (te.error or ""), te.error
    assert starts.seen == set(range(1, EVENTS + 2))
