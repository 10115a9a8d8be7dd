"""Testing aids: a fake clock and pytest fixtures for workflows.

``FakeClock`` drives an ``Engine(clock=...)`` in simulated time; the pytest
plugin (registered through the ``pytest11`` entry point) provides fixtures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiflow_core.testing.clock import FakeClock

if TYPE_CHECKING:
    from aiflow_core.testing.harness import TaskRun, WorkflowTester

__all__ = ["FakeClock", "TaskRun", "WorkflowTester"]


def __getattr__(name: str) -> Any:
    if name in ("TaskRun", "WorkflowTester"):
        from aiflow_core.testing import harness

        return getattr(harness, name)
    raise AttributeError(f"module 'aiflow_core.testing' has no attribute {name!r}")
