"""Every Python example of docs/distributed.md runs as written, on real Celery workers (Redis)."""

from __future__ import annotations

import importlib.util
import os
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import Workers, stop

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _guide_runner() -> ModuleType:
    """The page runner of the user guide's tests (markers, expected output)."""
    path = Path(__file__).resolve().parents[1] / "docs" / "test_guide_examples.py"
    spec = importlib.util.spec_from_file_location("guide_examples_runner", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("workers", ["redis"], indirect=True)
def test_distributed_page_examples_run(workers: Workers, tmp_path: Path) -> None:
    guide = _guide_runner()
    blocks = guide.parse(DOCS / "distributed.md")
    assert [b for b in blocks if b.runs], "the page runs nothing"
    queue = f"doc-{uuid.uuid4().hex[:6]}"
    gpu = workers.launch(f"doc-{queue}", queues=f"{queue},gpu", concurrency=2)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFLOW_")}
    env.update(AIFLOW_HOME=str(tmp_path / "aiflow_home"), AIFLOW_CELERY_BROKER_URL=workers.broker_url,
               AIFLOW_CELERY_QUEUE=queue, AIFLOW_BLOB_URL=str(workers.blob))
    try:
        workers.wait_ready(gpu)
        for block in blocks:
            if block.no_run:
                continue
            if block.file is not None:
                (workdir / block.file).write_text(block.code, encoding="utf-8")
                continue
            guide._run("distributed.md", block, workdir, env)
    finally:
        stop(gpu)
