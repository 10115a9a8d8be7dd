"""``aiflow ui`` and ``aiflow server start -d --ui`` as real processes."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cli.conftest import cli_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _aiflow(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aiflow_core.cli.main", *args], env=cli_env(), capture_output=True, text=True,
        timeout=120, check=False, **kw,  # type: ignore[call-overload]
    )


def test_aiflow_ui_prints_a_sign_in_link_that_works(tmp_path: Path, aiflow_home: Path) -> None:
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'ui.db'}"
    process = subprocess.Popen(
        [sys.executable, "-m", "aiflow_core.cli.main", "--db-url", url, "ui", "--port", str(port)],
        env=cli_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        link = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        assert link, line
        token = link.group(0).rsplit("=", 1)[1]
        assert (aiflow_home / "aiflow_web.token").read_text().strip() == token
        assert (aiflow_home / "aiflow_web.token").stat().st_mode & 0o077 == 0
        deadline = time.monotonic() + 60
        with httpx.Client(follow_redirects=True) as http:
            while True:
                try:
                    signed = http.get(link.group(0))
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline and process.poll() is None, "aiflow ui did not come up"
                    time.sleep(0.1)
            assert signed.status_code == 200 and "Namespaces" in signed.text and "Read-only" not in signed.text
            sent = http.post(f"http://127.0.0.1:{port}/api/events", json={"key": "k"},
                             headers={"Authorization": f"Bearer {token}"})
            assert sent.status_code == 201
    finally:
        process.terminate()
        process.wait(30)


def test_server_start_with_the_ui_serves_its_engine(tmp_path: Path, aiflow_home: Path) -> None:
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'server.db'}"
    started = _aiflow("--db-url", url, "server", "start", "-d", "--executor", "thread", "--ui", "--ui-port",
                      str(port), "--ui-token", "a-token-of-the-server-ui-test")
    assert started.returncode == 0, started.stderr
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    engine = http.get("/api/engine").json()
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "the UI of the server did not come up"
                    time.sleep(0.1)
            assert engine["serving_engine"]
            metrics = http.get("/metrics").text
            assert "aiflow_scheduler_leader 1" in metrics  # the UI runs beside the engine and reads its health
            refused = http.post("/api/events", json={"key": "k"}, headers={"Authorization": "Bearer wrong-token"})
            assert refused.status_code == 403
            assert http.post("/api/events", json={"key": "k"},
                             headers={"Authorization": "Bearer a-token-of-the-server-ui-test"}).status_code == 201
    finally:
        stopped = _aiflow("server", "stop")
        assert stopped.returncode == 0, stopped.stderr
