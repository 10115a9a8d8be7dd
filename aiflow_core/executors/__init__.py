"""Executors: where task executions run.

Executors are found by name through the entry-point group
``aiflow.executors`` (see :mod:`aiflow_core.executor_names`). Built-in names:
``inline`` (in the scheduler's thread, for tests), ``thread``, ``process``
(the default) and ``celery`` (Celery workers on other machines, with the
``celery`` extra). A dotted path ``package.module.Class`` names a third-party
executor class taking ``parallelism``.
"""

from __future__ import annotations

import importlib
from typing import Any

from aiflow_core.errors import ConfigError, install_hint
from aiflow_core.executor_names import EXECUTOR_EXTRAS, executor_path, registered_executors
from aiflow_core.executors.base import Executor, TaskJob

__all__ = ["Executor", "TaskJob", "create_executor"]


def _load(spec: str) -> Any:
    """The class ``spec`` names; a missing module of an executor's extra raises the install hint."""
    path = executor_path(spec)
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except ImportError as exc:
        extra = EXECUTOR_EXTRAS.get(spec.lower())
        missing = (exc.name or "").partition(".")[0]
        if extra is not None and missing in extra[1]:
            raise ConfigError(
                f"executor {spec!r} needs the {extra[0]!r} extra of aiflow, which is not installed "
                f"(no module {missing!r}): {install_hint(extra[0])}"
            ) from None
        raise ConfigError(f"cannot load executor {spec!r} ({path}): {exc}") from None
    except AttributeError as exc:
        raise ConfigError(f"cannot load executor {spec!r} ({path}): {exc}") from None
    return target


def create_executor(spec: Any, parallelism: int = 10) -> Executor:
    """Return an executor from a registered name, a dotted class path or an instance.

    Raises :class:`~aiflow_core.errors.ConfigError` naming ``spec`` when it
    names no :class:`Executor` class (with the ``pip install`` command when
    the name belongs to an extra that is not installed), or when
    ``parallelism`` is not a whole number of at least 1.
    """
    if isinstance(spec, Executor):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"executor must be a name or an Executor, got {spec!r}")
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise ConfigError(f"parallelism must be a whole number of tasks of at least 1, got {parallelism!r}")
    cls = _load(spec)
    if not (isinstance(cls, type) and issubclass(cls, Executor)):
        raise ConfigError(
            f"executor {spec!r} is {cls!r}, not an Executor class; name a subclass of "
            "aiflow_core.executors.Executor taking parallelism, or one of "
            f"{sorted(registered_executors())}"
        )
    if spec.lower() == "inline":
        return cls()
    return cls(parallelism=parallelism)  # type: ignore[call-arg]
