"""The one blob manager implementation: a root URL plus a persistence plugin.

:class:`FsspecBlobManager` stores blobs under one root URL
(``s3://bucket/prefix``, ``memory://root``, ``/srv/blob``...). Its I/O goes
through the persistence plugin found for the URL's protocol (a registered
plugin, an entry point, or fsspec). The named managers (Local, S3, OSS,
HDFS, Azure, GCS) only translate their configuration keys into a root URL
and storage options.

Configuration of the generic manager:

``url``              root URL or local path (required)
``storage_options``  keyword arguments of the fsspec filesystem
``max_concurrency``  parallel transfers for a directory (default 16)
``retries``          tries of an operation failing transiently (default 4)
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiflow_core.homefiles import private_dir
from aiflow_storage.blob.errors import BlobConfigError, BlobNotFoundError, UnsafePathError
from aiflow_storage.blob.fsspec_persistence import (
    DEFAULT_CONCURRENCY,
    FsspecPersistence,
    is_local_url,
)
from aiflow_storage.blob.interface import BlobManager, PathLike
from aiflow_storage.blob.paths import check_key, ensure_inside, install, local_name
from aiflow_storage.blob.persistence import DataPersistence, DataPersistencePlugins, protocol_of
from aiflow_storage.blob.redaction import secret_values
from aiflow_storage.blob.retry import RetryPolicy, call

__all__ = ["FsspecBlobManager", "open_persistence"]

log = logging.getLogger("aiflow_storage.blob")

_NO_ANONYMOUS: dict[str, dict[str, Any]] = {
    "s3": {"anon": False},
    "s3a": {"anon": False},
    "az": {"anon": False},
    "abfs": {"anon": False},
    "abfss": {"anon": False},
    "gs": {"token": "google_default"},
    "gcs": {"token": "google_default"},
}
"""Defaults that stop a backend from quietly falling back to anonymous access."""


def open_persistence(
    url: str, storage_options: Mapping[str, Any], max_concurrency: int = DEFAULT_CONCURRENCY
) -> DataPersistence:
    """Return the persistence plugin serving ``url``: registered, entry point, else fsspec."""
    protocol = protocol_of(url)
    plugin = DataPersistencePlugins.find_plugin(protocol)
    if plugin is not None:
        return plugin(protocol, default_prefix=url, **storage_options)
    options = {**_NO_ANONYMOUS.get(protocol, {}), **storage_options}
    return FsspecPersistence(
        protocol, default_prefix=url, max_concurrency=max_concurrency, **options
    )


def require(config: Mapping[str, Any], key: str, manager: str) -> Any:
    """Return ``config[key]`` or raise :class:`BlobConfigError` naming the missing key."""
    value = config.get(key)
    if value in (None, ""):
        raise BlobConfigError(f"{manager} needs the blob_manager_config key {key!r}")
    return value


def _check_local_tree(root: str) -> None:
    """Refuse a directory holding links to directories or to files outside it."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                raise UnsafePathError(
                    f"directory {root!r} holds a symbolic link to a directory: {path!r}"
                )
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                ensure_inside(Path(path), Path(root))


class FsspecBlobManager(BlobManager):
    """A blob manager over one root URL (see the module docstring for its keys)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        url, storage_options = self._storage(self.config)
        self._secrets = secret_values(config)
        try:
            self.retry = RetryPolicy(attempts=int(self.config.get("retries", 4)))
            concurrency = int(self.config.get("max_concurrency", DEFAULT_CONCURRENCY))
        except (TypeError, ValueError) as exc:
            raise BlobConfigError(
                f"{type(self).__name__}: 'retries' and 'max_concurrency' must be integers ({exc})"
            ) from None
        self.persistence = call(
            lambda: open_persistence(url, storage_options, concurrency),
            what=f"opening the blob store {url!r}",
            policy=self.retry,
            secrets=self._secrets,
        )
        self.root = self.persistence.construct_path(True, True)
        self._url = url.rstrip("/")
        self._local_root: Path | None = None
        if isinstance(self.persistence, FsspecPersistence) and is_local_url(url):
            self._call(lambda: private_dir(self.root), f"creating the blob root {self.root!r} (owner-only)")
            self._local_root = Path(self.root)

    @classmethod
    def from_url(cls, url: str, **storage_options: Any) -> FsspecBlobManager:
        """Return a manager rooted at ``url`` with fsspec ``storage_options``."""
        return cls({"url": url, "storage_options": storage_options})

    def _storage(self, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Return the root URL and storage options for ``config`` (adapters override this)."""
        url = str(require(config, "url", type(self).__name__))
        options = config.get("storage_options") or {}
        if not isinstance(options, Mapping):
            raise BlobConfigError(
                f"storage_options must be a mapping, got {type(options).__name__}"
            )
        if is_local_url(url) and "://" not in url:
            url = os.path.abspath(os.path.expanduser(url))
        return url, dict(options)

    def _call(self, op: Any, what: str) -> Any:
        return call(op, what=what, policy=self.retry, secrets=self._secrets)

    def uri_for(self, key: str) -> str:
        """Return the URI of ``key`` (relative to the root)."""
        return self.persistence.construct_path(True, True, check_key(key))

    def key_of(self, remote_file_path: str) -> str:
        """Return the key of a URI under the root, or check a relative key.

        URIs outside the root raise :class:`UnsafePathError`.
        """
        remote = os.fspath(remote_file_path)
        if "://" not in remote and not os.path.isabs(remote):
            return check_key(remote)
        for root in (self.root.rstrip("/"), self._url):
            if remote.startswith(root + "/"):
                return check_key(remote[len(root) + 1 :])
        raise UnsafePathError(f"URI {remote!r} is outside of the blob root {self.root!r}")

    def _confine(self, uri: str) -> None:
        if self._local_root is not None:
            ensure_inside(Path(uri), self._local_root)

    def upload(self, local_file_path: PathLike) -> str:
        """Copy a local file or directory to ``<root>/<base name>``; return its URI."""
        source = os.path.abspath(os.fspath(local_file_path))
        return self.upload_as(source, os.path.basename(source.rstrip(os.sep)))

    def upload_as(self, local_path: PathLike, key: str) -> str:
        """Copy a local file or directory to ``<root>/<key>``; return its URI.

        A file replaces the blob at ``key``; a directory's files are copied
        under ``key`` with bounded concurrency, replacing files of the same
        names. Links inside a directory must point to files inside it.
        """
        source = os.fspath(local_path)
        target = self.uri_for(key)
        self._confine(target)
        if not os.path.exists(source):
            raise BlobNotFoundError(f"local path {source!r} does not exist")
        recursive = os.path.isdir(source)
        if recursive:
            _check_local_tree(source)
        self._call(
            lambda: self.persistence.put(source, target, recursive=recursive),
            f"upload of {source!r} to {target!r}",
        )
        log.debug("uploaded %s to %s", source, target)
        return target

    def download(self, remote_file_path: str, local_dir: PathLike) -> str:
        """Copy the blob (file or directory) at a URI or key into ``local_dir``.

        The copy appears under the key's base name only once complete, so a
        failed download never leaves a partial file under the final name.
        Each download writes to its own temporary name, so several threads or
        processes may download the same blob into the same folder at once:
        each returns with the whole file there.
        """
        key = self.key_of(remote_file_path)
        source = self.uri_for(key)
        self._confine(source)
        directory = os.fspath(local_dir)
        os.makedirs(directory, exist_ok=True)
        dest = os.path.join(directory, local_name(key))
        tmp = os.path.join(directory, f".{local_name(key)}.{uuid.uuid4().hex}.partial")
        what = f"download of {source!r}"
        try:
            try:
                self._call(lambda: self.persistence.get(source, tmp, recursive=False), what)
            except BlobNotFoundError:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                if not self._call(lambda: self.persistence.exists(source), what):
                    raise BlobNotFoundError(f"blob {source!r} does not exist") from None
                self._call(lambda: self.persistence.get(source, tmp, recursive=True), what)
            install(tmp, dest)
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            elif os.path.lexists(tmp):
                os.unlink(tmp)
        log.debug("downloaded %s to %s", source, dest)
        return dest

    def exists(self, remote_file_path: str) -> bool:
        """Return whether a file or directory exists at the URI or key."""
        uri = self.uri_for(self.key_of(remote_file_path))
        self._confine(uri)
        return bool(self._call(lambda: self.persistence.exists(uri), f"lookup of {uri!r}"))

    def delete(self, remote_file_path: str) -> None:
        """Delete the file or directory tree at the URI or key; nothing if it is missing."""
        uri = self.uri_for(self.key_of(remote_file_path))
        self._confine(uri)
        self._call(lambda: self.persistence.remove(uri, recursive=True), f"deletion of {uri!r}")

    def list(self, prefix: str = "") -> list[str]:
        """Return the keys of all files under the directory ``prefix``, sorted."""
        base = self.uri_for(prefix) if prefix else self.root
        root = self.root.rstrip("/") + "/"
        urls = self._call(
            lambda: list(self.persistence.listdir(base, recursive=True)), f"listing of {base!r}"
        )
        return sorted(u[len(root) :] for u in urls if u.startswith(root))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root!r})"
