"""How errors become HTTP answers: one table from aiflow's typed errors to status codes.

Every answer of an error is JSON ``{"error": <type>, "detail": <message>}``
with the secrets of URLs masked; a missing object adds ``kind`` and ``key``
(404), a malformed request ``field`` (422).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiflow_core import errors
from aiflow_core.web.records import masked

log = logging.getLogger("aiflow.web")

#: Error types and their status codes, the most specific first (the first match wins).
STATUS_OF: tuple[tuple[type[BaseException], int], ...] = (
    (errors.NotFoundError, 404),
    (errors.AlreadyExistsError, 409),
    (errors.InvalidStateError, 409),
    (errors.StoreUnavailableError, 503),
    (errors.StoreConflictError, 409),
    (errors.StoreDataError, 422),
    (errors.StoreError, 500),
    (errors.SchemaVersionError, 500),
    (errors.IntegrityError, 500),
    (errors.AIFlowError, 422),  # the rest of the family: bad arguments, expressions, workflows, events
)


_HTTP_ERRORS = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed"}


def status_of(error: BaseException) -> int:
    """The HTTP status answering ``error`` (500 for what aiflow does not know)."""
    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            return status
    return 500


def error_body(error: BaseException) -> dict[str, Any]:
    """The JSON body answering ``error``."""
    body: dict[str, Any] = {"error": type(error).__name__, "detail": masked(str(error))}
    if isinstance(error, errors.NotFoundError):
        body["kind"] = error.kind
        body["key"] = error.key if isinstance(error.key, (int, str)) else str(error.key)
    return body


def _field(location: Any) -> str:
    """``("body", "key")`` -> ``key``; ``("query", "limit")`` -> ``limit``."""
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or ".".join(str(p) for p in location)


def install(app: FastAPI) -> None:
    """Register the handlers of ``app``: aiflow errors, malformed requests and HTTP errors."""

    async def aiflow_error(request: Request, exc: Exception) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body(exc), status_code=status)

    async def malformed(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {
                "field": _field(e.get("loc", ())), "location": str((e.get("loc") or ("",))[0]),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "malformed request"}
        return JSONResponse(
            {
                "error": "ValidationError", "field": first["field"],
                "detail": f"{first['field']}: {first['message']}", "problems": problems,
            },
            status_code=422,
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        name = _HTTP_ERRORS.get(exc.status_code, "HTTPError")
        body = {"error": name, "detail": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": type(exc).__name__, "detail": masked(str(exc))}, status_code=500)

    app.add_exception_handler(errors.AIFlowError, aiflow_error)
    app.add_exception_handler(RequestValidationError, malformed)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
