"""The original ``ai_flow.ops.workflow_snapshot_ops`` functions, on the default client."""

from aiflow_core.ops import (
    delete_workflow_snapshot,
    delete_workflow_snapshots,
    get_workflow_snapshot,
    list_workflow_snapshots,
)

__all__ = ["delete_workflow_snapshot", "delete_workflow_snapshots", "get_workflow_snapshot", "list_workflow_snapshots"]
