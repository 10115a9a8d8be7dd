"""Environment helpers: ``expand_env_var`` as AIFlow's samples use it."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")


def expand_env_var(env_var: T) -> T | str:
    """Expand environment variables and ``~`` in ``env_var``, repeatedly, until nothing changes.

    Nested references (a variable whose value names another variable) are
    expanded too; unknown variables are left as they are, as ``os.path.expandvars``
    does. A false value (``None``, ``""``) is returned unchanged; anything else
    is converted to ``str`` first. For example ``expand_env_var('${FLINK_HOME}/bin')``.
    """
    if not env_var:
        return env_var
    current = str(env_var)
    while True:
        expanded = os.path.expanduser(os.path.expandvars(current))
        if expanded == current:
            return expanded
        current = expanded
