"""The Google Cloud Storage backend, through gcsfs.

Configuration:

``bucket``          bucket holding the blobs (required)
``root_directory``  prefix inside the bucket (optional)
``project``         project id
``token``           path of a service-account JSON file, or one of gcsfs's
                    methods (``google_default``, ``cache``, ``cloud``);
                    default ``google_default``
``endpoint_url``    endpoint of a GCS-protocol server

gcsfs on its own falls back to anonymous access when no credential is
found; this manager never lets it (``token: anon`` is refused). Needs
``pip install 'aiflow-engine[gcs]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiflow_storage.blob.errors import BlobConfigError
from aiflow_storage.blob.manager import FsspecBlobManager, require

__all__ = ["GcsBlobManager"]


class GcsBlobManager(FsspecBlobManager):
    """Blobs in a Google Cloud Storage bucket."""

    def _storage(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = type(self).__name__
        bucket = str(require(config, "bucket", name)).strip("/")
        token = config.get("token") or "google_default"
        if token == "anon":
            raise BlobConfigError(f"{name} does not allow anonymous access (token: anon)")
        options: dict[str, Any] = {"token": token}
        for key in ("project", "endpoint_url"):
            if config.get(key):
                options[key] = config[key]
        prefix = str(config.get("root_directory") or "").strip("/")
        return f"gs://{bucket}/{prefix}".rstrip("/"), options
