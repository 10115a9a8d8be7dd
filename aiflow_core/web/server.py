"""Serving the web app with uvicorn, in the foreground or beside an engine in a background thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from aiflow_core.errors import install_hint


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(f"serving aiflow's web app needs uvicorn: {install_hint('web')}") from exc
    return uvicorn


def make_server(app: Any, host: str = "127.0.0.1", port: int = 8080) -> Any:
    """A ``uvicorn.Server`` for ``app`` on ``host``:``port`` (``port`` 0 picks a free one)."""
    uvicorn = _uvicorn()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


def serve(app: Any, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve ``app`` in this thread until interrupted."""
    make_server(app, host, port).run()


class BackgroundServer:
    """``app`` served by uvicorn in a daemon thread; :meth:`stop` ends it.

    ``port`` is the one actually bound once :meth:`start` returns.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = make_server(app, host, port)
        self.host = host
        self.port = port
        self._thread = threading.Thread(target=self.server.run, name="aiflow-web", daemon=True)

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        """Start serving; returns once the socket listens (raises RuntimeError if it did not in ``timeout`` s)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start on {self.host}:{self.port}; see its log")
            time.sleep(0.02)
        sockets = [s for server in self.server.servers for s in server.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        """The base URL the app answers on."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        self._thread.join(timeout)
