"""The command groups of ``aiflow``; each module registers its group on the parser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiflow_core.cli.commands import (
    completion,
    config,
    db,
    events,
    executions,
    explain,
    misc,
    namespace,
    plans,
    run,
    server,
    ui,
    worker,
    workflow,
)

#: Registration functions, in the order the groups appear in ``aiflow --help``.
GROUPS: list[Callable[[Any], None]] = [
    config.register,
    db.register,
    namespace.register,
    workflow.register,
    executions.register_workflow_execution,
    executions.register_task_execution,
    plans.register_schedule,
    plans.register_trigger,
    events.register,
    explain.register,
    server.register,
    ui.register,
    run.register,
    worker.register,
    completion.register,
    misc.register,
]
