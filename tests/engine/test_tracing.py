"""OpenTelemetry spans (extra ``otel``): scheduler steps, task executions, each linked to the event that caused it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from aiflow_core import Engine
from aiflow_core.errors import ConfigError
from aiflow_core.model.internal.events import task_status_event_key
from aiflow_core.testing import FakeClock

WORKFLOW = """
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name="traced") as workflow:
    first = BashOperator(name="first", bash_command="echo first")
    second = BashOperator(name="second", bash_command="echo second")
    on_go = BashOperator(name="on_go", bash_command="exit 3")
    second.start_after(first)
    on_go.action_on_event_received(action=TaskAction.START, event_key="go")
"""


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def engine(tmp_path: Path, exporter: InMemorySpanExporter) -> Iterator[Engine]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    stepped = Engine(db_url="memory://", executor="inline", clock=FakeClock(), log_dir=tmp_path / "logs",
                     tracing=provider)
    yield stepped
    stepped.close()


def _named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def test_task_spans_are_linked_to_the_event_that_caused_them(
    engine: Engine, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    (tmp_path / "traced.py").write_text(WORKFLOW)
    engine.upload_workflows(str(tmp_path / "traced.py"))
    execution_id = engine.start_workflow_execution("traced")
    engine.run_until_idle()
    go = engine.send_event("go")
    engine.run_until_idle()

    spans = exporter.get_finished_spans()
    steps = _named(spans, "aiflow.scheduler.step")
    assert steps and sum(int(s.attributes["aiflow.events_applied"]) for s in steps if s.attributes) > 0
    tasks = {str(s.attributes["aiflow.task.name"]): s for s in _named(spans, "aiflow.task_execution") if s.attributes}
    runs = {run.task_name: run for run in engine.list_task_executions(execution_id)}
    assert set(tasks) == {"first", "second", "on_go"}
    for name, span in tasks.items():
        assert span.attributes is not None
        assert span.attributes["aiflow.task_execution.id"] == runs[name].id
        assert span.attributes["aiflow.workflow_execution.id"] == execution_id
        assert span.attributes["aiflow.task_execution.status"] == runs[name].status.value
    assert tasks["on_go"].status.status_code is StatusCode.ERROR
    assert tasks["second"].status.status_code is not StatusCode.ERROR

    events = {s.context.span_id: s for s in _named(spans, "aiflow.event") if s.context is not None}
    assert tasks["first"].links == ()  # started with the execution: no event behind it
    for name, key, offset in (
        ("on_go", "go", go.offset),
        ("second", task_status_event_key("traced", "first"), runs["second"].cause.event_offset),
    ):
        [link] = tasks[name].links
        event = events[link.context.span_id]
        assert event.attributes is not None
        assert (event.attributes["aiflow.event.key"], event.attributes["aiflow.event.offset"]) == (key, offset)
        assert event.parent is not None and event.parent.span_id in {s.context.span_id for s in steps if s.context}
        assert tasks[name].context is not None and tasks[name].context.trace_id != event.context.trace_id


def test_tracing_without_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigError, match=r"tracing needs OpenTelemetry; install it with pip install '.*\[otel\]'"):
        Engine(db_url="memory://", executor="inline", clock=FakeClock(), log_dir=tmp_path, tracing=True)
