"""A view of a blob manager confined to one namespace, for files between tasks.

Tasks of workflows in namespace ``ns`` share the files under
``namespaces/ns/files/`` of the configured store: one task uploads a file by
name, another downloads it by that name (or by the URI the upload returned)
and any can list them.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiflow_storage.blob.errors import UnsafePathError
from aiflow_storage.blob.interface import BlobManager
from aiflow_storage.blob.paths import check_key, join_key

__all__ = ["NamespacedBlob"]


class NamespacedBlob:
    """Upload, download and list files under one namespace of ``blob``."""

    def __init__(self, blob: BlobManager, namespace: str) -> None:
        if not isinstance(namespace, str) or "/" in namespace:
            raise UnsafePathError(
                f"namespace must be one path segment without '/', got {namespace!r}"
            )
        check_key(namespace)
        self.blob = blob
        self.namespace = namespace
        self.prefix = join_key("namespaces", namespace, "files")

    def _key(self, name: str) -> str:
        return join_key(self.prefix, check_key(name))

    def upload(self, local_path: str | os.PathLike[str], name: str | None = None) -> str:
        """Copy a local file or directory under ``name`` (default: its base name).

        Returns the blob's URI.
        """
        source = os.path.abspath(os.fspath(local_path))
        return self.blob.upload_as(source, self._key(name or os.path.basename(source)))

    def download(self, name_or_uri: str, local_dir: str | os.PathLike[str]) -> Path:
        """Copy the file named ``name_or_uri`` (a name, or a URI from :meth:`upload`) locally."""
        if "://" in name_or_uri or os.path.isabs(name_or_uri):
            key_of = getattr(self.blob, "key_of", None)
            if key_of is None:
                return Path(self.blob.download(name_or_uri, local_dir))
            key = key_of(name_or_uri)
            if not key.startswith(self.prefix + "/"):
                raise UnsafePathError(
                    f"URI {name_or_uri!r} is outside of namespace {self.namespace!r}"
                )
        else:
            key = self._key(name_or_uri)
        return Path(self.blob.download(key, local_dir))

    def list(self, prefix: str = "") -> list[str]:
        """Return the names of the files under ``prefix`` in this namespace, sorted."""
        base = self._key(prefix) if prefix else self.prefix
        start = len(self.prefix) + 1
        return [key[start:] for key in self.blob.list(base)]

    def __repr__(self) -> str:
        return f"NamespacedBlob(namespace={self.namespace!r}, blob={self.blob!r})"
