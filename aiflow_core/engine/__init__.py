"""The engine: a client that also runs the scheduler loop and an executor, in-process.

:class:`Engine` is composed of small parts: the hand-over of decided
commands to the executor (:mod:`~aiflow_core.engine.handover`), the
heartbeats of running tasks (:mod:`~aiflow_core.engine.heartbeats`) and the
fenced scheduler lease (:mod:`~aiflow_core.engine.leadership`; its length is
the config key ``scheduler_lease_ttl``).
"""

from __future__ import annotations

from aiflow_core.engine.core import START_REPORT_GRACE, Engine

__all__ = ["START_REPORT_GRACE", "Engine"]
