"""Blob storage: how workflow code and files travel between clients, engines and tasks.

* :class:`BlobManager` is the interface (``upload``/``download``), built from
  a ``blob_manager_class`` + ``blob_manager_config`` pair through
  :class:`BlobManagerFactory` or :func:`create_blob_manager`.
* :class:`FsspecBlobManager` is the one implementation; the named managers
  (:class:`LocalBlobManager`, :class:`S3BlobManager`, :class:`OssBlobManager`,
  :class:`HDFSBlobManager`, :class:`AzureBlobManager`,
  :class:`GcsBlobManager`) adapt their configuration keys to it.
* Persistence plugins (:class:`DataPersistence`,
  :func:`register_persistence_plugin`) add stores fsspec does not have.
* Snapshots (:func:`pack_snapshot`, :class:`SnapshotStore`) carry workflow
  code, content-addressed and cached per digest on workers.
* :class:`NamespacedBlob` is what a running task uses to share files.

Importing this package loads fsspec but no cloud SDK; those load when a
manager for their store is created.
"""

from __future__ import annotations

from aiflow_storage.blob.azure import AzureBlobManager
from aiflow_storage.blob.errors import (
    BlobConfigError,
    BlobConnectionError,
    BlobCredentialsError,
    BlobError,
    BlobNotFoundError,
    BlobPermissionError,
    InvalidArchiveError,
    MissingExtraError,
    SnapshotIntegrityError,
    SnapshotLockTimeout,
    UnsafePathError,
    UnsupportedPersistenceOp,
)
from aiflow_storage.blob.factory import (
    BlobConfig,
    BlobManagerFactory,
    blob_config_from_url,
    create_blob_manager,
)
from aiflow_storage.blob.fsspec_persistence import FsspecPersistence
from aiflow_storage.blob.gcs import GcsBlobManager
from aiflow_storage.blob.hdfs import HDFSBlobManager
from aiflow_storage.blob.interface import BlobManager
from aiflow_storage.blob.local import LocalBlobManager
from aiflow_storage.blob.manager import FsspecBlobManager
from aiflow_storage.blob.namespaced import NamespacedBlob
from aiflow_storage.blob.oss import OssBlobManager
from aiflow_storage.blob.persistence import (
    DataPersistence,
    DataPersistencePlugins,
    register_persistence_plugin,
)
from aiflow_storage.blob.redaction import redact
from aiflow_storage.blob.retry import RetryPolicy
from aiflow_storage.blob.s3 import S3BlobManager
from aiflow_storage.blob.snapshot import SnapshotArchive, pack_snapshot
from aiflow_storage.blob.snapshot_store import SnapshotStore

__all__ = [
    "AzureBlobManager",
    "BlobConfig",
    "BlobConfigError",
    "BlobConnectionError",
    "BlobCredentialsError",
    "BlobError",
    "BlobManager",
    "BlobManagerFactory",
    "BlobNotFoundError",
    "BlobPermissionError",
    "DataPersistence",
    "DataPersistencePlugins",
    "FsspecBlobManager",
    "FsspecPersistence",
    "GcsBlobManager",
    "HDFSBlobManager",
    "InvalidArchiveError",
    "LocalBlobManager",
    "MissingExtraError",
    "NamespacedBlob",
    "OssBlobManager",
    "RetryPolicy",
    "S3BlobManager",
    "SnapshotArchive",
    "SnapshotIntegrityError",
    "SnapshotLockTimeout",
    "SnapshotStore",
    "UnsafePathError",
    "UnsupportedPersistenceOp",
    "blob_config_from_url",
    "create_blob_manager",
    "pack_snapshot",
    "redact",
    "register_persistence_plugin",
]
