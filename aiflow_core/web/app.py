"""The ASGI app: the REST API under ``/api``, the web UI and ``/metrics``.

``create_app(client)`` returns a FastAPI (Starlette) app that a host mounts
in its own ASGI app (``host_app.mount("/aiflow", create_app(client, token=...))``)
or that :func:`serve` runs with uvicorn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from aiflow_core.web import errors
from aiflow_core.web.records import MaskedJSONResponse
from aiflow_core.web.routes_catalog import catalog_router
from aiflow_core.web.routes_explain import explain_router
from aiflow_core.web.routes_runs import runs_router
from aiflow_core.web.security import Guard

#: The OpenAPI description's path.
OPENAPI_PATH = "/api/openapi.json"


def create_app(
    client: Any,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    ui: bool = True,
    health: Callable[[], Any] | None = None,
) -> FastAPI:
    """The REST API, the web UI (unless ``ui`` is False) and ``/metrics`` on ``client``.

    ``client`` is a :class:`~aiflow_core.client.Client` (or an
    :class:`~aiflow_core.engine.Engine`). ``host`` is the address the app is
    served on: on a loopback address reading needs no token, on any other
    every call needs ``token``; calls that change something need it always
    (see :mod:`aiflow_core.web.security`). ``health`` returns the engine's
    :class:`~aiflow_core.scheduler.health.Health` for ``/metrics``; it
    defaults to ``client.health`` when the client is an engine.
    """
    guard = Guard(token, host)
    app = FastAPI(
        title="aiflow", version=_version(), openapi_url=None, docs_url=None, redoc_url=None,
        default_response_class=MaskedJSONResponse,
        description="Inspect and steer aiflow workflows: namespaces, workflows, executions, task runs, "
        "schedules, triggers and events. Reading needs no token on a loopback address; every call that "
        "changes something needs 'Authorization: Bearer TOKEN'.",
    )
    app.state.client = client
    app.state.guard = guard
    errors.install(app)
    checked = [Depends(guard.check)]

    @app.get(OPENAPI_PATH, include_in_schema=False, dependencies=checked)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(catalog_router(client), prefix="/api", dependencies=checked)
    app.include_router(runs_router(client), prefix="/api", dependencies=checked)
    app.include_router(explain_router(client), prefix="/api", dependencies=checked)
    from aiflow_core.web.metrics import metrics_router

    if health is None and callable(getattr(client, "health", None)):
        health = client.health
    app.include_router(metrics_router(client, health), dependencies=checked)
    if ui:
        from aiflow_core.web.pages import mount_ui

        mount_ui(app, client, guard)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from aiflow_core.errors import DISTRIBUTION

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0"
