"""Compatibility with AIFlow's ``ai_flow.context.project_context``.

:func:`current_project_config` returns the active configuration as a
mapping; its ``"blob"`` key holds the ``blob_manager_class`` /
``blob_manager_config`` pair that ``BlobConfig`` reads, as in the original
"Using Blob Manager in a Workflow" example.
"""

from __future__ import annotations

from typing import Any

from aiflow_core.config import load_config

__all__ = ["current_project_config"]


def current_project_config() -> dict[str, Any]:
    """Return the configuration of ``$AIFLOW_HOME`` with the blob section under ``"blob"``.

    Inside a running task the blob section is the one of the engine running it.

    A ``blob_manager`` given as one URL (``AIFLOW_BLOB_URL``) is turned into
    the class/config pair.
    """
    from aiflow_core.runtime.blob import active_blob_spec
    from aiflow_storage.blob import blob_config_from_url

    config = load_config()
    blob = active_blob_spec() or config.blob_manager
    if isinstance(blob, str):
        blob = blob_config_from_url(blob)
    values = config.as_dict()
    values["blob"] = dict(blob)
    return values
