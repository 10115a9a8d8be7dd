"""Testing aids: a fake clock and pytest fixtures for workflows.

``FakeClock`` drives an ``Engine(clock=...)`` in simulated time; the pytest
plugin (registered through the ``pytest11`` entry point) provides fixtures.
"""

from aiflow_core.testing.clock import FakeClock

__all__ = ["FakeClock"]
