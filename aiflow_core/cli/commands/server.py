"""``aiflow server start [-d]|stop|status``: an engine (scheduler loop plus executor) as a process.

The server writes its pid to ``$AIFLOW_HOME/aiflow_server.pid`` once its
engine runs; with ``-d`` it runs detached with its output in
``<log_dir>/server.log`` (``$AIFLOW_HOME/logs`` by default), and ``start``
returns when the engine is up. While it runs it keeps its engine's health
(``Engine.health``) in ``$AIFLOW_HOME/aiflow_server.health``, which ``status``
prints. ``stop`` sends SIGTERM: the engine stops its
loop, stops the running tasks (SIGTERM to each task, SIGKILL after a grace
period), records them STOPPED and releases the scheduler lease.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiflow_core.cli.parser import EXIT_NOT_FOUND, command, group
from aiflow_core.errors import InvalidStateError, NotFoundError

PID_FILE_NAME = "aiflow_server.pid"
#: Where a running server keeps its engine's health (``Engine.health``) as JSON, renewed twice a second.
HEALTH_FILE_NAME = "aiflow_server.health"
LOG_FILE_NAME = "server.log"


class ServerNotRunningError(NotFoundError):
    """No aiflow server runs for this ``$AIFLOW_HOME``."""

    def __init__(self, pid_file: Path) -> None:
        super().__init__("aiflow server", str(pid_file))
        self.args = (f"no aiflow server is running (pid file {pid_file}); start one with aiflow server start -d",)


def server_paths() -> tuple[Path, Path]:
    """The pid file and the log file of the server of this ``$AIFLOW_HOME``."""
    from aiflow_core.config import load_config

    config = load_config()
    return config.home / PID_FILE_NAME, config.log_dir / LOG_FILE_NAME


def is_alive(pid: int) -> bool:
    """True if ``pid`` is a live (not zombie) process that looks like an aiflow server."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and b"aiflow" in cmdline
    return True


def running_pid(pid_file: Path) -> int | None:
    """The pid of the running server, or None (a stale pid file counts as none)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_alive(pid) else None


def _write_pid(pid_file: Path) -> None:
    from aiflow_core.homefiles import write_private

    tmp = pid_file.with_name(f".{pid_file.name}.{os.getpid()}")
    write_private(tmp, f"{os.getpid()}\n")
    tmp.replace(pid_file)


def _write_health(health_file: Path, record: dict[str, Any]) -> None:
    """Replace the health file atomically (owner-only: it may name the database in an error)."""
    tmp = health_file.with_name(f".{health_file.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(record, out)
    tmp.replace(health_file)


def _read_health(health_file: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(health_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _remove_own_pid(pid_file: Path) -> bool:
    try:
        if int(pid_file.read_text().strip()) == os.getpid():
            pid_file.unlink()
            return True
    except (OSError, ValueError):
        pass
    return False


def _serve(args: argparse.Namespace, ctx: Any, pid_file: Path) -> int:
    import logging
    import threading

    from aiflow_core.config import load_config
    from aiflow_core.engine import Engine
    from aiflow_core.logs import configure_logging
    from aiflow_storage.sql import mask_url

    log_format = args.log_format or load_config().log_format
    configure_logging(log_format)
    log = logging.getLogger("aiflow.server")
    stopping = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        log.info("received signal %s; stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    engine = Engine(db_url=ctx.db_url, executor=args.executor, parallelism=args.parallelism)
    configure_logging(log_format, mask=engine.mask)  # now that the engine knows the secrets to hide
    web = None
    try:
        engine.start()
        if args.ui:
            web = _start_ui(args, engine, log)
        _write_pid(pid_file)
        log.info("aiflow server running: pid %s, database %s, executor %s, pid file %s",
                 os.getpid(), mask_url(engine.db_url), type(engine.executor).__name__, pid_file)
        health_file = pid_file.with_name(HEALTH_FILE_NAME)
        while not stopping.wait(0.5):
            _write_health(health_file, engine.health().as_dict())
    finally:
        if web is not None:
            web.stop()
        engine.close()
        if _remove_own_pid(pid_file):
            pid_file.with_name(HEALTH_FILE_NAME).unlink(missing_ok=True)
        log.info("aiflow server stopped")
    return 0


def _start_ui(args: argparse.Namespace, engine: Any, log: Any) -> Any:
    """Serve the web UI and REST API on ``engine`` in a background thread; returns the running server."""
    from aiflow_core.cli.commands.ui import sign_in_link, web_token
    from aiflow_core.web import create_app
    from aiflow_core.web.server import BackgroundServer

    token = web_token(engine.home, args.ui_token)
    app = create_app(engine, token=token, host=args.ui_host)
    web = BackgroundServer(app, args.ui_host, args.ui_port).start()
    link = sign_in_link(args.ui_host, web.port, "TOKEN")
    log.info("aiflow UI at %s (the token is in $AIFLOW_HOME/aiflow_web.token unless given)", link)
    return web


def _daemonize(args: argparse.Namespace, ctx: Any, pid_file: Path, log_file: Path) -> int:
    import subprocess

    import aiflow_core

    env = dict(os.environ)
    if ctx.db_url:
        env["AIFLOW_DB_URL"] = ctx.db_url  # the environment, not argv: no password in `ps`
    source_root = str(Path(aiflow_core.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = source_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    argv = [sys.executable, "-m", "aiflow_core.cli.main", "server", "start"]
    if args.executor:
        argv += ["--executor", args.executor]
    if args.parallelism:
        argv += ["--parallelism", str(args.parallelism)]
    if args.log_format:
        argv += ["--log-format", args.log_format]
    if args.ui:
        argv += ["--ui", "--ui-host", args.ui_host, "--ui-port", str(args.ui_port)]
        if args.ui_token:
            env["AIFLOW_WEB_TOKEN"] = args.ui_token  # the environment, not argv: no token in `ps`
    from aiflow_core.homefiles import private_opener

    with open(log_file, "ab", opener=private_opener) as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + args.wait
    while running_pid(pid_file) != process.pid:
        code = process.poll()
        if code is not None:
            tail = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()][-1:]
            raise InvalidStateError(
                f"the aiflow server exited with code {code} while starting: {tail[0] if tail else ''}; "
                f"see {log_file}"
            )
        if time.monotonic() > deadline:
            raise InvalidStateError(
                f"the aiflow server (pid {process.pid}) did not come up within {args.wait} s; see {log_file}"
            )
        time.sleep(0.05)
    ctx.write(f"aiflow server started as a daemon (pid {process.pid}); log: {log_file}")
    return 0


def _start(args: argparse.Namespace, ctx: Any) -> int:
    pid_file, log_file = server_paths()
    pid = running_pid(pid_file)
    if pid is not None:
        raise InvalidStateError(
            f"an aiflow server is already running (pid {pid}, pid file {pid_file}); stop it with aiflow server stop"
        )
    if args.daemon:
        return _daemonize(args, ctx, pid_file, log_file)
    return _serve(args, ctx, pid_file)


def _stop(args: argparse.Namespace, ctx: Any) -> int:
    pid_file, _ = server_paths()
    pid = running_pid(pid_file)
    if pid is None:
        raise ServerNotRunningError(pid_file)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            raise InvalidStateError(
                f"the aiflow server (pid {pid}) is still stopping after {args.timeout} s; "
                f"wait longer or end it with kill -9 {pid}"
            )
        time.sleep(0.05)
    if running_pid(pid_file) is None and pid_file.exists():
        pid_file.unlink(missing_ok=True)
    ctx.write(f"aiflow server (pid {pid}) stopped")
    return 0


def _status(args: argparse.Namespace, ctx: Any) -> int:
    pid_file, log_file = server_paths()
    pid = running_pid(pid_file)
    health = _read_health(pid_file.with_name(HEALTH_FILE_NAME)) if pid is not None else None
    record = {
        "running": pid is not None, "pid": pid, "pid_file": str(pid_file), "log_file": str(log_file),
        "health": health,
    }
    if ctx.fmt == "table":
        ctx.write(f"aiflow server is running (pid {pid})" if pid else "aiflow server is not running")
        if health is not None:
            ctx.write(_describe_health(health))
    else:
        ctx.emit_one(record)
    return 0 if pid is not None else EXIT_NOT_FOUND


def _describe_health(health: dict[str, Any]) -> str:
    from aiflow_core.scheduler.health import Health

    try:
        return Health.from_dict(health).describe()
    except (KeyError, TypeError, ValueError):
        return f"health record unreadable: {health!r:.200}"


def register(sub: Any) -> None:
    """Register the ``server`` group."""
    srv = group(sub, "server", "Run an engine (scheduler loop and executor) as a server process.")
    p = command(srv, "start", _start,
                "Run the engine in the foreground, or with -d as a daemon (returns once it is up).",
                "aiflow server start -d\naiflow server start --executor thread\naiflow server start -d --ui")
    p.add_argument("-d", "--daemon", action="store_true", help="run detached; output goes to <log_dir>/server.log")
    p.add_argument("--executor", default=None, help="inline, thread, process (default: task_executor of the config)")
    p.add_argument("--parallelism", type=int, default=None, help="tasks run at once by the executor")
    p.add_argument("--wait", type=float, default=60.0, help="seconds -d waits for the engine to come up")
    p.add_argument("--ui", action="store_true", help="also serve the web UI and REST API (needs the 'web' extra)")
    p.add_argument("--log-format", choices=["text", "json"], default=None,
                   help="the server's own log lines as text or one JSON object per line (default: log_format "
                        "of the config)")
    from aiflow_core.cli.commands.ui import add_web_options

    add_web_options(p, "ui-")
    p = command(srv, "stop", _stop,
                "Stop the server: running tasks are stopped and recorded STOPPED; waits for it to exit.",
                "aiflow server stop --timeout 120")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the server to exit")
    command(srv, "status", _status,
            "Tell whether the server runs (exit code 0) or not (exit code 3), and how its scheduler loop fares.",
            "aiflow server status -o json", output=True)
