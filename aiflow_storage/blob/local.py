"""The local filesystem backend.

Only fit when the client, the engine and every worker share one filesystem
(one host, or a network mount). Configuration:

``root_directory``  directory holding the blobs (created if missing)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aiflow_storage.blob.manager import FsspecBlobManager, require

__all__ = ["LocalBlobManager"]


class LocalBlobManager(FsspecBlobManager):
    """Blobs under a local ``root_directory``; URIs are plain absolute paths."""

    def _storage(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        root = str(require(config, "root_directory", type(self).__name__))
        return os.path.abspath(os.path.expanduser(root)), {}
