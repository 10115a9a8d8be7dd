"""Bad input: every case ends in a typed error naming the bad value, or in a FAILED task whose log
holds the traceback; afterwards the engine keeps scheduling and nothing already stored is lost."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aiflow_core import Engine, TaskAction, TaskStatus, WorkflowStatus
from aiflow_core.errors import (
    ConfigError,
    InvalidArgumentError,
    InvalidStateError,
    InvalidWorkflowError,
    NotFoundError,
    WorkflowLoadError,
)
from aiflow_core.model.event import MAX_EVENT_VALUE_LENGTH

BASE = """
from aiflow_core import PythonOperator, Workflow

def work():
    return 42

with Workflow(name="base") as w:
    PythonOperator(name="work", python_callable=work)
"""


class Bench:
    """A stepped engine with one finished execution and one event stored before the bad input."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self.engine = engine
        self.directory = directory
        self.upload("base", BASE)
        self.first = engine.start_workflow_execution("base")
        assert engine.wait_for_workflow_execution(self.first, timeout=30).status is WorkflowStatus.SUCCESS
        self.event = engine.send_event("before", "kept")

    def write(self, name: str, source: str) -> Path:
        """Write a workflow file and return its path."""
        path = self.directory / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def upload(self, name: str, source: str) -> None:
        """Write and upload a workflow file."""
        self.engine.upload_workflows(str(self.write(name, source)))

    def healthy(self) -> None:
        """What was stored before is still there, and a new execution still runs to the end."""
        engine = self.engine
        first = engine.get_workflow_execution(self.first)
        assert first is not None and first.status is WorkflowStatus.SUCCESS
        assert [te.status for te in engine.list_task_executions(self.first)] == [TaskStatus.SUCCESS]
        assert self.event.offset in [e.offset for e in engine.list_events("before")]
        again = engine.start_workflow_execution("base")
        assert engine.wait_for_workflow_execution(again, timeout=30).status is WorkflowStatus.SUCCESS


@pytest.fixture
def bench(sqlite_url: str, tmp_path: Path) -> Iterator[Bench]:
    engine = Engine(sqlite_url, executor="inline")
    try:
        yield Bench(engine, tmp_path)
    finally:
        engine.close()


def _raises(error: type[Exception], bad: str, call: Callable[[], object]) -> str:
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert bad in message, f"{message!r} does not name {bad!r}"
    return message


# -- unknown names and ids --
def test_unknown_namespace(bench: Bench) -> None:
    _raises(NotFoundError, "nowhere", lambda: bench.engine.start_workflow_execution("base", namespace="nowhere"))
    _raises(NotFoundError, "nowhere", lambda: bench.engine.send_event("k", namespace="nowhere"))
    _raises(LookupError, "nowhere", lambda: bench.engine.list_workflows(namespace="nowhere"))
    bench.healthy()


def test_unknown_workflow(bench: Bench) -> None:
    _raises(NotFoundError, "no_such_workflow", lambda: bench.engine.start_workflow_execution("no_such_workflow"))
    _raises(NotFoundError, "no_such_workflow", lambda: bench.engine.disable_workflow("no_such_workflow"))
    bench.healthy()


def test_unknown_task(bench: Bench) -> None:
    message = _raises(
        NotFoundError, "no_such_task", lambda: bench.engine.start_task_execution(bench.first, "no_such_task")
    )
    assert "work" in message  # the tasks that do exist are listed
    bench.healthy()


def test_unknown_workflow_execution_id(bench: Bench) -> None:
    assert bench.engine.get_workflow_execution(987654) is None
    _raises(NotFoundError, "987654", lambda: bench.engine.stop_workflow_execution(987654))
    _raises(NotFoundError, "987654", lambda: bench.engine.list_task_executions(987654))
    _raises(NotFoundError, "987654", lambda: bench.engine.start_task_execution(987654, "work"))
    _raises(NotFoundError, "987654", lambda: bench.engine.wait_for_workflow_execution(987654, timeout=1))
    bench.healthy()


def test_unknown_task_execution_id(bench: Bench) -> None:
    assert bench.engine.get_task_execution(987654) is None
    _raises(InvalidArgumentError, "-3", lambda: bench.engine.get_task_execution(-3))
    bench.healthy()


def test_bad_id_type(bench: Bench) -> None:
    _raises(InvalidArgumentError, "'abc'", lambda: bench.engine.get_workflow_execution("abc"))
    _raises(InvalidArgumentError, "1.5", lambda: bench.engine.get_task_execution(1.5))
    _raises(InvalidArgumentError, "'7'", lambda: bench.engine.stop_workflow_execution("7"))
    bench.healthy()


def test_negative_limit(bench: Bench) -> None:
    _raises(InvalidArgumentError, "-1", lambda: bench.engine.list_workflows(limit=-1))
    _raises(InvalidArgumentError, "-5", lambda: bench.engine.list_workflow_executions("base", offset=-5))
    _raises(InvalidArgumentError, "-2", lambda: bench.engine.list_events(limit=-2))
    bench.healthy()


def test_starting_a_disabled_workflow(bench: Bench) -> None:
    bench.engine.disable_workflow("base")
    _raises(InvalidStateError, "base", lambda: bench.engine.start_workflow_execution("base"))
    bench.engine.enable_workflow("base")
    bench.healthy()


# -- workflow files --
def test_workflow_file_raising_on_import(bench: Bench) -> None:
    path = bench.write("broken", """
        from aiflow_core import Workflow

        def helper():
            return 1 / 0

        with Workflow(name="broken") as w:
            helper()
    """)
    message = _raises(WorkflowLoadError, str(path), lambda: bench.engine.upload_workflows(str(path)))
    assert "Traceback" in message and "ZeroDivisionError" in message and "helper" in message
    assert bench.engine.get_workflow("broken") is None
    bench.healthy()


def test_file_with_no_workflow(bench: Bench) -> None:
    path = bench.write("empty", "X = 1\n")
    _raises(WorkflowLoadError, str(path), lambda: bench.engine.upload_workflows(str(path)))
    bench.healthy()


def test_workflow_file_that_does_not_exist(bench: Bench, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing" / "flow.py")
    _raises(WorkflowLoadError, missing, lambda: bench.engine.upload_workflows(missing))
    bench.healthy()


def test_duplicate_task_names(bench: Bench) -> None:
    path = bench.write("dup", """
        from aiflow_core import BashOperator, Workflow

        with Workflow(name="dup") as w:
            BashOperator(name="same", bash_command="true")
            BashOperator(name="same", bash_command="true")
    """)
    message = _raises(InvalidWorkflowError, "'same'", lambda: bench.engine.upload_workflows(str(path)))
    assert "'dup'" in message
    bench.healthy()


def test_rule_referencing_a_task_of_another_workflow(bench: Bench) -> None:
    from aiflow_core import BashOperator, Workflow

    with Workflow(name="one"):
        foreign = BashOperator(name="foreign", bash_command="true")
    with Workflow(name="two"):
        local = BashOperator(name="local", bash_command="true")
        _raises(
            InvalidWorkflowError, "'foreign'",
            lambda: local.action_on_task_status(TaskAction.STOP, {foreign: TaskStatus.SUCCESS}),
        )
        _raises(InvalidWorkflowError, "'foreign'", lambda: local.start_after(foreign))
    bench.healthy()


def test_operator_created_outside_a_workflow(bench: Bench) -> None:
    from aiflow_core import BashOperator

    _raises(InvalidWorkflowError, "'orphan'", lambda: BashOperator(name="orphan", bash_command="true"))
    bench.healthy()


def test_non_callable_python_callable_and_empty_bash_command(bench: Bench) -> None:
    from aiflow_core import BashOperator, PythonOperator, Workflow

    with Workflow(name="bad_ops"):
        _raises(
            InvalidWorkflowError, "'not callable'",
            lambda: PythonOperator(name="p", python_callable="not callable"),
        )
        _raises(InvalidWorkflowError, "'   '", lambda: BashOperator(name="b", bash_command="   "))
        _raises(InvalidWorkflowError, "''", lambda: BashOperator(name="c", bash_command=""))
    bench.healthy()


def test_unpicklable_workflow_is_refused_at_upload_naming_it(bench: Bench) -> None:
    path = bench.write("locked", """
        import threading
        from aiflow_core import PythonOperator, Workflow

        def work():
            return 1

        with Workflow(name="locked") as w:
            task = PythonOperator(name="t", python_callable=work)
            task.guard = threading.Lock()
    """)
    message = _raises(InvalidWorkflowError, "'locked'", lambda: bench.engine.upload_workflows(str(path)))
    assert "lock" in message
    assert bench.engine.get_workflow("locked") is None
    bench.healthy()


# -- events --
def test_non_string_event_key(bench: Bench) -> None:
    _raises(InvalidArgumentError, "123", lambda: bench.engine.send_event(123))
    _raises(InvalidArgumentError, "b'raw'", lambda: bench.engine.send_event("k", b"raw"))
    bench.healthy()


def test_event_value_over_the_size_limit(bench: Bench) -> None:
    too_long = "v" * (MAX_EVENT_VALUE_LENGTH + 1)
    message = _raises(
        InvalidArgumentError, str(MAX_EVENT_VALUE_LENGTH + 1), lambda: bench.engine.send_event("big", too_long)
    )
    assert "'big'" in message and str(MAX_EVENT_VALUE_LENGTH) in message
    assert bench.engine.list_events("big") == []
    bench.engine.send_event("big", "v" * MAX_EVENT_VALUE_LENGTH)  # exactly at the limit is accepted
    bench.healthy()


# -- configuration --
def test_malformed_database_url_masks_the_password() -> None:
    for url, bad in (("nosuchdb://admin:s3cr3t@db.example/aiflow", "nosuchdb"), ("not a url", "not a url")):
        with pytest.raises(ConfigError) as info:
            Engine(url, executor="inline")
        assert bad in str(info.value)
        assert "s3cr3t" not in str(info.value) and "s3cr3t" not in repr(info.value)


# -- failures inside the engine --
RAISING_CONDITION = """
from aiflow_core import Condition, PythonOperator, TaskAction, Workflow

def serve():
    return "served"

class Exploding(Condition):
    def __init__(self):
        super().__init__(["boom"])

    def is_met(self, event, context):
        raise RuntimeError(f"condition exploded on {event.value}")

with Workflow(name="fragile") as w:
    bad = PythonOperator(name="bad", python_callable=serve)
    good = PythonOperator(name="good", python_callable=serve)
    bad.action_on_condition(TaskAction.START, Exploding())
    good.action_on_event_received(TaskAction.START, "boom")
"""


def test_condition_that_raises(bench: Bench) -> None:
    bench.upload("fragile", RAISING_CONDITION)
    execution = bench.engine.start_workflow_execution("fragile")
    bench.engine.run_until_idle()
    bench.engine.send_event("boom", "v1")
    bench.engine.run_until_idle()
    failures = [f for f in bench.engine.loop.failures if "condition exploded on v1" in f.error]
    assert failures, list(bench.engine.loop.failures)
    assert "'bad'" in failures[0].message and "'boom'" in failures[0].message
    runs = {te.task_name: te for te in bench.engine.list_task_executions(execution)}
    assert "bad" not in runs  # a raising condition counts as not met
    assert runs["good"].status is TaskStatus.SUCCESS  # the other rule on the same event still fired
    bench.engine.send_event("boom", "v2")
    bench.engine.run_until_idle()
    assert any("condition exploded on v2" in f.error for f in bench.engine.loop.failures)
    good = [te.sequence_number for te in bench.engine.list_task_executions(execution) if te.task_name == "good"]
    assert good == [1, 2]
    bench.healthy()


FAILING_TASKS = """
from aiflow_core import AIFlowOperator, PythonOperator, Workflow

def divide():
    return 1 / 0

class BrokenStart(AIFlowOperator):
    def start(self, context):
        raise OSError("device not ready in BrokenStart")

with Workflow(name="failing") as w:
    PythonOperator(name="python_raises", python_callable=divide)
    BrokenStart(name="start_raises")
"""


def test_operator_start_and_python_callable_raising_fail_the_task_with_the_traceback_in_its_log(
    bench: Bench,
) -> None:
    bench.upload("failing", FAILING_TASKS)
    execution = bench.engine.start_workflow_execution("failing")
    assert bench.engine.wait_for_workflow_execution(execution, timeout=30).status is WorkflowStatus.FAILED
    runs = {te.task_name: te for te in bench.engine.list_task_executions(execution)}
    expected = {"python_raises": ("ZeroDivisionError", "divide"), "start_raises": ("device not ready", "start")}
    for task, (error, frame) in expected.items():
        te = runs[task]
        assert te.status is TaskStatus.FAILED
        assert te.error is not None and error in te.error
        assert te.log_path is not None
        log = Path(te.log_path).read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" in log and error in log and f"in {frame}" in log
    bench.healthy()


def test_background_loop_survives_a_raising_condition_and_failing_tasks(sqlite_url: str, tmp_path: Path) -> None:
    with Engine(sqlite_url, executor="thread") as engine:
        bench = Bench(engine, tmp_path)
        bench.upload("fragile", RAISING_CONDITION)
        bench.upload("failing", FAILING_TASKS)
        fragile = engine.start_workflow_execution("fragile")
        failing = engine.start_workflow_execution("failing")
        assert engine.wait_for_workflow_execution(failing, timeout=30).status is WorkflowStatus.FAILED
        engine.send_event("boom", "bg")
        deadline = time.monotonic() + 30
        while not any(te.task_name == "good" and te.status.is_final for te in engine.list_task_executions(fragile)):
            assert time.monotonic() < deadline, "the loop stopped applying events"
            time.sleep(0.02)
        assert any("condition exploded on bg" in f.error for f in engine.loop.failures)
        bench.healthy()
