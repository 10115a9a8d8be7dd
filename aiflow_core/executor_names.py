"""What a configured executor name stands for: entry points of the group ``aiflow.executors``.

Every executor, the built-in ones included, is found by name through the
entry-point group ``aiflow.executors``; a third-party distribution adds one
by declaring, in its ``pyproject.toml``::

    [project.entry-points."aiflow.executors"]
    kubernetes = "aiflow_k8s.executor:KubernetesExecutor"

A dotted path ``package.module.Class`` names a class directly. The
built-in names also work from a source tree that was never installed (no
distribution metadata); their names cannot be taken by another distribution.
The installed distributions are scanned once per ``sys.path``. Kept apart from :mod:`aiflow_core.executors` (which
loads the executor machinery) so that configuration can check a name without
importing it.
"""

from __future__ import annotations

import difflib
import functools
import sys
from importlib import metadata

from aiflow_core.errors import ConfigError

#: The entry-point group executors are registered in.
ENTRY_POINT_GROUP = "aiflow.executors"

#: Built-in executor names and the classes they stand for (also declared as entry points).
BUILTIN_EXECUTORS = {
    "inline": "aiflow_core.executors.inline:InlineExecutor",
    "thread": "aiflow_core.executors.thread:ThreadExecutor",
    "process": "aiflow_core.executors.process:ProcessExecutor",
    "local": "aiflow_core.executors.process:ProcessExecutor",
    "celery": "aiflow_core.executors.celery_executor:CeleryExecutor",
}

#: Built-in executors that need an extra of aiflow: name -> (extra, the modules the extra installs).
EXECUTOR_EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "celery": ("celery", ("celery", "kombu", "redis", "amqp", "billiard", "vine")),
}


@functools.lru_cache(maxsize=8)
def _entry_points(path: tuple[str, ...]) -> dict[str, str]:
    """The executors the distributions on ``path`` (``sys.path``) declare; scanning them takes a while."""
    return {entry.name.lower(): entry.value for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def registered_executors() -> dict[str, str]:
    """Every executor name and its ``module:Class`` target: the entry points, with the built-ins first."""
    return {**_entry_points(tuple(sys.path)), **BUILTIN_EXECUTORS}


def executor_path(name: str, where: str = "executor") -> str:
    """The ``module:Class`` (or dotted ``module.Class``) that ``name`` stands for.

    Raises :class:`ConfigError` naming ``where`` and ``name``, with the
    nearest registered name, when ``name`` is neither registered nor dotted.
    """
    builtin = BUILTIN_EXECUTORS.get(name.lower())
    if builtin is not None:
        return builtin  # a built-in name never needs the scan of every installed distribution
    known = registered_executors()
    path = known.get(name.lower())
    if path is not None:
        return path
    if "." not in name:
        close = difflib.get_close_matches(name.lower(), sorted(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"{where} names no executor: {name!r}; {hint}use one of {sorted(known)} (entry points of "
            f"{ENTRY_POINT_GROUP!r}) or a dotted path to an Executor class"
        )
    return name
