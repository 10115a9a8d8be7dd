"""``WorkflowSnapshotMeta`` at its original module path."""

from aiflow_core.model.meta import WorkflowSnapshotMeta

__all__ = ["WorkflowSnapshotMeta"]
