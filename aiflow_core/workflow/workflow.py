"""Compatibility with AIFlow's ``ai_flow.workflow.workflow``: property key names."""

from __future__ import annotations

__all__ = ["WorkflowPropertyKeys"]


class WorkflowPropertyKeys:
    """Names of the sections of a project configuration."""

    BLOB = "blob"
    """The blob manager section (``blob_manager_class`` + ``blob_manager_config``)."""
