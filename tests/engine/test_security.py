"""Tasks hold no keys; stored pickles need the secret; files under $AIFLOW_HOME are owner-only; logs mask secrets."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import cli_env


def _run(argv: list[str], home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with this home under a permissive umask (022), so only explicit modes can make files private."""
    script = "import os, subprocess, sys; os.umask(0o022); sys.exit(subprocess.call(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", script, *argv], env=cli_env(AIFLOW_HOME=str(home)), capture_output=True,
        text=True, timeout=timeout, check=False,
    )


def _not_owner_only(home: Path) -> list[str]:
    wrong = []
    for root, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            path = Path(root, name)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                wrong.append(f"{path.relative_to(home)} {oct(mode)}")
    return wrong


def test_everything_created_under_the_home_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    aiflow = [sys.executable, "-m", "aiflow_core.cli.main"]
    assert _run([*aiflow, "config", "init"], home).returncode == 0
    quickstart = _run([sys.executable, "-m", "aiflow_core.quickstart"], home)
    assert quickstart.returncode == 0, quickstart.stdout + quickstart.stderr
    assert "SUCCESS" in quickstart.stdout
    started = _run([*aiflow, "server", "start", "-d", "--executor", "process"], home)
    assert started.returncode == 0, started.stderr
    try:
        assert (home / "aiflow_server.pid").exists()
    finally:
        stopped = _run([*aiflow, "server", "stop"], home)
        assert stopped.returncode == 0, stopped.stderr
    created = {str(p.relative_to(home)) for p in home.rglob("*")}
    assert {"aiflow.yaml", "pickle_secret", "aiflow.db", "logs", "blob", "working_dir", "snapshots"} <= created
    assert any(name.endswith(".log") and name.startswith("logs/default/quickstart") for name in created)
    assert "logs/server.log" in created
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert _not_owner_only(home) == []
