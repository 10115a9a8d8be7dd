"""``WorkflowMeta`` at its original module path."""

from aiflow_core.model.meta import WorkflowMeta

__all__ = ["WorkflowMeta"]
