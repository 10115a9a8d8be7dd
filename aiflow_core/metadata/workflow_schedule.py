"""``WorkflowScheduleMeta`` at its original module path."""

from aiflow_core.model.meta import WorkflowScheduleMeta

__all__ = ["WorkflowScheduleMeta"]
