"""The original ``ai_flow.ops.namespace_ops`` functions, on the default client."""

from aiflow_core.ops import (
    add_namespace,
    delete_namespace,
    get_namespace,
    list_namespace,
    update_namespace,
)

__all__ = ["add_namespace", "delete_namespace", "get_namespace", "list_namespace", "update_namespace"]
