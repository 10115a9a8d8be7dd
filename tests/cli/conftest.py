"""Running ``aiflow`` as a real subprocess against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Bytecode cache of the CLI subprocesses (also where PYTHONDONTWRITEBYTECODE is set), outside the repo.
PYCACHE = Path(tempfile.gettempdir()) / f"aiflow-cli-tests-pycache-{os.getuid()}"

WORKFLOWS = '''
from aiflow_core.model.action import TaskAction
from aiflow_core.operators.bash import BashOperator
from aiflow_core.model.workflow import Workflow

with Workflow(name="demo") as demo:
    first = BashOperator(name="first", bash_command="echo first")
    second = BashOperator(name="second", bash_command="echo second")
    on_go = BashOperator(name="on_go", bash_command="echo go")
    slow = BashOperator(name="slow", bash_command="sleep 60")
    second.start_after(first)
    on_go.action_on_event_received(action=TaskAction.START, event_key="go")
    slow.action_on_event_received(action=TaskAction.START, event_key="never")
'''

BATCH = '''
from aiflow_core.operators.bash import BashOperator
from aiflow_core.model.workflow import Workflow

with Workflow(name="batch") as batch:
    a = BashOperator(name="a", bash_command="echo a")
    b = BashOperator(name="b", bash_command="echo b")
    b.start_after(a)
'''

FAILING = '''
from aiflow_core.operators.bash import BashOperator
from aiflow_core.model.workflow import Workflow

with Workflow(name="failing") as failing:
    a = BashOperator(name="a", bash_command="echo about to fail; exit 3")
'''


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: this test's AIFLOW_HOME, the repo on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["COLUMNS"] = "250"
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


class Cli:
    """Runs ``python -m aiflow_core.cli.main`` with optional global ``--db-url``."""

    def __init__(self, db_url: str | None) -> None:
        self.db_url = db_url

    def argv(self, *args: str) -> list[str]:
        """The full command line of ``aiflow args``."""
        url = ["--db-url", self.db_url] if self.db_url else []
        return [sys.executable, "-m", "aiflow_core.cli.main", *url, *args]

    def __call__(
        self, *args: str, code: int | None = 0, stdin: str | None = None, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``aiflow args``; assert the exit code unless ``code`` is None."""
        result = subprocess.run(
            self.argv(*args), input=stdin if stdin is not None else "", capture_output=True, text=True,
            env=cli_env(**env), timeout=timeout,
        )
        if code is not None:
            assert result.returncode == code, (
                f"aiflow {' '.join(args)} exited {result.returncode}, expected {code}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        """Run a listing or show command with ``-o json`` and parse its output."""
        return json.loads(self(*args, "-o", "json", **kw).stdout)

    def error(self, *args: str, code: int) -> str:
        """Run a failing command; assert one line on stderr, no traceback, and return it."""
        result = self(*args, code=code)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ") and "Traceback" not in result.stderr
        return lines[0]


def wait_for(
    check: Callable[[], Any], timeout: float = 60.0, what: str = "condition", interval: float = 0.2
) -> Any:
    """Poll ``check`` every ``interval`` seconds until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def cli(sqlite_url: str) -> Cli:
    """The CLI on a fresh SQLite database (named by --db-url)."""
    return Cli(sqlite_url)


@pytest.fixture
def workflow_files(tmp_path: Path) -> dict[str, Path]:
    """Workflow files: demo (event-driven), batch (ends SUCCESS), failing (ends FAILED)."""
    files = {}
    for name, text in (("demo", WORKFLOWS), ("batch", BATCH), ("failing", FAILING)):
        files[name] = tmp_path / f"{name}.py"
        files[name].write_text(text)
    return files
