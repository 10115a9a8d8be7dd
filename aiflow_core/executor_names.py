"""The names of the built-in executors, and what a configured executor name stands for.

Kept apart from :mod:`aiflow_core.executors` (which loads the executor
machinery) so that configuration can check a name without importing it.
"""

from __future__ import annotations

import difflib

from aiflow_core.errors import ConfigError

#: Built-in executor names and the classes they stand for.
BUILTIN_EXECUTORS = {
    "inline": "aiflow_core.executors.inline.InlineExecutor",
    "thread": "aiflow_core.executors.thread.ThreadExecutor",
    "process": "aiflow_core.executors.process.ProcessExecutor",
    "local": "aiflow_core.executors.process.ProcessExecutor",
}


def executor_path(name: str, where: str = "executor") -> str:
    """The dotted class path ``name`` stands for: a built-in name's class, or ``name`` itself when dotted.

    Raises :class:`ConfigError` naming ``where`` and ``name``, with the
    nearest built-in name, for anything else.
    """
    path = BUILTIN_EXECUTORS.get(name.lower(), name)
    if "." not in path:
        close = difflib.get_close_matches(name.lower(), sorted(BUILTIN_EXECUTORS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"{where} names no executor: {name!r}; {hint}use one of {sorted(BUILTIN_EXECUTORS)} "
            "or a dotted path to an Executor class"
        )
    return path
