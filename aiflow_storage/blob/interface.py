"""The blob manager interface: the contract every backend keeps.

A blob manager is the central storage that workflow code, its artifacts and
the files tasks exchange go through. It is built from one configuration
``dict`` (``blob_manager_config``) and offers the two operations of the
original AIFlow interface:

``upload(local_file_path) -> uri``
    Copy a local file or directory into the store, under its base name
    relative to the manager's root, replacing what was there. The user's
    file is never moved, changed or deleted. Returns the URI that
    ``download`` accepts.

``download(remote_file_path, local_dir) -> local path``
    Copy the blob named by a URI (as returned by ``upload``) or by a key
    relative to the root into ``local_dir``, under the key's base name, and
    return the local path. Directories are copied whole. A missing blob
    raises :class:`~aiflow_storage.blob.errors.BlobNotFoundError`.

Keys and URIs that would leave the root raise
:class:`~aiflow_storage.blob.errors.UnsafePathError`. A user's manager
only has to implement these two methods; the optional operations below
have defaults built on them (or refuse with
:class:`~aiflow_storage.blob.errors.UnsupportedPersistenceOp`), and the
built-in managers implement them all.
"""

from __future__ import annotations

import abc
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from aiflow_storage.blob.errors import BlobNotFoundError, UnsupportedPersistenceOp
from aiflow_storage.blob.paths import local_name
from aiflow_storage.blob.redaction import RedactedConfig

__all__ = ["BlobManager", "PathLike"]

PathLike = str | os.PathLike[str]


class BlobManager(abc.ABC):
    """Central storage for uploading and downloading files and directories.

    ``config`` is the ``blob_manager_config`` mapping; it is kept as
    :attr:`config` (whose ``repr`` masks credentials).
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = RedactedConfig(config or {})

    @abc.abstractmethod
    def upload(self, local_file_path: PathLike) -> str:
        """Copy a local file or directory into the store; return its URI."""

    @abc.abstractmethod
    def download(self, remote_file_path: str, local_dir: PathLike) -> str:
        """Copy the blob at ``remote_file_path`` into ``local_dir``; return the local path."""

    def upload_as(self, local_path: PathLike, key: str) -> str:
        """Copy ``local_path`` into the store under ``key`` (relative to the root).

        The default stages a copy named after the key's last segment in a
        temporary directory and passes it to :meth:`upload`, so the blob
        lands under that name; the built-in managers place it at ``key``
        exactly.
        """
        name = local_name(key)
        source = os.fspath(local_path)
        if not os.path.exists(source):
            raise BlobNotFoundError(f"local path {source!r} does not exist")
        with tempfile.TemporaryDirectory(prefix="aiflow-stage-") as stage:
            staged = os.path.join(stage, name)
            if os.path.isdir(source):
                shutil.copytree(source, staged)
            else:
                shutil.copyfile(source, staged)
            return self.upload(staged)

    def exists(self, remote_file_path: str) -> bool:
        """Return whether a blob exists at the URI or key ``remote_file_path``."""
        raise UnsupportedPersistenceOp(f"{type(self).__name__} cannot check whether blobs exist")

    def list(self, prefix: str = "") -> list[str]:
        """Return the keys of the files under ``prefix`` (relative to the root), sorted."""
        raise UnsupportedPersistenceOp(f"{type(self).__name__} cannot list blobs")

    def delete(self, remote_file_path: str) -> None:
        """Delete the blob, or the directory and everything under it, at the URI or key ``remote_file_path``;
        nothing if there is none."""
        raise UnsupportedPersistenceOp(f"{type(self).__name__} cannot delete blobs")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
