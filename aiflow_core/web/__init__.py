"""The REST API, web UI and Prometheus metrics of aiflow, as one ASGI app (extra ``web``).

``create_app(client, token=..., host=...)`` builds the app; a host mounts it
in its own ASGI app, or :func:`serve` runs it with uvicorn (``aiflow ui``).
"""

from __future__ import annotations

from aiflow_core.errors import install_hint

try:
    import fastapi  # noqa: F401
    import jinja2  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(f"aiflow's web app needs FastAPI and Jinja2: {install_hint('web')}") from exc

from aiflow_core.web.app import OPENAPI_PATH, create_app
from aiflow_core.web.server import serve

__all__ = ["OPENAPI_PATH", "create_app", "serve"]
