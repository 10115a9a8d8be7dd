"""The engine: a client that also runs the scheduler loop and an executor, in-process.

:class:`Engine` is composed of small parts: the hand-over of decided
commands to the executor (:mod:`~aiflow_core.engine.handover`), the
heartbeats of running tasks (:mod:`~aiflow_core.engine.heartbeats`) and the
scheduler lease (:mod:`~aiflow_core.engine.leadership`).
"""

from __future__ import annotations

from aiflow_core.engine.core import START_REPORT_GRACE, Engine
from aiflow_core.engine.leadership import LEASE_TTL

__all__ = ["LEASE_TTL", "START_REPORT_GRACE", "Engine"]
