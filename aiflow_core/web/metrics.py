"""``GET /metrics``: the engine's figures in the Prometheus text format.

Everything is read when scraped, from the store (events appended, task
executions by status, the queue of task runs waiting for the executor, the
lease holder, how long recent runs waited after the event that started them)
and from the engine's :class:`~aiflow_core.scheduler.health.Health` when the
app runs beside an engine (loop step time, events behind the head,
leadership, failures).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from aiflow_core.model.status import TaskStatus

#: How many recent workflow executions the event-to-start latency is taken over.
LATENCY_EXECUTIONS = 10
#: At most this many task runs of them are looked at.
LATENCY_RUNS = 100
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Exposition:
    """Lines of the Prometheus text format, one HELP and TYPE per metric."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        """Add metric ``name`` of type ``kind`` with its samples (labels, value)."""
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{text}}} {value:g}" if text else f"{name} {value:g}")

    def text(self) -> str:
        """The exposition."""
        return "\n".join(self.lines) + "\n"


def start_latencies(client: Any) -> list[float]:
    """Seconds from the event that started a task run to its start, for the runs of the latest executions."""
    latencies: list[float] = []
    runs = [
        run
        for execution in client.find_workflow_executions(limit=LATENCY_EXECUTIONS)
        for run in client.list_task_executions(execution.id)
    ][-LATENCY_RUNS:]
    for run in runs:
        offset = run.cause.event_offset
        if offset is None or run.begin_date is None:
            continue
        found = client.list_events(begin_offset=offset - 1, limit=1, include_internal=True)
        event = found[0] if found and found[0].offset == offset else None
        if event is not None and event.create_time is not None:
            latencies.append(max((run.begin_date - event.create_time).total_seconds(), 0.0))
    return latencies


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def exposition(client: Any, health: Callable[[], Any] | None) -> str:
    """The metrics of ``client``'s database (and of its engine, with ``health``) as Prometheus text."""
    out = Exposition()
    out.metric("aiflow_events_appended_total", "counter", "Events appended to the log (its latest offset).",
               [({}, client.latest_offset())])
    with client.store.transaction(readonly=True) as tx:
        counts = tx.count_task_executions_by_status()
    out.metric("aiflow_task_executions", "gauge", "Task executions stored, by status.",
               [({"status": s.value}, counts.get(s, 0)) for s in TaskStatus])
    out.metric("aiflow_executor_queue_depth", "gauge", "Task executions queued for the executor, not yet running.",
               [({}, counts.get(TaskStatus.QUEUED, 0))])
    owner = client.serving_engine()
    out.metric("aiflow_lease_holder", "gauge", "The engine holding the scheduler lease (1 for its owner label).",
               [({"owner": owner}, 1)] if owner else [])
    latencies = sorted(start_latencies(client))
    out.metric("aiflow_event_to_start_seconds", "summary",
               f"Seconds from an event to the start of the task run it caused (runs of the latest "
               f"{LATENCY_EXECUTIONS} executions).",
               [({"quantile": str(q)}, _quantile(latencies, q)) for q in (0.5, 0.9, 0.99)] if latencies else [])
    out.lines += [f"aiflow_event_to_start_seconds_sum {sum(latencies):g}",
                  f"aiflow_event_to_start_seconds_count {len(latencies)}"]
    if health is not None:
        state = health()
        out.metric("aiflow_scheduler_leader", "gauge", "1 if this engine holds the scheduler lease.",
                   [({}, 1 if state.leader else 0)])
        out.metric("aiflow_scheduler_step_seconds", "summary", "Time the scheduler loop's steps took.", [])
        out.lines += [f"aiflow_scheduler_step_seconds_sum {state.step_seconds:g}",
                      f"aiflow_scheduler_step_seconds_count {state.steps}"]
        out.metric("aiflow_events_behind_head", "gauge", "Events of the log the scheduler has not applied yet.",
                   [({}, state.events_behind)] if state.events_behind is not None else [])
        out.metric("aiflow_scheduler_consecutive_failures", "gauge", "Scheduler steps that failed in a row.",
                   [({}, state.consecutive_failures)])
    return out.text()


def metrics_router(client: Any, health: Callable[[], Any] | None) -> APIRouter:
    """The ``/metrics`` route."""
    api = APIRouter()

    @api.get("/metrics", tags=["metrics"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(exposition(client, health), media_type=CONTENT_TYPE)

    return api
