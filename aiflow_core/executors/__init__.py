"""Executors: where task executions run.

Built-in names: ``inline`` (in the scheduler's thread, for tests), ``thread``
and ``process`` (the default). A dotted path ``package.module.Class`` names a
third-party executor class taking ``parallelism``.
"""

from __future__ import annotations

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

__all__ = ["Executor", "TaskJob", "create_executor"]


def create_executor(spec: Any, parallelism: int = 10) -> Executor:
    """Return an executor from a name, a dotted class path or an instance."""
    if isinstance(spec, Executor):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"executor must be a name or an Executor, got {spec!r}")
    path = _BUILTIN.get(spec.lower(), spec)
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise ConfigError(f"unknown executor {spec!r}; expected one of {sorted(_BUILTIN)} or a dotted class path")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load executor {spec!r}: {exc}") from None
    if spec.lower() == "inline":
        return cls()
    return cls(parallelism=parallelism)
