"""Errors raised by blob storage.

Each error subclasses :class:`aiflow_core.errors.AIFlowError` and the built-in
exception matching its meaning, so ``except FileNotFoundError`` and
``except BlobNotFoundError`` both work. Messages never contain credentials:
they are scrubbed before the error is raised (see
:mod:`aiflow_storage.blob.secrets`).
"""

from __future__ import annotations

from aiflow_core.errors import AIFlowError, ConfigError, IntegrityError

__all__ = [
    "BlobConfigError",
    "BlobConnectionError",
    "BlobCredentialsError",
    "BlobError",
    "BlobNotFoundError",
    "BlobPermissionError",
    "MissingExtraError",
    "SnapshotIntegrityError",
    "SnapshotLockTimeout",
    "UnsafePathError",
    "UnsupportedPersistenceOp",
]

BlobConfigError = ConfigError
"""A blob manager configuration is invalid (unknown class, missing key, bad value)."""


class BlobError(AIFlowError, OSError):
    """A blob store operation failed."""


class BlobNotFoundError(BlobError, FileNotFoundError):
    """A remote key or a local source path does not exist."""


class BlobCredentialsError(BlobError, PermissionError):
    """The store refused the configured credentials, or none could be found.

    aiflow never retries such a failure anonymously.
    """


class BlobPermissionError(BlobError, PermissionError):
    """The operating system refused access to a local path of the store (owner or mode of a directory).

    Unlike :class:`BlobCredentialsError`, no credentials are involved: the
    user running aiflow may not write to (or read) the path the message names.
    """


class BlobConnectionError(BlobError, ConnectionError):
    """The store could not be reached, even after the bounded retries."""


class UnsupportedPersistenceOp(BlobError, NotImplementedError):
    """A persistence plugin or blob manager does not support the operation."""


class UnsafePathError(AIFlowError, ValueError):
    """A key, URI or archive member would escape its root.

    Raised for ``..`` segments, absolute paths, symbolic links and archive
    members that are not plain files or directories.
    """


class InvalidArchiveError(AIFlowError, ValueError):
    """A snapshot archive is refused: a member name twice, or more bytes than a snapshot may hold."""


class MissingExtraError(AIFlowError, ImportError):
    """The optional package a backend needs is not installed.

    The message names the ``pip install`` command that adds it.
    """


class SnapshotIntegrityError(IntegrityError):
    """A downloaded snapshot does not match its SHA-256 digest."""


class SnapshotLockTimeout(AIFlowError, TimeoutError):
    """Waiting for another process to finish extracting a snapshot took too long."""
