"""REST routes of namespaces, workflows, snapshots, schedules and triggers."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from aiflow_core.errors import NotFoundError
from aiflow_core.web.models import NamespaceIn, PropertiesIn, ScheduleIn, WorkflowFileIn
from aiflow_core.web.records import record, records

WORKFLOW = "/namespaces/{namespace}/workflows/{workflow_name}"


def found(value: Any, kind: str, key: object) -> Any:
    """``value``, or NotFoundError naming ``kind`` ``key`` when it is None."""
    if value is None:
        raise NotFoundError(kind, key)
    return value


def workflow_record(workflow: Any) -> dict[str, Any]:
    """A workflow as data, without its source (``GET .../source`` has it)."""
    data: dict[str, Any] = record(workflow)
    data.pop("content", None)
    return data


def catalog_router(client: Any) -> APIRouter:
    """The routes acting on ``client``'s namespaces, workflows, snapshots, schedules and triggers."""
    api = APIRouter()

    # -- namespaces --
    @api.get("/namespaces", tags=["namespaces"], summary="List namespaces")
    def list_namespaces(limit: int | None = Query(None, ge=0), offset: int | None = Query(None, ge=0)) -> Any:
        return records(client.list_namespace(limit, offset))

    @api.post("/namespaces", tags=["namespaces"], status_code=201, summary="Create a namespace")
    def add_namespace(body: NamespaceIn) -> Any:
        return record(client.add_namespace(body.name, body.properties))

    @api.get("/namespaces/{namespace}", tags=["namespaces"], summary="Show a namespace")
    def get_namespace(namespace: str) -> Any:
        return record(found(client.get_namespace(namespace), "namespace", namespace))

    @api.put("/namespaces/{namespace}", tags=["namespaces"], summary="Replace a namespace's properties")
    def update_namespace(namespace: str, body: PropertiesIn) -> Any:
        return record(client.update_namespace(namespace, body.properties))

    @api.delete("/namespaces/{namespace}", tags=["namespaces"], status_code=204, summary="Delete a namespace")
    def delete_namespace(namespace: str, force: bool = False) -> Response:
        client.delete_namespace(namespace, force)
        return Response(status_code=204)

    # -- workflows --
    @api.get("/namespaces/{namespace}/workflows", tags=["workflows"], summary="List the workflows of a namespace")
    def list_workflows(
        namespace: str, limit: int | None = Query(None, ge=0), offset: int | None = Query(None, ge=0)
    ) -> Any:
        return [workflow_record(w) for w in client.list_workflows(namespace, limit, offset)]

    @api.post("/workflows", tags=["workflows"], status_code=201,
              summary="Upload a workflow file (it runs on the server); every workflow it defines is stored")
    def upload_workflows(body: WorkflowFileIn) -> Any:
        with tempfile.TemporaryDirectory(prefix="aiflow-upload-") as folder:
            path = Path(folder) / body.file_name
            path.write_text(body.content, encoding="utf-8")
            return [workflow_record(w) for w in client.upload_workflows(str(path))]

    @api.get(WORKFLOW, tags=["workflows"], summary="Show a workflow")
    def get_workflow(namespace: str, workflow_name: str) -> Any:
        workflow = client.get_workflow(workflow_name, namespace)
        return workflow_record(found(workflow, "workflow", f"{namespace}.{workflow_name}"))

    @api.get(WORKFLOW + "/source", tags=["workflows"], summary="The source of the workflow's file")
    def get_workflow_source(namespace: str, workflow_name: str) -> Any:
        workflow = found(client.get_workflow(workflow_name, namespace), "workflow", f"{namespace}.{workflow_name}")
        return Response(workflow.content, media_type="text/x-python; charset=utf-8")

    @api.get(WORKFLOW + "/graph", tags=["workflows"], summary="The workflow's tasks and rules as nodes and edges")
    def get_workflow_graph(namespace: str, workflow_name: str) -> Any:
        from aiflow_core.cli.graph import build_graph

        graph = build_graph(client.get_workflow_definition(workflow_name, namespace))
        return {
            "name": graph.name,
            "nodes": [{"id": k, "label": label, "task": task} for k, (label, task) in graph.nodes.items()],
            "edges": [{"source": e.source, "target": e.target, "label": e.label} for e in graph.edges],
        }

    @api.post(WORKFLOW + "/enable", tags=["workflows"], status_code=204, summary="Enable a workflow")
    def enable_workflow(namespace: str, workflow_name: str) -> Response:
        client.enable_workflow(workflow_name, namespace)
        return Response(status_code=204)

    @api.post(WORKFLOW + "/disable", tags=["workflows"], status_code=204,
              summary="Disable a workflow (running executions go on)")
    def disable_workflow(namespace: str, workflow_name: str) -> Response:
        client.disable_workflow(workflow_name, namespace)
        return Response(status_code=204)

    @api.delete(WORKFLOW, tags=["workflows"], status_code=204,
                summary="Delete a workflow with its executions, schedules, triggers and snapshots")
    def delete_workflow(namespace: str, workflow_name: str) -> Response:
        client.delete_workflow(workflow_name, namespace)
        return Response(status_code=204)

    # -- snapshots --
    @api.get(WORKFLOW + "/snapshots", tags=["snapshots"], summary="List a workflow's snapshots")
    def list_snapshots(
        namespace: str, workflow_name: str,
        limit: int | None = Query(None, ge=0), offset: int | None = Query(None, ge=0),
    ) -> Any:
        return records(client.list_workflow_snapshots(workflow_name, namespace, limit, offset))

    @api.delete(WORKFLOW + "/snapshots", tags=["snapshots"], status_code=204,
                summary="Delete a workflow's snapshots that no execution uses")
    def delete_snapshots(namespace: str, workflow_name: str) -> Response:
        client.delete_workflow_snapshots(workflow_name, namespace)
        return Response(status_code=204)

    @api.get("/snapshots/{snapshot_id}", tags=["snapshots"], summary="Show a snapshot")
    def get_snapshot(snapshot_id: int) -> Any:
        return record(found(client.get_workflow_snapshot(snapshot_id), "workflow snapshot", snapshot_id))

    @api.delete("/snapshots/{snapshot_id}", tags=["snapshots"], status_code=204, summary="Delete a snapshot")
    def delete_snapshot(snapshot_id: int) -> Response:
        client.delete_workflow_snapshot(snapshot_id)
        return Response(status_code=204)

    # -- schedules --
    @api.get(WORKFLOW + "/schedules", tags=["schedules"], summary="List a workflow's schedules")
    def list_schedules(
        namespace: str, workflow_name: str,
        limit: int | None = Query(None, ge=0), offset: int | None = Query(None, ge=0),
    ) -> Any:
        return records(client.list_workflow_schedules(workflow_name, namespace, limit, offset))

    @api.post(WORKFLOW + "/schedules", tags=["schedules"], status_code=201, summary="Add a schedule")
    def add_schedule(namespace: str, workflow_name: str, body: ScheduleIn) -> Any:
        return record(client.add_workflow_schedule(body.expression, workflow_name, namespace, body.misfire_policy))

    @api.delete(WORKFLOW + "/schedules", tags=["schedules"], status_code=204,
                summary="Delete every schedule of a workflow")
    def delete_schedules(namespace: str, workflow_name: str) -> Response:
        client.delete_workflow_schedules(workflow_name, namespace)
        return Response(status_code=204)

    @api.get("/schedules/{schedule_id}", tags=["schedules"], summary="Show a schedule")
    def get_schedule(schedule_id: int) -> Any:
        return record(found(client.get_workflow_schedule(schedule_id), "workflow schedule", schedule_id))

    @api.post("/schedules/{schedule_id}/pause", tags=["schedules"], status_code=204, summary="Pause a schedule")
    def pause_schedule(schedule_id: int) -> Response:
        client.pause_workflow_schedule(schedule_id)
        return Response(status_code=204)

    @api.post("/schedules/{schedule_id}/resume", tags=["schedules"], status_code=204, summary="Resume a schedule")
    def resume_schedule(schedule_id: int) -> Response:
        client.resume_workflow_schedule(schedule_id)
        return Response(status_code=204)

    @api.delete("/schedules/{schedule_id}", tags=["schedules"], status_code=204, summary="Delete a schedule")
    def delete_schedule(schedule_id: int) -> Response:
        client.delete_workflow_schedule(schedule_id)
        return Response(status_code=204)

    # -- triggers (added from Python: their rule is a condition object) --
    @api.get(WORKFLOW + "/triggers", tags=["triggers"], summary="List a workflow's triggers")
    def list_triggers(
        namespace: str, workflow_name: str,
        limit: int | None = Query(None, ge=0), offset: int | None = Query(None, ge=0),
    ) -> Any:
        return records(client.list_workflow_triggers(workflow_name, namespace, limit, offset))

    @api.delete(WORKFLOW + "/triggers", tags=["triggers"], status_code=204,
                summary="Delete every trigger of a workflow")
    def delete_triggers(namespace: str, workflow_name: str) -> Response:
        client.delete_workflow_triggers(workflow_name, namespace)
        return Response(status_code=204)

    @api.get("/triggers/{trigger_id}", tags=["triggers"], summary="Show a trigger")
    def get_trigger(trigger_id: int) -> Any:
        return record(found(client.get_workflow_trigger(trigger_id), "workflow trigger", trigger_id))

    @api.post("/triggers/{trigger_id}/pause", tags=["triggers"], status_code=204, summary="Pause a trigger")
    def pause_trigger(trigger_id: int) -> Response:
        client.pause_workflow_trigger(trigger_id)
        return Response(status_code=204)

    @api.post("/triggers/{trigger_id}/resume", tags=["triggers"], status_code=204, summary="Resume a trigger")
    def resume_trigger(trigger_id: int) -> Response:
        client.resume_workflow_trigger(trigger_id)
        return Response(status_code=204)

    @api.delete("/triggers/{trigger_id}", tags=["triggers"], status_code=204, summary="Delete a trigger")
    def delete_trigger(trigger_id: int) -> Response:
        client.delete_workflow_trigger(trigger_id)
        return Response(status_code=204)

    return api
