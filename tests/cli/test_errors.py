"""Errors keep their cause: the user's traceback of a workflow file, and a blob root that cannot be written."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from aiflow_storage.blob.retry import classify
from tests.cli.conftest import Cli, cli_env


def _stderr(cli: Cli, *args: str, code: int = 1, **env: str) -> str:
    result = cli(*args, code=code, **env)
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


def test_a_raising_workflow_file_shows_its_exception_and_line(cli: Cli, tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text('from aiflow_core import Workflow\n\n\ndef helper():\n    raise ValueError("boom")\n\n\nhelper()\n')
    err = _stderr(cli, "workflow", "upload", str(flow))
    first = err.splitlines()[0]
    assert first == f"error: workflow file {str(flow)!r} raised ValueError while loading: boom"
    assert f'File "{flow}", line 5, in helper' in err and 'raise ValueError("boom")' in err
    assert f'File "{flow}", line 8, in <module>' in err
    assert "aiflow_core" not in err and "loader.py" not in err
    verbose = cli("workflow", "upload", str(flow), "-v", code=1).stderr
    assert "loader.py" in verbose and "\nerror: workflow file" in verbose
    assert "loader.py" in cli("workflow", "upload", str(flow), code=1, AIFLOW_DEBUG="1").stderr


def test_a_syntax_error_shows_the_line_and_a_caret(cli: Cli, tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text("from aiflow_core import Workflow\nx = 1\nif x = 2:\n    pass\n")
    err = _stderr(cli, "workflow", "upload", str(flow))
    assert "raised SyntaxError while loading" in err.splitlines()[0]
    lines = err.splitlines()
    at = lines.index(f'  File "{flow}", line 3')
    assert lines[at + 1].strip() == "if x = 2:" and set(lines[at + 2].strip()) == {"^"}
    assert "aiflow_core" not in err


def test_the_cause_of_an_error_is_printed(cli: Cli, tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "import json\nfrom aiflow_core import Workflow\n"
        "try:\n    json.loads('{')\nexcept ValueError as exc:\n    raise RuntimeError('settings unreadable') from exc\n"
    )
    err = _stderr(cli, "workflow", "upload", str(flow))
    assert "raised RuntimeError while loading: settings unreadable" in err
    assert "JSONDecodeError: Expecting property name" in err and f'File "{flow}", line 4' in err


def _unprivileged() -> list[str]:
    """A command prefix under which file modes bind (root loses the right to override them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be made to bind")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_a_blob_root_that_cannot_be_written_is_a_permission_error(
    cli: Cli, workflow_files: dict[str, Path], tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    for root in (locked, locked / "blobs"):
        result = subprocess.run(
            [*_unprivileged(), *cli.argv("workflow", "upload", str(workflow_files["batch"]))],
            capture_output=True, text=True, env=cli_env(AIFLOW_BLOB_URL=str(root)), timeout=120,
        )
        assert result.returncode == 1, result.stderr
        assert "permission denied on" in result.stderr, result.stderr
        assert str(locked) in result.stderr and "credentials" not in result.stderr


def test_only_a_refused_local_path_is_a_permission_problem() -> None:
    assert classify(PermissionError(13, "Permission denied", "/srv/blobs/x")) == "permission"
    assert classify(PermissionError("Access Denied")) == "credentials"  # what s3fs raises for AccessDenied
