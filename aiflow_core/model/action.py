"""Task actions that a rule can take."""

from __future__ import annotations

from enum import Enum


class TaskAction(str, Enum):
    """What a task rule does when its condition is met.

    START: start a task execution unless one is alive.
    RESTART: stop the alive execution (if any) and start a new one.
    STOP: stop the alive execution; nothing happens when none is alive.
    """

    START = "START"
    RESTART = "RESTART"
    STOP = "STOP"
