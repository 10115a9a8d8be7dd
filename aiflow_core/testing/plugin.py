"""The aiflow pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

* ``aiflow_clock``: a :class:`~aiflow_core.testing.FakeClock` at 2024-01-01T00:00:00Z.
* ``aiflow_engine``: an :class:`~aiflow_core.engine.Engine` on a temporary SQLite
  file with the inline executor and ``aiflow_clock``, stepped by
  ``run_until_idle()``.
* ``aiflow``: a :class:`~aiflow_core.testing.harness.WorkflowTester` over its own
  engine: upload, start, send events, advance time, read histories.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiflow_core.engine import Engine
from aiflow_core.testing.clock import FakeClock
from aiflow_core.testing.harness import WorkflowTester


@pytest.fixture
def aiflow_clock() -> FakeClock:
    """A fake clock for simulated time."""
    return FakeClock()


@pytest.fixture
def aiflow_engine(tmp_path: Path, aiflow_clock: FakeClock) -> Iterator[Engine]:
    """A fresh stepped engine: temporary SQLite file, inline executor, fake clock."""
    root = tmp_path / "aiflow_engine"
    engine = Engine(
        db_url=f"sqlite:///{root / 'aiflow.db'}", blob=str(root / "blob"), executor="inline",
        clock=aiflow_clock, log_dir=root / "logs", history_retention=None,
    )
    yield engine
    engine.close()


@pytest.fixture
def aiflow(tmp_path: Path) -> Iterator[WorkflowTester]:
    """A workflow tester with its own engine and fake clock."""
    with WorkflowTester(tmp_path / "aiflow_tester") as tester:
        yield tester
