"""The README's Python snippet runs and prints what it says: the execution's end and every task's status."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.docs.test_guide_examples import SCRIPT_TIMEOUT, parse

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_snippet_waits_for_the_quickstart_and_prints_each_task(tmp_path: Path) -> None:
    blocks = parse(REPO / "README.md")
    assert len(blocks) == 1 and blocks[0].runs
    shutil.copy(REPO / "aiflow_core" / "examples" / "quickstart_workflow.py", tmp_path / "quickstart_workflow.py")
    (tmp_path / "snippet.py").write_text(blocks[0].code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW_")}
    env["AIFLOW_HOME"] = str(tmp_path / "aiflow_home")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    result = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=SCRIPT_TIMEOUT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "execution SUCCESS"
    statuses = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert statuses == {"task1": "SUCCESS", "task2": "SUCCESS", "task3": "SUCCESS", "task4": "SUCCESS"}
    task4 = next(line for line in lines if line.startswith("task4"))
    assert "started by rule" in task4 and "key" in task4
