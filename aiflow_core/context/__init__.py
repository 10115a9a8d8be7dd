"""Compatibility with AIFlow's ``ai_flow.context`` package (project configuration)."""

from aiflow_core.context.project_context import current_project_config

__all__ = ["current_project_config"]
