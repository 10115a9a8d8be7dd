"""Executors: where task executions run.

Built-in names: ``inline`` (in the scheduler's thread, for tests), ``thread``
and ``process`` (the default). A dotted path ``package.module.Class`` names a
third-party executor class taking ``parallelism``.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from aiflow_core.errors import ConfigError
from aiflow_core.executors.base import Executor, TaskJob

_BUILTIN = {
    "inline": "aiflow_core.executors.inline.InlineExecutor",
    "thread": "aiflow_core.executors.thread.ThreadExecutor",
    "process": "aiflow_core.executors.process.ProcessExecutor",
    "local": "aiflow_core.executors.process.ProcessExecutor",
}

#: The names of the built-in executors.
EXECUTOR_NAMES = frozenset(_BUILTIN)

__all__ = ["EXECUTOR_NAMES", "Executor", "TaskJob", "create_executor"]


def create_executor(spec: Any, parallelism: int = 10) -> Executor:
    """Return an executor from a name, a dotted class path or an instance.

    Raises :class:`~aiflow_core.errors.ConfigError` naming ``spec`` when it
    names no :class:`Executor` class, or when ``parallelism`` is not a whole
    number of at least 1.
    """
    if isinstance(spec, Executor):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"executor must be a name or an Executor, got {spec!r}")
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise ConfigError(f"parallelism must be a whole number of tasks of at least 1, got {parallelism!r}")
    path = _BUILTIN.get(spec.lower(), spec)
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        close = difflib.get_close_matches(spec.lower(), sorted(_BUILTIN), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown executor {spec!r}; {hint}expected one of {sorted(_BUILTIN)} or a dotted class path"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load executor {spec!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise ConfigError(
            f"executor {spec!r} is {cls!r}, not an Executor class; name a subclass of "
            "aiflow_core.executors.Executor taking parallelism, or one of "
            f"{sorted(_BUILTIN)}"
        )
    if spec.lower() == "inline":
        return cls()
    return cls(parallelism=parallelism)  # type: ignore[call-arg]
