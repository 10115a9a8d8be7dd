"""Fixtures for the documentation examples: an engine per executor and a runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiflow_core import Engine

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
