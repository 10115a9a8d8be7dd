"""The shell quickstart of docs/quickstart-shell.md, run exactly as documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import REPO, cli_env

DOC = REPO / "docs" / "quickstart-shell.md"


def test_quickstart_shell_runs_as_documented(tmp_path: Path, aiflow_home: Path) -> None:
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 6
    shim = tmp_path / "bin" / "aiflow"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m aiflow_core.cli.main "$@"\n')
    shim.chmod(0o755)
    env = cli_env(PATH=f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("AIFLOW_DB_URL", None)
    script = "set -euo pipefail\n" + "\n".join(blocks)
    try:
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=240)
    finally:
        subprocess.run([str(shim), "server", "stop"], env=env, capture_output=True, timeout=120)
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    out = result.stdout
    assert "aiflow server started as a daemon" in out and "aiflow server is running" in out
    assert re.search(r"^1\s+default\s+quickstart_workflow\s+true", out, flags=re.MULTILINE)
    assert "flowchart LR" in out
    assert re.search(r"^1\s+default\s+quickstart_workflow\s+SUCCESS\s+MANUAL", out, flags=re.MULTILINE)
    for task in ("task1", "task2", "task3", "task4"):
        assert re.search(rf"^\d+\s+{task}\s+1\s+1\s+SUCCESS", out, flags=re.MULTILINE), task
    assert "rule #0 (event 'key') on event 'key'" in out
    assert "I am the 4th task." in out
    assert re.search(r"aiflow server \(pid \d+\) stopped", out)
    assert (aiflow_home / "aiflow.yaml").exists() and (aiflow_home / "logs" / "server.log").exists()
