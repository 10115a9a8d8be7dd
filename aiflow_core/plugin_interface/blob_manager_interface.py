"""Compatibility with AIFlow's ``ai_flow.plugin_interface.blob_manager_interface``.

Custom blob managers subclass :class:`BlobManager` from here or from
:mod:`aiflow_storage.blob`; they are the same class.
"""

from aiflow_storage.blob import BlobConfig, BlobManager, BlobManagerFactory

__all__ = ["BlobConfig", "BlobManager", "BlobManagerFactory"]
