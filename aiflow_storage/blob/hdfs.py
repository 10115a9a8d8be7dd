"""The HDFS backend, over the WebHDFS REST protocol (fsspec's ``webhdfs``).

Configuration keys are those of the original AIFlow ``HDFSBlobManager``:

``hdfs_url``        WebHDFS address of the name node, e.g. ``http://namenode:50070``
``hdfs_user``       user name sent as ``user.name`` (simple authentication)
``root_directory``  absolute HDFS directory holding the blobs

Optional: ``data_proxy`` (a mapping of data-node addresses to reachable
ones, for clusters behind a proxy or in containers). Kerberos is not
configured by this manager; use :class:`FsspecBlobManager` with fsspec's
``webhdfs`` storage options for it. Needs ``pip install 'aiflow-engine[hdfs]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiflow_storage.blob.errors import BlobConfigError
from aiflow_storage.blob.manager import FsspecBlobManager, require

__all__ = ["HDFSBlobManager"]


class HDFSBlobManager(FsspecBlobManager):
    """Blobs in an HDFS directory reached over WebHDFS."""

    def _storage(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = type(self).__name__
        raw = str(require(config, "hdfs_url", name))
        parts = urlsplit(raw if "://" in raw else f"http://{raw}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise BlobConfigError(
                f"{name} hdfs_url must look like 'http://namenode:50070', got {raw!r}"
            )
        options: dict[str, Any] = {
            "host": parts.hostname,
            "port": parts.port or (9871 if parts.scheme == "https" else 50070),
            "use_https": parts.scheme == "https",
        }
        if config.get("hdfs_user"):
            options["user"] = str(config["hdfs_user"])
        if config.get("data_proxy"):
            options["data_proxy"] = dict(config["data_proxy"])
        root = "/" + str(config.get("root_directory") or "/").strip("/")
        return f"webhdfs://{root}".rstrip("/"), options
