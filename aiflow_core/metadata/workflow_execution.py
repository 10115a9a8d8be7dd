"""``WorkflowExecutionMeta`` at its original module path."""

from aiflow_core.model.meta import WorkflowExecutionMeta

__all__ = ["WorkflowExecutionMeta"]
