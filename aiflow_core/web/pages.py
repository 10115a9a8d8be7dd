"""The web UI: server-rendered pages (Jinja2) with a little JavaScript that polls the REST API.

Pages: namespaces (``/``), a namespace's workflows, a workflow (rule graph,
schedules, triggers, executions), executions, an execution with the live
timeline of its task runs, a task run with its log, and events. Opening any
page with ``?token=TOKEN`` stores the token in an HttpOnly cookie, so that
the page's buttons may act.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from aiflow_core.errors import AIFlowError
from aiflow_core.model.status import WorkflowStatus
from aiflow_core.web.errors import error_body, status_of
from aiflow_core.web.records import masked, record, records
from aiflow_core.web.security import COOKIE, Guard

PAGE_SIZE = 50
#: The latest task runs an execution's page shows (its script asks for as many).
TIMELINE_RUNS = 200
_ROOT = files("aiflow_core.web")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(_ROOT / "templates")), autoescape=select_autoescape(["html"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def _when(value: Any) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS`` (UTC), or an empty string."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Pages:
    """Renders the pages for one client; checks access first (see :mod:`aiflow_core.web.security`)."""

    def __init__(self, client: Any, guard: Guard) -> None:
        self.client = client
        self.guard = guard
        self.env = _environment()

    def render(self, request: Request, template: str, build: Callable[[], dict[str, Any]]) -> Response:
        """The page ``template`` with what ``build`` returns; a login redirect, refusal or error page instead."""
        base = request.scope.get("root_path", "").rstrip("/")
        presented = request.query_params.get("token")
        if presented is not None:
            if not self.guard.valid(presented):
                return self._page("error.html", base, 403, {"title": "Refused", "message": "the token is wrong"})
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            target = f"{base}{request.url.path[len(base):] if request.url.path.startswith(base) else request.url.path}"
            response = RedirectResponse(target + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(COOKIE, presented, httponly=True, samesite="strict", path=base or "/")
            return response
        carried, by_cookie = self.guard.presented(request)
        signed_in = self.guard.valid(carried)
        if carried is not None and not signed_in and not by_cookie:  # a stale cookie only leaves the page read-only
            return self._page("error.html", base, 403, {"title": "Refused", "message": "the token is wrong"})
        if not signed_in and not self.guard.private(request):
            return self._page("error.html", base, 401, {
                "title": "Token needed", "message": "this server is not on a loopback address: open this page "
                "with ?token=TOKEN (aiflow ui prints the link)",
            })
        try:
            context = build()
        except AIFlowError as exc:
            body = error_body(exc)
            return self._page("error.html", base, status_of(exc), {"title": body["error"], "message": body["detail"]})
        context["can_act"] = signed_in
        return self._page(template, base, 200, context)

    def _page(self, template: str, base: str, status: int, context: dict[str, Any]) -> HTMLResponse:
        html = self.env.get_template(template).render(base=base, **context)
        return HTMLResponse(masked(html), status_code=status, headers={"Cache-Control": "no-store"})


def mount_ui(app: FastAPI, client: Any, guard: Guard) -> None:
    """Add the pages and their static files to ``app``."""
    pages = Pages(client, guard)
    app.mount("/static", StaticFiles(directory=str(_ROOT / "static")), name="static")

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        def build() -> dict[str, Any]:
            namespaces = client.list_namespace()
            return {"title": "Namespaces", "namespaces": [
                {"name": n.name, "workflows": len(client.list_workflows(n.name))} for n in namespaces
            ], "engine": client.serving_engine()}

        return pages.render(request, "index.html", build)

    @app.get("/ui/namespaces/{namespace}", include_in_schema=False)
    def namespace_page(request: Request, namespace: str) -> Response:
        def build() -> dict[str, Any]:
            workflows = records(client.list_workflows(namespace))
            return {"title": f"Namespace {namespace}", "namespace": namespace, "workflows": workflows}

        return pages.render(request, "namespace.html", build)

    @app.get("/ui/namespaces/{namespace}/workflows/{workflow_name}", include_in_schema=False)
    def workflow_page(request: Request, namespace: str, workflow_name: str) -> Response:
        def build() -> dict[str, Any]:
            from aiflow_core.cli.graph import build_graph
            from aiflow_core.web.svg import to_svg

            workflow = client.get_workflow(workflow_name, namespace)
            if workflow is None:
                client.list_workflow_schedules(workflow_name, namespace)  # raises NotFoundError naming it
            graph = to_svg(build_graph(client.get_workflow_definition(workflow_name, namespace)))
            return {
                "title": f"Workflow {namespace}.{workflow_name}", "workflow": record(workflow), "graph": graph,
                "schedules": records(client.list_workflow_schedules(workflow_name, namespace)),
                "triggers": records(client.list_workflow_triggers(workflow_name, namespace)),
                "executions": records(client.find_workflow_executions(namespace, workflow_name, limit=20)),
            }

        return pages.render(request, "workflow.html", build)

    @app.get("/ui/executions", include_in_schema=False)
    def executions_page(
        request: Request, namespace: str | None = None, workflow_name: str | None = None,
        status: WorkflowStatus | None = None, before: int | None = Query(None, ge=1),
    ) -> Response:
        def build() -> dict[str, Any]:
            found = records(client.find_workflow_executions(
                namespace or None, workflow_name or None, [status] if status else None, before, PAGE_SIZE + 1,
            ))
            more = len(found) > PAGE_SIZE
            found = found[:PAGE_SIZE]
            query = {k: v for k, v in (("namespace", namespace), ("workflow_name", workflow_name),
                                       ("status", status.value if status else None)) if v}
            next_page = urlencode({**query, "before": found[-1]["id"]}) if more and found else None
            return {
                "title": "Executions", "executions": found, "next_page": next_page, "filters": query,
                "statuses": [s.value for s in WorkflowStatus],
            }

        return pages.render(request, "executions.html", build)

    @app.get("/ui/executions/{workflow_execution_id}", include_in_schema=False)
    def execution_page(request: Request, workflow_execution_id: int) -> Response:
        def build() -> dict[str, Any]:
            execution = client.get_workflow_execution(workflow_execution_id)
            if execution is None:
                client.list_task_executions(workflow_execution_id)  # raises NotFoundError naming it
            definition = client.get_workflow_definition(execution.workflow_name, execution.namespace)
            latest = client.list_task_executions(workflow_execution_id, TIMELINE_RUNS, None, True)
            return {
                "title": f"Execution {workflow_execution_id}", "execution": record(execution),
                "runs": records(reversed(latest)),
                "tasks": sorted(definition.tasks) if definition is not None else [],
            }

        return pages.render(request, "execution.html", build)

    @app.get("/ui/task-executions/{task_execution_id}", include_in_schema=False)
    def task_execution_page(request: Request, task_execution_id: int) -> Response:
        def build() -> dict[str, Any]:
            run = client.get_task_execution(task_execution_id)
            if run is None:
                client.read_task_execution_log(task_execution_id)  # raises NotFoundError naming it
            piece = client.read_task_execution_log(task_execution_id)
            explanation = client.explain_task_execution(task_execution_id)
            return {
                "title": f"Task run {task_execution_id}", "run": record(run), "log": piece.text,
                "log_offset": piece.next_offset, "log_complete": piece.complete, "chain": explanation.chain,
            }

        return pages.render(request, "task_execution.html", build)

    @app.get("/ui/executions/{workflow_execution_id}/tasks/{task_name}", include_in_schema=False)
    def task_page(request: Request, workflow_execution_id: int, task_name: str) -> Response:
        def build() -> dict[str, Any]:
            explanation = client.explain_task(task_name, workflow_execution_id)
            return {"title": f"Task {task_name} of execution {workflow_execution_id}", "why": explanation}

        return pages.render(request, "task.html", build)

    @app.get("/ui/events/{offset}", include_in_schema=False)
    def event_page(request: Request, offset: int) -> Response:
        def build() -> dict[str, Any]:
            return {"title": f"Event {offset}", "explanation": client.explain_event(offset)}

        return pages.render(request, "event.html", build)

    @app.get("/ui/events", include_in_schema=False)
    def events_page(
        request: Request, key: str | None = None, namespace: str | None = None, sender: str | None = None,
        workflow_execution_id: int | None = Query(None, ge=1), since: str | None = None,
        before: int | None = Query(None, ge=1), internal: bool = False,
    ) -> Response:
        def build() -> dict[str, Any]:
            begin = _parse_time(since)
            found = records(client.list_events(
                key or None, namespace or None, None, begin, sender or None, PAGE_SIZE + 1, workflow_execution_id,
                internal, end_offset=before, newest_first=True,
            ))
            more = len(found) > PAGE_SIZE
            found = found[:PAGE_SIZE]
            filters = {k: v for k, v in (
                ("key", key), ("namespace", namespace), ("sender", sender),
                ("workflow_execution_id", workflow_execution_id), ("since", since), ("internal", internal or None),
            ) if v}
            return {
                "title": "Events", "events": found, "filters": filters, "query": urlencode(filters),
                "next_page": urlencode({**filters, "before": found[-1]["offset"]}) if more and found else None,
                "latest_offset": client.latest_offset(), "live": before is None,
            }

        return pages.render(request, "events.html", build)


def _parse_time(text: str | None) -> dt.datetime | None:
    """``since`` of the events page: an ISO 8601 time (UTC when it names no zone)."""
    if not text:
        return None
    from aiflow_core.errors import InvalidArgumentError

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(f"since must be an ISO 8601 time such as 2024-01-31T12:00, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
