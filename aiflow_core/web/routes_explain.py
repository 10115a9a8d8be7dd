"""REST routes of explanations: why a run started, why a task has not, what an event did."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query


def explain_router(client: Any) -> APIRouter:
    """The routes reading ``client``'s explanations (see :mod:`aiflow_core.api.explain`)."""
    api = APIRouter()

    @api.get("/task-executions/{task_execution_id}/explanation", tags=["explanations"],
             summary="Why a task run started: the chain of events and rules back to its execution's start")
    def explain_task_execution(task_execution_id: int) -> Any:
        explanation = client.explain_task_execution(task_execution_id)
        return {**explanation.to_dict(), "text": explanation.describe()}

    @api.get("/workflow-executions/{workflow_execution_id}/tasks/{task_name}/explanation", tags=["explanations"],
             summary="Why a task of an execution runs, ran, or has not started: what each of its rules waits for")
    def explain_task(
        workflow_execution_id: int, task_name: str,
        limit: int = Query(10, ge=1, le=1000, description="how many recent evaluations"),
    ) -> Any:
        explanation = client.explain_task(task_name, workflow_execution_id, limit)
        return {**explanation.to_dict(), "text": explanation.describe()}

    @api.get("/events/{offset}/explanation", tags=["explanations"],
             summary="Everything an event did: each task rule and workflow trigger that expected its key")
    def explain_event(offset: int) -> Any:
        explanation = client.explain_event(offset)
        return {**explanation.to_dict(), "text": explanation.describe()}

    @api.get("/evaluations", tags=["explanations"],
             summary="Recorded evaluations, newest first (keyset pages: pass next_before as before)")
    def list_evaluations(
        workflow_execution_id: int | None = Query(None, ge=1), task_name: str | None = None,
        event_offset: int | None = Query(None, ge=1),
        before: int | None = Query(None, ge=1, description="ids below this one (the next_before of a page)"),
        limit: int = Query(50, ge=1, le=1000),
    ) -> Any:
        found = client.list_evaluations(
            workflow_execution_id=workflow_execution_id, task_name=task_name, event_offset=event_offset,
            before_id=before, limit=limit + 1,
        )
        items = [e.to_dict() for e in found[:limit]]
        return {"items": items, "next_before": items[-1]["id"] if len(found) > limit and items else None}

    return api
