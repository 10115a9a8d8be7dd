"""Fault points: named places in the engine where a fault test can stop or kill the process.

The scheduler calls :func:`reach` at a few places where a crash or a pause
matters most (``scheduler.step``: decisions made, not yet committed;
``engine.dispatch``: committed, not yet handed to the executor). Nothing
happens there unless the environment variable ``AIFLOW_FAULT_POINTS`` names
the point (comma-separated) when this module is first imported, and a test
then arms it with :func:`arm`: the next time the process reaches the point,
it carries out the armed action once. Unarmed, :func:`reach` costs one
truth test of an empty dict.

Actions: ``"stop"`` sends SIGSTOP to this process (a test sees it stopped,
holds it as long as it likes, then sends SIGCONT: the process goes on from
the point), ``"kill"`` sends SIGKILL to it.
"""

from __future__ import annotations

import os
import signal

from aiflow_core.errors import ConfigError

#: The environment variable naming the points a process lets tests arm.
ENV = "AIFLOW_FAULT_POINTS"
#: What an armed point can do, by name.
ACTIONS = {"stop": signal.SIGSTOP, "kill": signal.SIGKILL}

_enabled = frozenset(name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip())
_armed: dict[str, signal.Signals] = {}


def reach(name: str) -> None:
    """The process is at the fault point ``name``: carry out the action armed there, once."""
    if _armed:
        sig = _armed.pop(name, None)
        if sig is not None:
            os.kill(os.getpid(), sig)


def arm(name: str, action: str) -> None:
    """Carry out ``action`` (``"stop"`` or ``"kill"``) the next time the process reaches the point ``name``.

    Raises ConfigError unless ``AIFLOW_FAULT_POINTS`` named the point when the
    process started, or for an unknown action.
    """
    if name not in _enabled:
        raise ConfigError(f"fault point {name!r} is not enabled; name it in {ENV} (enabled: {sorted(_enabled)})")
    if action not in ACTIONS:
        raise ConfigError(f"fault action {action!r} is unknown; expected one of {sorted(ACTIONS)}")
    _armed[name] = ACTIONS[action]


def disarm() -> None:
    """Forget every armed action."""
    _armed.clear()
