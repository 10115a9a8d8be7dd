"""``NamespaceMeta`` at its original module path."""

from aiflow_core.model.meta import NamespaceMeta

__all__ = ["NamespaceMeta"]
