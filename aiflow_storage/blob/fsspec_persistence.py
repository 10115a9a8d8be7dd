"""The persistence plugin over fsspec: every protocol fsspec knows.

The cloud filesystem packages (s3fs, adlfs, gcsfs) load only when a URL of
their protocol is first used; a missing one raises
:class:`MissingExtraError` naming the ``pip install`` command.

Trees are copied with bounded concurrency: asynchronous filesystems get one
batched call, the others a small thread pool. Files put on the local disk are
written to a temporary name and renamed, so a crash never leaves a truncated
file under the final name.
"""

from __future__ import annotations

import importlib
import os
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
from fsspec.asyn import AsyncFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from aiflow_core.errors import install_hint
from aiflow_core.homefiles import private_dir
from aiflow_storage.blob.errors import MissingExtraError
from aiflow_storage.blob.paths import install
from aiflow_storage.blob.persistence import DataPersistence, protocol_of

__all__ = [
    "DEFAULT_CONCURRENCY",
    "EXTRAS",
    "FsspecPersistence",
    "is_local_url",
    "load_filesystem",
    "require_extra",
]

DEFAULT_CONCURRENCY = 16

EXTRAS: dict[str, tuple[str, str]] = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "webhdfs": ("requests", "hdfs"),
}
"""Protocol -> (package fsspec needs for it, aiflow extra that installs it)."""


def require_extra(protocol: str) -> None:
    """Import the package ``protocol`` needs, or raise :class:`MissingExtraError`."""
    need = EXTRAS.get(protocol)
    if need is None:
        return
    module, extra = need
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"the {protocol!r} blob backend needs the package {module!r}, which is not "
            f"installed; install it with: {install_hint(extra)}"
        ) from None


def load_filesystem(protocol: str, storage_options: dict[str, Any]) -> fsspec.AbstractFileSystem:
    """Return the fsspec filesystem for ``protocol`` built with ``storage_options``."""
    require_extra(protocol)
    if protocol in ("file", "local"):
        return LocalFileSystem(auto_mkdir=True)
    return fsspec.filesystem(protocol, **storage_options)


def _local_tree(root: str) -> list[str]:
    """Return the files under the local directory ``root``, sorted."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found.extend(os.path.join(dirpath, name) for name in sorted(filenames))
    return found


class FsspecPersistence(DataPersistence):
    """A persistence plugin backed by an fsspec filesystem.

    ``default_prefix`` is the root URL; ``max_concurrency`` bounds parallel
    transfers of a tree; other keyword arguments are fsspec storage options.
    """

    def __init__(
        self,
        name: str,
        default_prefix: str | None = None,
        *,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        **storage_options: Any,
    ) -> None:
        super().__init__(name, default_prefix)
        self.max_concurrency = max(1, int(max_concurrency))
        self.fs = load_filesystem(name, storage_options)
        self._local = isinstance(self.fs, LocalFileSystem)
        self._memory = isinstance(self.fs, MemoryFileSystem)
        self._async = isinstance(self.fs, AsyncFileSystem)

    def _path(self, url: str) -> str:
        return str(self.fs._strip_protocol(url))

    def _url(self, path: str) -> str:
        return path if self._local else f"{self.name}://{path}"

    def listdir(self, path: str, recursive: bool = False) -> Iterator[str]:
        """Yield the URLs of the files under ``path``."""
        base = self._path(path)
        if not self.fs.isdir(base):
            return
        if recursive:
            names = sorted(self.fs.find(base))
        else:
            names = sorted(
                info["name"] for info in self.fs.ls(base, detail=True) if info["type"] == "file"
            )
        for name in names:
            yield self._url(name)

    def exists(self, path: str) -> bool:
        """Return whether ``path`` exists."""
        return bool(self.fs.exists(self._path(path)))

    def remove(self, path: str, recursive: bool = False) -> None:
        """Delete ``path`` (a tree with ``recursive``); nothing if it is missing."""
        target = self._path(path)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=recursive)

    def get(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        """Download a file, or with ``recursive`` a tree, to the local disk."""
        src = self._path(from_path)
        if not recursive:
            # Asynchronous stores fail on a missing object by themselves; the
            # others may read a directory as an empty file, so look first.
            if not self._async and not self.fs.isfile(src):
                raise FileNotFoundError(f"no file at {from_path!r}")
            try:
                self._get_file(src, to_path)
            except IsADirectoryError:
                raise FileNotFoundError(f"no file at {from_path!r}") from None
            return
        if not self.fs.isdir(src):
            raise FileNotFoundError(f"no directory at {from_path!r}")
        remote = sorted(self.fs.find(src))
        prefix = src.rstrip("/") + "/"
        local = [os.path.join(to_path, *r[len(prefix) :].split("/")) for r in remote]
        os.makedirs(to_path, exist_ok=True)
        for path in {os.path.dirname(p) for p in local}:
            os.makedirs(path, exist_ok=True)
        self._transfer(remote, local, self._get_many, self._get_file)

    def put(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        """Upload a local file, or with ``recursive`` a local tree, replacing what is there."""
        dest = self._path(to_path)
        if not recursive:
            self._put_file(from_path, dest)
            return
        local = _local_tree(from_path)
        rel = [os.path.relpath(p, from_path).replace(os.sep, "/") for p in local]
        remote = [f"{dest.rstrip('/')}/{r}" for r in rel]
        self._transfer(local, remote, self._put_many, self._put_file)

    def _get_file(self, rpath: str, lpath: str) -> None:
        if not self._memory:
            self.fs.get_file(rpath, lpath)
            return
        # fsspec's memory filesystem hands every reader the same file object,
        # so concurrent get_file calls would share one read position.
        data = self.fs.cat_file(rpath)
        with open(lpath, "wb") as out:
            out.write(data)

    def _put_file(self, lpath: str, rpath: str) -> None:
        if not self._local:
            self.fs.put_file(lpath, rpath)
            return
        private_dir(os.path.dirname(rpath))
        tmp = os.path.join(os.path.dirname(rpath), f".{os.path.basename(rpath)}.{uuid.uuid4().hex}")
        try:
            self.fs.put_file(lpath, tmp)
            os.chmod(tmp, 0o700 if os.stat(tmp).st_mode & stat.S_IXUSR else 0o600)  # local blobs are owner-only
            install(tmp, rpath)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    def _put_many(self, lpaths: list[str], rpaths: list[str]) -> None:
        self.fs.put(lpaths, rpaths, batch_size=self.max_concurrency)

    def _get_many(self, rpaths: list[str], lpaths: list[str]) -> None:
        self.fs.get(rpaths, lpaths, batch_size=self.max_concurrency)

    def _transfer(
        self,
        sources: Sequence[str],
        targets: Sequence[str],
        batched: Callable[[list[str], list[str]], None],
        one: Callable[[str, str], Any],
    ) -> None:
        if not sources:
            return
        if self._async:
            batched(list(sources), list(targets))
            return
        workers = min(self.max_concurrency, len(sources))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aiflow-blob") as pool:
            for future in [pool.submit(one, s, t) for s, t in zip(sources, targets, strict=True)]:
                future.result()

    def construct_path(self, add_protocol: bool, add_prefix: bool, *paths: str) -> str:
        """Join ``paths`` with ``/``, optionally under the root URL and with the protocol."""
        parts = [p.strip("/") for p in paths if p.strip("/")]
        if add_prefix and self.default_prefix:
            parts.insert(0, self._path(self.default_prefix).rstrip("/"))
        joined = "/".join(parts)
        return self._url(joined) if add_protocol else joined


def is_local_url(url: str) -> bool:
    """Return whether ``url`` names the local filesystem (a plain path or ``file://``)."""
    return protocol_of(url) in ("file", "local") or Path(url).is_absolute()
