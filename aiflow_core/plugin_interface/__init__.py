"""Compatibility with AIFlow's ``ai_flow.plugin_interface`` package."""

from aiflow_core.plugin_interface.blob_manager_interface import (
    BlobConfig,
    BlobManager,
    BlobManagerFactory,
)

__all__ = ["BlobConfig", "BlobManager", "BlobManagerFactory"]
