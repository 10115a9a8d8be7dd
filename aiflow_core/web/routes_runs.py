"""REST routes of workflow executions, task executions, their logs, and events."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from aiflow_core.model.status import WorkflowStatus
from aiflow_core.web.models import EventIn
from aiflow_core.web.records import masked, record, records
from aiflow_core.web.routes_catalog import WORKFLOW, found

#: How long a followed log waits between reads.
FOLLOW_INTERVAL = 0.25
PAGE = Query(50, ge=1, le=1000, description="how many to return")


def _page(items: list[dict[str, Any]], cursor_field: str, limit: int, cursor_name: str) -> dict[str, Any]:
    """A keyset page: the items and the cursor of the next page (None on the last page)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, cursor_name: items[-1][cursor_field] if more and items else None}


def follow_log(client: Any, task_execution_id: int, offset: int, interval: float = FOLLOW_INTERVAL) -> Iterator[bytes]:
    """The log of a task run from ``offset`` on, as it grows, until the run has ended and all is read."""
    while True:
        piece = client.read_task_execution_log(task_execution_id, offset)
        if piece.text:
            yield masked(piece.text).encode("utf-8")
        offset = piece.next_offset
        if piece.complete:
            return
        time.sleep(interval)


def runs_router(client: Any) -> APIRouter:
    """The routes on ``client``'s executions, task executions, logs and events."""
    api = APIRouter()

    # -- workflow executions --
    @api.get("/workflow-executions", tags=["workflow executions"],
             summary="Executions of every workflow, newest first (keyset pages: pass next_before as before)")
    def find_workflow_executions(
        namespace: str | None = None, workflow_name: str | None = None,
        status: list[WorkflowStatus] | None = Query(None, description="keep these statuses (repeatable)"),
        before: int | None = Query(None, ge=1, description="ids below this one (the next_before of a page)"),
        limit: int = PAGE,
    ) -> Any:
        found_ = client.find_workflow_executions(namespace, workflow_name, status, before, limit + 1)
        return _page(records(found_), "id", limit, "next_before")

    @api.get(WORKFLOW + "/executions", tags=["workflow executions"], summary="A workflow's executions, oldest first")
    def list_workflow_executions(
        namespace: str, workflow_name: str,
        limit: int | None = Query(None, ge=0), offset: int | None = Query(None, ge=0),
    ) -> Any:
        return records(client.list_workflow_executions(workflow_name, namespace, limit, offset))

    @api.post(WORKFLOW + "/executions", tags=["workflow executions"], status_code=201,
              summary="Start an execution of the workflow's latest snapshot")
    def start_workflow_execution(namespace: str, workflow_name: str) -> Any:
        execution_id = client.start_workflow_execution(workflow_name, namespace)
        return record(client.get_workflow_execution(execution_id))

    @api.post(WORKFLOW + "/executions/stop", tags=["workflow executions"], status_code=204,
              summary="Stop every running execution of a workflow")
    def stop_workflow_executions(namespace: str, workflow_name: str) -> Response:
        client.stop_workflow_executions(workflow_name, namespace)
        return Response(status_code=204)

    @api.get("/workflow-executions/{workflow_execution_id}", tags=["workflow executions"],
             summary="Show a workflow execution")
    def get_workflow_execution(workflow_execution_id: int) -> Any:
        execution = client.get_workflow_execution(workflow_execution_id)
        return record(found(execution, "workflow execution", workflow_execution_id))

    @api.post("/workflow-executions/{workflow_execution_id}/stop", tags=["workflow executions"], status_code=202,
              summary="Ask the engine to stop an execution and its tasks")
    def stop_workflow_execution(workflow_execution_id: int) -> Any:
        client.stop_workflow_execution(workflow_execution_id)
        return record(client.get_workflow_execution(workflow_execution_id))

    @api.delete("/workflow-executions/{workflow_execution_id}", tags=["workflow executions"], status_code=204,
                summary="Delete a finished execution")
    def delete_workflow_execution(workflow_execution_id: int) -> Response:
        client.delete_workflow_execution(workflow_execution_id)
        return Response(status_code=204)

    # -- task executions --
    @api.get("/workflow-executions/{workflow_execution_id}/task-executions", tags=["task executions"],
             summary="The task runs of an execution, oldest first")
    def list_task_executions(
        workflow_execution_id: int,
        limit: int | None = Query(None, ge=0), offset: int | None = Query(None, ge=0),
        newest_first: bool = Query(False, description="the latest runs first (with limit: the latest N)"),
    ) -> Any:
        return records(client.list_task_executions(workflow_execution_id, limit, offset, newest_first))

    @api.post("/workflow-executions/{workflow_execution_id}/tasks/{task_name}/start", tags=["task executions"],
              status_code=202, summary="Ask the engine to start a task of a running execution")
    def start_task_execution(workflow_execution_id: int, task_name: str) -> Any:
        return {"task": client.start_task_execution(workflow_execution_id, task_name)}

    @api.post("/workflow-executions/{workflow_execution_id}/tasks/{task_name}/stop", tags=["task executions"],
              status_code=202, summary="Ask the engine to stop the running execution of a task")
    def stop_task_execution(workflow_execution_id: int, task_name: str) -> Any:
        client.stop_task_execution(workflow_execution_id, task_name)
        return {"task": f"{workflow_execution_id}.{task_name}"}

    @api.get("/task-executions/{task_execution_id}", tags=["task executions"], summary="Show a task run")
    def get_task_execution(task_execution_id: int) -> Any:
        run = client.get_task_execution(task_execution_id)
        return record(found(run, "task execution", task_execution_id))

    @api.get("/task-executions/{task_execution_id}/log", tags=["task executions"],
             summary="A task run's log from a byte offset; with follow=true streamed as it grows until the run ends",
             response_model=None)
    def get_task_log(
        task_execution_id: int, offset: int = Query(0, ge=0), follow: bool = False
    ) -> Any:
        piece = client.read_task_execution_log(task_execution_id, offset)  # 404 before streaming starts
        if follow:
            return StreamingResponse(
                follow_log(client, task_execution_id, offset), media_type="text/plain; charset=utf-8",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
        data = record(piece)
        data["text"] = masked(piece.text)
        return data

    # -- events --
    @api.get("/events", tags=["events"],
             summary="Events, newest first (keyset pages: pass next_before as before); with after, oldest first")
    def list_events(
        key: list[str] | None = Query(None, description="keep these keys (repeatable)"),
        namespace: str | None = None, sender: str | None = None,
        workflow_execution_id: int | None = Query(None, ge=1),
        since: dt.datetime | None = Query(None, description="created at or after (ISO 8601)"),
        until: dt.datetime | None = Query(None, description="created before (ISO 8601)"),
        before: int | None = Query(None, ge=1, description="offsets below this one (the next_before of a page)"),
        after: int | None = Query(None, ge=0, description="offsets above this one, oldest first (to follow)"),
        internal: bool = Query(False, description="include task status changes and notices"),
        limit: int = PAGE,
    ) -> Any:
        events = client.list_events(
            key, namespace, after, since, sender, limit + 1, workflow_execution_id, internal,
            end_offset=before, end_time=until, newest_first=after is None,
        )
        page = _page(records(events), "offset", limit, "next_before")
        if after is not None:
            page["next_before"] = None
        page["latest_offset"] = client.latest_offset()
        return page

    @api.post("/events", tags=["events"], status_code=201, summary="Send a user event")
    def send_event(body: EventIn) -> Any:
        return record(client.send_event(
            body.key, body.value, body.namespace, body.sender, body.context, body.workflow_execution_id,
            body.idempotency_key,
        ))

    @api.get("/events/latest-offset", tags=["events"], summary="The offset of the newest event")
    def latest_offset() -> Any:
        return {"latest_offset": client.latest_offset()}

    @api.get("/engine", tags=["engine"], summary="The engine holding the database's scheduler lease, if any")
    def serving_engine() -> Any:
        return {"serving_engine": client.serving_engine()}

    return api
