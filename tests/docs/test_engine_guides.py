"""Every python example of docs/embedding.md and docs/configuration.md runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["embedding.md", "configuration.md"]
BLOCKS = [
    (page, index, block)
    for page in PAGES
    for index, block in enumerate(re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S))
]


@pytest.mark.parametrize(("page", "index", "block"), BLOCKS, ids=[f"{p}#{i}" for p, i, _ in BLOCKS])
def test_example_runs(page: str, index: int, block: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    if page == "embedding.md" and index == 0:
        assert result.stdout.splitlines()[0] == "SUCCESS"
        assert "transform SUCCESS" in result.stdout
    if page == "embedding.md" and index == 1:
        assert result.stdout.split() == ["3", "10"]
    if page == "embedding.md" and "scheduler_lease_ttl" in block:
        assert result.stdout.splitlines() == ["True False", "True True"]
    if page == "embedding.md" and "JsonLogFormatter" in block:
        assert result.stdout.splitlines() == ["WARNING aiflow.host loaded 3 workflows nightly"]
    if page == "configuration.md":
        assert "process" in result.stdout
