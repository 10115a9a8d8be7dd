"""Fixtures for the documentation examples: an engine per executor, a runner, an engine on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiflow_core import Engine, ops
from aiflow_core.testing import FakeClock

from .support import ExampleRunner


@pytest.fixture(params=["thread", "process"])
def executor(request: pytest.FixtureRequest) -> str:
    """The executor the example runs under."""
    return str(request.param)


@pytest.fixture
def engine(executor: str, tmp_path: Path) -> Iterator[Engine]:
    """A running engine (background loop) on a fresh SQLite file."""
    url = f"sqlite:///{tmp_path / 'aiflow.db'}"
    with Engine(db_url=url, executor=executor, parallelism=6) as running:
        yield running


@pytest.fixture
def runner(engine: Engine) -> ExampleRunner:
    """An :class:`ExampleRunner` over ``engine``."""
    return ExampleRunner(engine)


@pytest.fixture
def default_client(engine: Engine) -> Iterator[Engine]:
    """Make ``engine`` the client of the ``aiflow_core.ops`` functions."""
    ops.set_default_client(engine)
    yield engine
    ops.set_default_client(None)


@pytest.fixture
def fake_engine(tmp_path: Path) -> Iterator[tuple[Engine, FakeClock]]:
    """An inline engine on a fake clock at 2024-01-01T00:00:00Z."""
    clock = FakeClock()
    engine = Engine(db_url=f"sqlite:///{tmp_path / 'aiflow.db'}", executor="inline", clock=clock)
    yield engine, clock
    engine.close()
