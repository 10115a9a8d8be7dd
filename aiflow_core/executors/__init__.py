"""Executors: where task executions run.

Built-in names: ``inline`` (in the scheduler's thread, for tests), ``thread``
and ``process`` (the default). A dotted path ``package.module.Class`` names a
third-party executor class taking ``parallelism``.
"""

from __future__ import annotations

import importlib
from typing import Any

from aiflow_core.errors import ConfigError
from aiflow_core.executor_names import BUILTIN_EXECUTORS, executor_path
from aiflow_core.executors.base import Executor, TaskJob

__all__ = ["Executor", "TaskJob", "create_executor"]


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
    module_name, _, class_name = executor_path(spec).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load executor {spec!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise ConfigError(
            f"executor {spec!r} is {cls!r}, not an Executor class; name a subclass of "
            "aiflow_core.executors.Executor taking parallelism, or one of "
            f"{sorted(BUILTIN_EXECUTORS)}"
        )
    if spec.lower() == "inline":
        return cls()
    return cls(parallelism=parallelism)  # type: ignore[call-arg]
