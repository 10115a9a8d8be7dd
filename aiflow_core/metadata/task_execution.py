"""``TaskExecutionMeta`` at its original module path."""

from aiflow_core.model.meta import TaskExecutionMeta

__all__ = ["TaskExecutionMeta"]
