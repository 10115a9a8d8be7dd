"""Explanations on the documentation's examples: why a task ran, why one has not started, what an event did.

The quickstart runs on a real engine; the NumCondition examples and the
two-event waits run in simulated time (inline executor, fake clock), on the
memory store and on SQLite.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiflow_core import Engine
from aiflow_core.model.explanation import Outcome
from aiflow_core.model.meta import StartKind
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.testing import WorkflowTester

from .support import EXAMPLES, ExampleRunner


@pytest.fixture(params=["memory", "sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store the test runs on."""
    return str(request.param)


def _url(store_kind: str, directory: Path) -> str:
    return "memory://" if store_kind == "memory" else f"sqlite:///{directory / 'aiflow.db'}"


@pytest.fixture
def tester(store_kind: str, tmp_path: Path) -> Iterator[WorkflowTester]:
    """A workflow tester on the store under test, recording explanations at the default level."""
    with WorkflowTester(tmp_path, db_url=_url(store_kind, tmp_path)) as running:
        yield running


def test_quickstart_task4_is_explained_by_event_key_and_its_rule(store_kind: str, tmp_path: Path) -> None:
    with Engine(db_url=_url(store_kind, tmp_path), executor="thread") as engine:
        runner = ExampleRunner(engine)
        runner.upload("quickstart.py")
        wid = engine.start_workflow_execution("quickstart_workflow")
        assert runner.wait_for_end(wid).status is WorkflowStatus.SUCCESS
        runs = {te.task_name: te for te in runner.runs(wid)}
        task4 = runs["task4"]

        explanation = engine.explain_task_execution(task4.id)
        first = explanation.chain[0]
        assert first.task_execution_id == task4.id and first.cause is not None
        assert first.cause.kind is StartKind.RULE and first.cause.rule_index == 0
        assert first.event is not None and first.event.key == "key"
        assert first.event.offset == task4.cause.event_offset and first.event.sender == "quickstart_workflow.task3"
        assert first.evaluation is not None and first.evaluation.outcome is Outcome.STARTED
        assert first.evaluation.condition == "event 'key'" and first.evaluation.met is True
        # task3 sent the event; it started when task1 and task2 had succeeded; the chain ends at the user's start.
        assert explanation.chain[1].task_execution_id == runs["task3"].id
        assert "task1 SUCCESS and task2 SUCCESS" in explanation.chain[1].text
        assert explanation.chain[2].task_name in ("task1", "task2")
        assert explanation.chain[2].cause is not None and explanation.chain[2].cause.kind is StartKind.WORKFLOW_START
        assert explanation.chain[-1].task_execution_id is None and "started by a user" in explanation.chain[-1].text
        text = explanation.describe()
        assert f"started by rule #0 (event 'key') on event 'key' @ offset {task4.cause.event_offset}" in text
        assert explanation.to_dict()["chain"][0]["event"]["key"] == "key"

        done = engine.explain_event(task4.cause.event_offset or 0)
        assert done.recorded and done.event is not None and done.event.value == "This is a custom message."
        [evaluation] = done.evaluations
        assert (evaluation.task_name, evaluation.workflow_execution_id) == ("task4", wid)
        assert [r.task_execution_id for r in evaluation.rules] == [task4.id]

        why = engine.explain_task("task4", wid)
        assert why.task_status == "SUCCESS" and why.latest_task_execution_id == task4.id
        assert why.rules[0].last_evaluation is not None and why.rules[0].last_event_key == "key"
        assert "SUCCESS: its rules are no longer evaluated" in why.summary


def _seed_classes(example: str, names: tuple[str, ...]) -> str:
    """The imports and the named classes of a documentation example, as source."""
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    tree = ast.parse(text)
    parts = [
        ast.get_source_segment(text, node) or "" for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        or (isinstance(node, ast.ClassDef) and node.name in names)
    ]
    return "\n".join(parts)


CONSUMER = """
with Workflow(name="num_workflow") as workflow:
    consumer = BashOperator(name="consumer", bash_command="echo Got 100 records.")
    consumer.action_on_condition(action=TaskAction.START, condition=NumCondition(expect_event_keys=["num_event"]))
"""


@pytest.mark.parametrize(
    ("example", "classes", "state_of"),
    [
        ("custom_rules.py", ("NumCondition",), lambda total: {"num_state": total}),
        ("sample_custom_condition.py", ("Consumer", "NumCondition"),
         lambda total: {"consumer": {"__type__": "Consumer", "is_consumed": False, "accumulator": total}}),
    ],
)
def test_num_condition_consumer_not_started_shows_the_sum_so_far(
    tester: WorkflowTester, example: str, classes: tuple[str, ...], state_of: object,
) -> None:
    tester.upload_source(_seed_classes(example, classes) + CONSUMER)
    wid = tester.start("num_workflow")
    tester.send("num_event", "30")
    tester.send("num_event", "40")

    why = tester.engine.explain_task("consumer", wid)
    assert why.task_status is None and why.summary.startswith("the task has not started: rule #0 waits for")
    [rule] = why.rules
    assert rule.state == state_of(70)  # type: ignore[operator]
    assert rule.last_evaluation is not None and rule.last_evaluation.met is False
    assert rule.last_evaluation.outcome is Outcome.NOT_MET
    assert rule.last_evaluation.state == state_of(70)  # type: ignore[operator]
    assert [e.rules[0].state for e in why.recent] == [state_of(70), state_of(30)]  # type: ignore[operator]
    text = why.describe()
    assert "70" in text and "waiting for: an event 'num_event' for which NumCondition is met" in text

    tester.send("num_event", "35")
    [run] = tester.engine.list_task_executions(wid)
    explanation = tester.engine.explain_task_execution(run.id)
    assert explanation.chain[0].evaluation is not None and explanation.chain[0].evaluation.met is True
    assert explanation.chain[0].event is not None and explanation.chain[0].event.value == "35"


TWO_EVENTS = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.internal.conditions import MeetAllCondition, SingleEventCondition
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name="two_events") as workflow:
    report = BashOperator(name="report", bash_command="echo both came")
    report.action_on_condition(
        action=TaskAction.START,
        condition=MeetAllCondition(
            conditions=[SingleEventCondition("data_ready"), SingleEventCondition("model_ready")]
        ),
    )
"""


def test_task_waiting_for_two_events_names_the_one_still_missing(tester: WorkflowTester) -> None:
    tester.upload_source(TWO_EVENTS)
    wid = tester.start("two_events")
    before = tester.engine.explain_task("report", wid)
    assert before.rules[0].waiting_for == ("event 'data_ready'", "event 'model_ready'")
    assert before.rules[0].last_evaluation is None and before.recent == ()

    tester.send("model_ready")
    why = tester.engine.explain_task("report", wid)
    assert why.rules[0].waiting_for == ("event 'data_ready'",)
    assert why.summary == "the task has not started: rule #0 waits for event 'data_ready'"
    assert why.rules[0].state == {"meet_all": [False, True]}

    tester.send("data_ready")
    assert tester.statuses(wid) == {"report": TaskStatus.SUCCESS}
    assert tester.engine.explain_task("report", wid).summary.startswith("the workflow execution is SUCCESS")


RULES = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator


class Broken(Condition):
    def is_met(self, event, context):
        raise ValueError("cannot read " + str(event.value))


with Workflow(name="rules", keep_open=True) as workflow:
    job = BashOperator(name="job", bash_command="echo job")
    job.action_on_condition(action=TaskAction.START, condition=SingleEventCondition("go"))
    job.action_on_condition(action=TaskAction.STOP, condition=SingleEventCondition("go"))
    job.action_on_condition(action=TaskAction.STOP, condition=SingleEventCondition("halt"))
    job.action_on_condition(action=TaskAction.START, condition=Broken(["odd"]))
"""


def test_every_outcome_of_task_rules_is_named(tester: WorkflowTester) -> None:
    tester.upload_source(RULES)
    wid = tester.start("rules")
    engine = tester.engine
    first = engine.send_event("go")
    second = engine.send_event("go")  # applied in the same step: the first run is still alive
    tester.run_until_idle()
    halt = engine.send_event("halt")
    odd = engine.send_event("odd", "x")
    tester.run_until_idle()

    [one] = engine.explain_event(first.offset or 0).evaluations
    assert [(r.rule_index, r.outcome) for r in one.rules] == [(0, Outcome.STARTED), (1, Outcome.EARLIER_RULE_FIRED)]
    assert one.rules[1].reason == "rule #0 fired first" and one.rules[1].met is None
    [two] = engine.explain_event(second.offset or 0).evaluations
    assert two.rules[0].outcome is Outcome.ALIVE and two.rules[0].task_execution_id == one.rules[0].task_execution_id
    [stop] = engine.explain_event(halt.offset or 0).evaluations
    assert stop.rules[0].outcome is Outcome.NOTHING_TO_STOP and "SUCCESS" in stop.rules[0].reason
    [broken] = engine.explain_event(odd.offset or 0).evaluations
    assert broken.rules[0].outcome is Outcome.ERROR and broken.rules[0].met is None
    assert broken.rules[0].error == "ValueError: cannot read x"
    why = engine.explain_task("job", wid, limit=1)
    assert [r.last_evaluation.outcome if r.last_evaluation else None for r in why.rules] == [
        Outcome.ALIVE, Outcome.EARLIER_RULE_FIRED, Outcome.NOTHING_TO_STOP, Outcome.ERROR,
    ]
    assert [e.event_offset for e in why.recent] == [odd.offset]
    assert why.summary.startswith("the task's last run") and "not started again: rule #0 waits for event 'go'" \
        in why.summary

    tester.stop(wid)
    late = engine.send_event("go", workflow_execution_id=wid)
    tester.run_until_idle()
    [after] = engine.explain_event(late.offset or 0).evaluations
    assert {r.outcome for r in after.rules} == {Outcome.EXECUTION_NOT_RUNNING}
    assert after.rules[0].reason == f"workflow execution {wid} is STOPPED: its rules are no longer evaluated"


def test_triggers_are_explained(tester: WorkflowTester) -> None:
    from aiflow_core.model.internal.conditions import SingleEventCondition
    from aiflow_core.model.rule import WorkflowRule

    tester.upload_source(TWO_EVENTS)
    engine = tester.engine
    engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("new_data")), "two_events")
    engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("new_data")), "two_events")
    tester.send("new_data")
    [execution] = tester.executions("two_events")
    [event] = engine.list_events(key="new_data")
    [row] = engine.explain_event(event.offset or 0).evaluations
    assert row.task_name is None and row.workflow_name == "two_events" and row.workflow_execution_id == execution.id
    assert [r.outcome for r in row.rules] == [Outcome.EXECUTION_STARTED, Outcome.EARLIER_TRIGGER_FIRED]
    explanation = engine.explain_event(event.offset or 0)
    assert "started workflow execution" in explanation.describe()

    engine.disable_workflow("two_events")
    again = engine.send_event("new_data")
    tester.run_until_idle()
    [row] = engine.explain_event(again.offset or 0).evaluations
    assert row.rules[0].outcome is Outcome.WORKFLOW_DISABLED and row.workflow_execution_id is None


def test_level_off_records_nothing_and_full_records_state_before(store_kind: str, tmp_path: Path) -> None:
    for level in ("off", "full"):
        directory = tmp_path / level
        with WorkflowTester(directory, db_url=_url(store_kind, directory), explanations=level) as tester:
            tester.upload_source(TWO_EVENTS)
            wid = tester.start("two_events")
            tester.send("model_ready", "v1")
            tester.send("data_ready")
            engine = tester.engine
            if level == "off":
                assert engine.list_evaluations() == []
                [event] = engine.list_events(key="model_ready")
                assert not engine.explain_event(event.offset or 0).recorded
                assert tester.statuses(wid) == {"report": TaskStatus.SUCCESS}  # scheduling is the same
            else:
                newest, oldest = engine.list_evaluations(workflow_execution_id=wid)
                assert oldest.event_value == "v1" and oldest.rules[0].state_before is None
                assert oldest.rules[0].state == {"meet_all": [False, True]}
                assert newest.rules[0].state_before == {"meet_all": [False, True]}
                assert newest.rules[0].outcome is Outcome.STARTED and newest.rules[0].state is None


def test_history_retention_prunes_explanations(store_kind: str, tmp_path: Path) -> None:
    with WorkflowTester(tmp_path, db_url=_url(store_kind, tmp_path), history_retention="1h") as tester:
        tester.upload_source(TWO_EVENTS)
        wid = tester.start("two_events")
        tester.send("model_ready")
        tester.send("data_ready")
        assert len(tester.engine.list_evaluations()) == 2
        tester.clock.advance(dt.timedelta(minutes=30))
        tester.engine.retention.prune(tester.clock.now())
        assert len(tester.engine.list_evaluations()) == 2
        tester.clock.advance(dt.timedelta(hours=1))
        tester.engine.retention.prune(tester.clock.now())
        assert tester.engine.list_evaluations() == []
        with pytest.raises(LookupError, match="workflow execution"):
            tester.engine.explain_task("report", wid)


def test_explain_refuses_unknown_ids(tester: WorkflowTester) -> None:
    tester.upload_source(TWO_EVENTS)
    wid = tester.start("two_events")
    engine = tester.engine
    with pytest.raises(LookupError, match="task execution 99"):
        engine.explain_task_execution(99)
    with pytest.raises(LookupError, match=r"task 'nope' does not exist.*has tasks \['report'\]"):
        engine.explain_task("nope", wid)
    with pytest.raises(LookupError, match="workflow execution 99"):
        engine.explain_task("report", 99)
    with pytest.raises(LookupError, match="event 99 does not exist; the log ends at offset"):
        engine.explain_event(99)
    with pytest.raises(ValueError, match="event offset must be a positive integer, got 0"):
        engine.explain_event(0)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        engine.explain_task("report", wid, limit=0)


def test_explanations_setting_reads_yaml_off_and_the_environment(tmp_path: Path) -> None:
    from aiflow_core.config import load_config

    (tmp_path / "aiflow.yaml").write_text("explanations: off\n")  # YAML reads a bare off as false
    assert load_config(env={"AIFLOW_HOME": str(tmp_path)}).explanations == "off"
    (tmp_path / "aiflow.yaml").write_text("explanations: FULL\n")
    assert load_config(env={"AIFLOW_HOME": str(tmp_path)}).explanations == "full"
    env = {"AIFLOW_HOME": str(tmp_path), "AIFLOW_EXPLANATIONS": "off"}
    assert load_config(env=env).explanations == "off"
    assert load_config(env={"AIFLOW_HOME": str(tmp_path / "none")}).explanations == "decisions"


ODD = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.model.state import ValueStateDescriptor
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator


class Odd:  # a value that pickles, but whose fields and repr cannot be read

    def __init__(self, n):
        self.n = n

    def __getattribute__(self, name):
        if name == "__dict__":
            raise RuntimeError("no fields")
        return object.__getattribute__(self, name)

    def __getstate__(self):
        return {"n": self.n}

    def __setstate__(self, state):
        object.__setattr__(self, "n", state["n"])

    def __repr__(self):
        raise RuntimeError("no repr")


class Hidden(Condition):
    def is_met(self, event, context):
        context.get_state(ValueStateDescriptor(name="odd")).update(Odd(1))
        return False

    def describe(self):
        raise RuntimeError("no description")


with Workflow(name="odd", keep_open=True) as workflow:
    hidden = BashOperator(name="hidden", bash_command="echo never")
    hidden.action_on_condition(action=TaskAction.START, condition=Hidden(["tick"]))
    plain = BashOperator(name="plain", bash_command="echo plain")
    plain.action_on_condition(action=TaskAction.START, condition=SingleEventCondition("tick"))
"""


def test_recording_survives_what_cannot_be_described_or_shown(tester: WorkflowTester) -> None:
    tester.upload_source(ODD)
    wid = tester.start("odd")
    tester.send("tick")
    assert tester.statuses(wid) == {"plain": TaskStatus.SUCCESS}  # scheduling went on
    [event] = tester.engine.list_events(key="tick")
    rows = {e.task_name: e for e in tester.engine.explain_event(event.offset or 0).evaluations}
    [hidden] = rows["hidden"].rules
    assert hidden.condition == "Hidden" and hidden.outcome is Outcome.NOT_MET
    assert hidden.state == {"odd": "<Odd that cannot be shown: RuntimeError>"}
    assert rows["plain"].rules[0].outcome is Outcome.STARTED
