"""``WorkflowTriggerMeta`` at its original module path."""

from aiflow_core.model.meta import WorkflowTriggerMeta

#: The original name of the trigger meta class.
WorkflowEventTriggerMeta = WorkflowTriggerMeta

__all__ = ["WorkflowEventTriggerMeta", "WorkflowTriggerMeta"]
