"""Seeing what happens: no-engine notes, a server's tasks versus ``aiflow run``, task logs, run progress."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.cli.conftest import Cli, cli_env, wait_for

TALKER = '''
from aiflow_core.operators.bash import BashOperator
from aiflow_core.model.workflow import Workflow

with Workflow(name="talker") as talker:
    BashOperator(name="talk", bash_command="for i in 1 2 3; do echo line $i; sleep 1; done; echo done")
'''


def test_start_and_show_say_when_no_engine_serves_the_database(
    cli: Cli, workflow_files: dict[str, Path]
) -> None:
    cli("workflow", "upload", str(workflow_files["batch"]))
    started = cli("workflow-execution", "start", "batch", "-o", "json")
    assert json.loads(started.stdout)["status"] == "INIT"
    assert "no engine serves the database" in started.stderr and "aiflow server start -d" in started.stderr
    assert "aiflow run FILE" in started.stderr
    shown = cli("workflow-execution", "show", "1")
    assert "stays INIT" in shown.stderr and "INIT" in shown.stdout


def test_a_server_runs_the_tasks_and_their_logs_can_be_read(
    cli: Cli, workflow_files: dict[str, Path], tmp_path: Path
) -> None:
    talker = tmp_path / "talker.py"
    talker.write_text(TALKER)
    cli("server", "start", "-d", "--executor", "thread")
    try:
        cli("workflow", "upload", str(talker))
        started = cli("workflow-execution", "start", "talker")
        assert "no engine" not in started.stderr

        refused = cli("run", str(workflow_files["batch"]), "--executor", "thread", code=1).stderr
        assert "already serves the database" in refused and "ignoring --executor" in refused
        on_server = cli("run", str(workflow_files["batch"]))
        assert "serves this database: it runs the tasks" in on_server.stderr
        assert on_server.stdout.splitlines()[-1].endswith(": SUCCESS")

        run = wait_for(lambda: cli.json("task-execution", "list", "1"), what="the talk task")[0]
        wait_for(lambda: cli.json("task-execution", "show", str(run["id"]))["log_path"], what="a log path")
        followed = cli("task-execution", "log", str(run["id"]), "--follow", "--interval", "0.2").stdout
        assert [line for line in followed.splitlines() if line.startswith(("line", "done"))] == [
            "line 1", "line 2", "line 3", "done"
        ]
        assert cli.json("task-execution", "show", str(run["id"]))["status"] == "SUCCESS"
        assert cli("task-execution", "log", str(run["id"])).stdout == followed

        assert cli.error("task-execution", "log", "99", code=3).startswith("error: task execution 99")
        Path(cli.json("task-execution", "show", str(run["id"]))["log_path"]).unlink()
        assert cli("task-execution", "log", str(run["id"]), "--follow").stdout == ""  # wrote nothing: empty
    finally:
        assert cli("server", "stop", code=None).returncode == 0


def test_run_shows_which_tasks_are_running_and_for_how_long(cli: Cli, tmp_path: Path) -> None:
    talker = tmp_path / "talker.py"
    talker.write_text(TALKER)
    result = subprocess.run(
        cli.argv("run", str(talker), "--executor", "thread", "--progress", "0.5"),
        capture_output=True, text=True, env=cli_env(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stdout.splitlines() if line.startswith("running:")]
    assert progress and all(re.fullmatch(r"running: talk \(\d+s\)", line) for line in progress), result.stdout
    quiet = cli("run", str(talker), "--executor", "thread", "--progress", "0").stdout
    assert "running:" not in quiet
