"""Compatibility with AIFlow's ``ai_flow.workflow`` package."""

from aiflow_core.workflow.workflow import WorkflowPropertyKeys

__all__ = ["WorkflowPropertyKeys"]
