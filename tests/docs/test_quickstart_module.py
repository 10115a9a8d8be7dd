"""``python -m aiflow_core.quickstart``, the README's first command, ends SUCCESS by itself as the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_quickstart_module_ends_success_as_the_readme_shows(tmp_path: Path) -> None:
    env = {**os.environ, "AIFLOW_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-m", "aiflow_core.quickstart"], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=240,
    )
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    out = result.stdout
    assert "workflow execution 1: SUCCESS" in out
    for task in ("task1", "task2", "task3", "task4"):
        assert re.search(rf"^  {task}\s+run 1\s+SUCCESS\s+started by", out, flags=re.MULTILINE), task
    assert "rule #0 (event 'key') on event 'key'" in out
    shown = README.read_text(encoding="utf-8")
    assert "workflow execution 1: SUCCESS" in shown
    assert "task4  run 1  SUCCESS  started by rule #0 (event 'key') on event 'key'" in shown
    assert "task4  run 1  SUCCESS  started by rule #0 (event 'key') on event 'key'" in out
