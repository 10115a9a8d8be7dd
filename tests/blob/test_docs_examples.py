"""Every ```python block of docs/blob-storage.md runs, in a fresh AIFLOW_HOME."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aiflow_storage.blob.persistence import DataPersistencePlugins

from .conftest import REPO

DOC = REPO / "docs" / "blob-storage.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_guide_has_examples() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIFLOW_BLOB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code = compile(BLOCKS[index], f"{DOC.name}[python block {index}]", "exec")
    try:
        exec(code, {"__name__": f"doc_example_{index}"})
    finally:
        DataPersistencePlugins.unregister_plugin("cf")
