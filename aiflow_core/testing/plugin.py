"""The aiflow pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

* ``aiflow_clock``: a :class:`~aiflow_core.testing.FakeClock` at 2024-01-01T00:00:00Z.
* ``aiflow_db_url``: the database of the two below: ``None``, a temporary
  SQLite file; override it to return ``"memory://"`` for a memory store.
* ``aiflow_engine``: an :class:`~aiflow_core.engine.Engine` on that database
  with the inline executor and ``aiflow_clock``, stepped by
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
def aiflow_db_url() -> str | None:
    """The database of ``aiflow_engine`` and ``aiflow``: None, a temporary SQLite file.

    Override this fixture (in a test module or ``conftest.py``) to return
    ``"memory://"``: a memory store, faster, reachable only from this process.
    """
    return None


@pytest.fixture
def aiflow_engine(tmp_path: Path, aiflow_clock: FakeClock, aiflow_db_url: str | None) -> Iterator[Engine]:
    """A fresh stepped engine: temporary database (``aiflow_db_url``), inline executor, fake clock."""
    root = tmp_path / "aiflow_engine"
    engine = Engine(
        db_url=aiflow_db_url or f"sqlite:///{root / 'aiflow.db'}", blob=str(root / "blob"), executor="inline",
        clock=aiflow_clock, log_dir=root / "logs", history_retention=None,
    )
    yield engine
    engine.close()


@pytest.fixture
def aiflow(tmp_path: Path, aiflow_db_url: str | None) -> Iterator[WorkflowTester]:
    """A workflow tester with its own engine (on ``aiflow_db_url``) and fake clock."""
    with WorkflowTester(tmp_path / "aiflow_tester", db_url=aiflow_db_url) as tester:
        yield tester
