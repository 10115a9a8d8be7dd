"""How a workflow or task execution was started."""

from __future__ import annotations

from enum import Enum


class ExecutionType(str, Enum):
    """MANUAL: started by a user; EVENT: started by an event; PERIODIC: started by a timer."""

    MANUAL = "MANUAL"
    EVENT = "EVENT"
    PERIODIC = "PERIODIC"
