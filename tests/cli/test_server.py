"""``aiflow server`` as a daemon steering executions and tasks; ``aiflow run`` on an embedded engine."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.cli.conftest import Cli, cli_env, wait_for


def _tasks(cli: Cli, execution_id: int) -> dict[str, Any]:
    return {t["task_name"]: t for t in cli.json("task-execution", "list", str(execution_id))}


def _task_status(cli: Cli, execution_id: int, task: str, status: str) -> Any:
    def check() -> Any:
        found = _tasks(cli, execution_id).get(task)
        return found if found and found["status"] == status else None

    return wait_for(check, what=f"task {task} {status}")


def test_server_daemon_steers_executions_and_tasks(
    cli: Cli, workflow_files: dict[str, Path], aiflow_home: Path
) -> None:
    assert cli("server", "status", code=3).stdout.strip() == "aiflow server is not running"
    assert "no aiflow server is running" in cli.error("server", "stop", code=3)
    started = cli("server", "start", "-d", "--executor", "thread").stdout
    assert "started as a daemon" in started and str(aiflow_home / "logs" / "server.log") in started
    try:
        status = cli.json("server", "status")
        assert status["running"] is True and status["pid_file"] == str(aiflow_home / "aiflow_server.pid")
        assert int((aiflow_home / "aiflow_server.pid").read_text()) == status["pid"]
        health = wait_for(lambda: cli.json("server", "status")["health"], what="a health record")
        assert health["leader"] is True and health["healthy"] is True and health["consecutive_failures"] == 0
        assert (aiflow_home / "aiflow_server.health").stat().st_mode & 0o077 == 0
        assert "leader; last successful step" in cli("server", "status").stdout
        assert "already running" in cli.error("server", "start", "-d", code=1)

        cli("workflow", "upload", str(workflow_files["demo"]))
        execution = cli.json("workflow-execution", "start", "demo")["id"]
        second = _task_status(cli, execution, "second", "SUCCESS")
        assert second["started_by"].startswith("rule #0 (first SUCCESS) on event")
        shown = cli.json("task-execution", "show", str(second["id"]))
        assert shown["cause"]["kind"] == "RULE" and shown["cause"]["rule"] == "first SUCCESS"
        assert "second" in Path(shown["log_path"]).read_text().splitlines()
        table = cli("task-execution", "show", str(second["id"])).stdout
        assert "started_by" in table and "log_path" in table

        cli("event", "send", "go", "now")
        on_go = _task_status(cli, execution, "on_go", "SUCCESS")
        assert on_go["cause"]["event_key"] == "go" and on_go["execution_type"] == "EVENT"

        assert "asked the engine to start" in cli("task-execution", "start", str(execution), "slow").stdout
        _task_status(cli, execution, "slow", "RUNNING")
        cli("task-execution", "stop", str(execution), "slow")
        slow = _task_status(cli, execution, "slow", "STOPPED")
        assert slow["started_by"].startswith("manual") and slow["cause"]["kind"] == "MANUAL"
        assert cli.error("task-execution", "start", str(execution), "nosuch", code=3).startswith("error: task")

        cli("workflow-execution", "stop", str(execution))
        wait_for(lambda: cli.json("workflow-execution", "show", str(execution))["status"] == "STOPPED",
                 what="execution STOPPED")
        assert "already ended" in cli("workflow-execution", "stop", str(execution)).stdout
        assert "finished" in cli.error("task-execution", "start", str(execution), "slow", code=1)

        two = [cli.json("workflow-execution", "start", "demo")["id"] for _ in range(2)]
        cli("workflow-execution", "stop-all", "demo", "-y")
        wait_for(lambda: {e["status"] for e in cli.json("workflow-execution", "list", "demo")} == {"STOPPED"},
                 what="every execution STOPPED")
        cli("workflow-execution", "delete", str(two[0]), "-y")
        assert cli.error("workflow-execution", "show", str(two[0]), code=3)
        assert "started_by" in cli("workflow-execution", "list", "demo").stdout

        cli("task-execution", "start", str(two[1]), "slow", code=1)  # finished executions take no commands
        running = cli.json("workflow-execution", "start", "demo")["id"]
        cli("task-execution", "start", str(running), "slow")
        _task_status(cli, running, "slow", "RUNNING")
    finally:
        stopped = cli("server", "stop", code=None)
    assert stopped.returncode == 0, stopped.stderr
    assert not (aiflow_home / "aiflow_server.pid").exists()
    assert cli("server", "status", code=3)
    # the documented stop policy: running tasks are stopped and recorded STOPPED
    assert _tasks(cli, running)["slow"]["status"] == "STOPPED"
    log = (aiflow_home / "logs" / "server.log").read_text()
    assert "aiflow server running" in log and "aiflow server stopped" in log


def test_foreground_server_and_stale_pid_file(cli: Cli, aiflow_home: Path) -> None:
    pid_file = aiflow_home / "aiflow_server.pid"
    pid_file.write_text("999999\n")  # stale: no such process
    assert cli("server", "status", code=3)
    server = subprocess.Popen(cli.argv("server", "start", "--executor", "inline"), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=cli_env())
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() == str(server.pid), what="pid file")
        assert cli.json("server", "status")["pid"] == server.pid
    finally:
        os.kill(server.pid, signal.SIGINT)
        assert server.wait(60) == 0
    assert not pid_file.exists()


def test_run_follows_an_execution_and_exits_with_its_outcome(cli: Cli, workflow_files: dict[str, Path]) -> None:
    ok = cli("run", str(workflow_files["batch"]), "--executor", "thread")
    lines = ok.stdout.splitlines()
    assert lines[0] == "started workflow execution 1 of default.batch"
    assert "task a #1 (try 1): SUCCESS" in lines and "task b #1 (try 1): SUCCESS" in lines
    assert lines.index("task a #1 (try 1): SUCCESS") < lines.index("task b #1 (try 1): SUCCESS")
    assert lines[-1] == "workflow execution 1: SUCCESS"

    failed = cli("run", str(workflow_files["failing"]), "--executor", "thread", code=1)
    failure = next(line for line in failed.stdout.splitlines() if "FAILED" in line and "task a" in line)
    assert "(log: " in failure and failed.stdout.splitlines()[-1] == "workflow execution 2: FAILED"

    endless = cli("run", str(workflow_files["demo"]), "--executor", "thread", "--timeout", "3", code=1)
    assert "still RUNNING after 3.0 s; stopping it" in endless.stdout
    assert endless.stdout.splitlines()[-1] == "workflow execution 3: STOPPED"

    several = workflow_files["batch"].parent / "several.py"
    several.write_text(workflow_files["batch"].read_text() + workflow_files["failing"].read_text())
    assert "--workflow NAME" in cli.error("run", str(several), code=2)
    assert cli.error("run", str(several), "--workflow", "nope", code=3)
    assert cli("run", str(several), "--workflow", "batch", "--executor", "inline").stdout.endswith("SUCCESS\n")
    assert cli.error("run", str(several.with_name("missing.py")), code=3)
