"""Storing snapshots once and materializing them on workers.

Archives live in the blob store under ``snapshots/<sha256>.tar.gz``. On a
worker, :meth:`SnapshotStore.materialize` keeps one extracted, verified,
read-only tree per digest in ``cache_dir``:

* the first caller downloads and extracts; every other thread or process
  asking for the same digest waits for it and then uses the result, so a
  snapshot is fetched once per cache;
* the work happens in ``cache_dir/.tmp-<digest>-*`` and the finished tree
  is renamed to ``cache_dir/<digest>`` in one step, so a directory under
  the final name is always complete;
* mutual exclusion is an ``flock`` on ``cache_dir/.locks/<digest>.lock``.
  The kernel releases it when its holder dies, so a crashed extraction never
  blocks later ones; they remove its leftover temporary directory.

:meth:`SnapshotStore.working_dir` gives each execution a private, writable
copy of its snapshot.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from aiflow_core.homefiles import private_dir
from aiflow_storage.blob.errors import (
    SnapshotIntegrityError,
    SnapshotLockTimeout,
    UnsupportedPersistenceOp,
)
from aiflow_storage.blob.interface import BlobManager
from aiflow_storage.blob.manager import FsspecBlobManager
from aiflow_storage.blob.snapshot import (
    SnapshotArchive,
    extract_archive,
    force_rmtree,
    set_read_only,
    sha256_file,
)

__all__ = ["SNAPSHOT_PREFIX", "SnapshotStore"]

log = logging.getLogger("aiflow_storage.blob")

SNAPSHOT_PREFIX = "snapshots"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_THREAD_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ValueError(f"snapshot digest must be 64 lowercase hex characters, got {digest!r}")
    return digest


#: A snapshot's files up to this size are kept in memory once read, up to ``_KEPT_PER_SNAPSHOT`` bytes in all.
_KEPT_FILE = 256 * 1024
_KEPT_PER_SNAPSHOT = 4 * 1024 * 1024
#: How many snapshots' listings (and kept files) a store holds, and how many parent directories it remembers.
_KEPT_SNAPSHOTS = 32


@attrs.frozen(kw_only=True)
class _Entry:
    """An entry of a snapshot's tree: its path relative to the tree; for a file, its copy's mode and content."""

    path: str
    is_dir: bool
    mode: int = 0o700
    content: bytes | None = None
    """The file's bytes, when small enough to keep (the tree is read-only and verified: they never change)."""


def _listing(tree: str) -> list[_Entry]:
    """Every entry under ``tree``, parents first; files' copies are writable by their owner only, executable if
    the original is."""
    entries: list[_Entry] = []
    kept = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        relative = os.path.relpath(dirpath, tree)
        entries += [_Entry(path=os.path.normpath(os.path.join(relative, name)), is_dir=True) for name in dirnames]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            status = os.stat(path)
            content = None
            if status.st_size <= _KEPT_FILE and kept + status.st_size <= _KEPT_PER_SNAPSHOT:
                with open(path, "rb") as source:
                    content = source.read()
                kept += len(content)
            entries.append(_Entry(
                path=os.path.normpath(os.path.join(relative, name)), is_dir=False,
                mode=0o700 if status.st_mode & stat.S_IXUSR else 0o600, content=content,
            ))
    entries.sort(key=lambda entry: entry.path.count(os.sep))
    return entries


def _copy_file(source: str, out: str, entry: _Entry) -> None:
    """Write the file ``entry`` of the tree ``source`` to the new file ``out`` with its mode (whatever the umask)."""
    dst = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, entry.mode)
    try:
        os.fchmod(dst, entry.mode)
        if entry.content is not None:
            view = memoryview(entry.content)
            while view:
                view = view[os.write(dst, view):]
            return
        src = os.open(os.path.join(source, entry.path), os.O_RDONLY)
        try:
            size = os.fstat(src).st_size
            offset = 0
            while offset < size:
                sent = os.sendfile(dst, src, offset, size - offset)
                if sent == 0:
                    break
                offset += sent
        finally:
            os.close(src)
    finally:
        os.close(dst)


def _copy_tree(source: str, dest: str, listing: list[_Entry]) -> None:
    """Copy ``source`` (whose entries are ``listing``) into the existing ``dest``, writable by its owner only."""
    for entry in listing:
        out = os.path.join(dest, entry.path)
        if entry.is_dir:
            os.mkdir(out, 0o700)
            os.chmod(out, 0o700)
        else:
            _copy_file(source, out, entry)


class SnapshotStore:
    """Snapshots in a blob store, cached per digest under ``cache_dir``.

    ``lock_timeout`` bounds (in seconds) how long :meth:`materialize` waits
    for another process extracting the same digest.
    """

    def __init__(
        self, blob: BlobManager, cache_dir: str | os.PathLike[str], *, lock_timeout: float = 600.0
    ) -> None:
        self.blob = blob
        self.cache_dir = Path(cache_dir).expanduser().absolute()
        private_dir(self.cache_dir)
        self.lock_timeout = lock_timeout
        self.fetches = 0
        """How many archives this instance downloaded (the others were cached)."""
        self._trees: dict[str, tuple[str, list[_Entry]]] = {}
        """The listings of the snapshots copied lately, by digest (at most ``_KEPT_SNAPSHOTS``)."""
        self._trees_lock = threading.Lock()
        self._parents: set[str] = set()

    @staticmethod
    def key_for(digest: str) -> str:
        """Return the blob key of the snapshot with ``digest``."""
        return f"{SNAPSHOT_PREFIX}/{_check_digest(digest)}.tar.gz"

    def upload(self, archive: SnapshotArchive) -> str:
        """Store ``archive`` under its digest unless it is there already; return its URI."""
        key = self.key_for(archive.digest)
        try:
            present = self.blob.exists(key)
        except UnsupportedPersistenceOp:
            present = False
        if present and isinstance(self.blob, FsspecBlobManager):
            log.debug("snapshot %s already stored", archive.digest)
            return self.blob.uri_for(key)
        return self.blob.upload_as(archive.path, key)

    def materialize(self, uri: str, digest: str) -> Path:
        """Return the extracted, verified, read-only tree of the snapshot ``digest``.

        Downloads ``uri`` only if no thread or process has done so for this
        cache; a download whose SHA-256 is not ``digest`` raises
        :class:`SnapshotIntegrityError` and leaves nothing behind.
        """
        final = self.cache_dir / _check_digest(digest)
        if final.is_dir():
            return final
        with self._thread_lock(digest), self._file_lock(digest):
            if final.is_dir():
                return final
            for stale in self.cache_dir.glob(f".tmp-{digest}-*"):
                log.info("removing %s left by an interrupted extraction", stale)
                force_rmtree(stale)
            work = Path(tempfile.mkdtemp(prefix=f".tmp-{digest}-", dir=self.cache_dir))
            try:
                archive = self.blob.download(uri, work)
                self.fetches += 1
                actual = sha256_file(archive)
                if actual != digest:
                    raise SnapshotIntegrityError(
                        f"snapshot {uri!r} has SHA-256 {actual}, expected {digest}"
                    )
                tree = work / "tree"
                tree.mkdir()
                extract_archive(archive, tree)
                set_read_only(tree)
                os.rename(tree, final)
            finally:
                force_rmtree(work)
        log.debug("materialized snapshot %s in %s", digest, final)
        return final

    def working_dir(self, uri: str, digest: str, dest: str | os.PathLike[str]) -> Path:
        """Create ``dest`` as a private, writable copy of the snapshot's tree.

        The copy appears under ``dest`` only once complete; if ``dest``
        already exists it is returned as is. The tree's listing is read once
        per digest; the copy is a directory made beside ``dest``, the files
        copied into it and one rename.
        """
        target = os.fspath(dest)
        if os.path.isdir(target):
            return Path(target)
        parent, name = os.path.split(target)
        if parent not in self._parents:
            private_dir(parent)
            if len(self._parents) >= _KEPT_SNAPSHOTS:
                self._parents.clear()
            self._parents.add(parent)
        try:
            self._copy(uri, digest, parent, name)
        except FileNotFoundError:  # the cached tree was removed under us: extract it again
            self._trees.pop(digest, None)
            self._parents.discard(parent)
            private_dir(parent)
            self._copy(uri, digest, parent, name)
        return Path(target)

    def _copy(self, uri: str, digest: str, parent: str, name: str) -> None:
        tree = self._trees.get(digest)
        if tree is None:
            source = str(self.materialize(uri, digest))
            tree = (source, _listing(source))
            with self._trees_lock:
                if len(self._trees) >= _KEPT_SNAPSHOTS:  # a long-lived worker sees many snapshots: drop the oldest
                    self._trees.pop(next(iter(self._trees)), None)
                self._trees[digest] = tree
        target = os.path.join(parent, name)
        tmp = os.path.join(parent, f".{name}.{os.getpid()}-{threading.get_ident()}.partial")
        try:
            os.mkdir(tmp, 0o700)
        except FileExistsError:  # left by an interrupted copy of a process with the same id
            tmp = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent)
        try:
            _copy_tree(tree[0], tmp, tree[1])
            os.rename(tmp, target)
        except BaseException:
            force_rmtree(tmp)
            if not os.path.isdir(target):
                raise

    def _thread_lock(self, digest: str) -> threading.Lock:
        key = (str(self.cache_dir), digest)
        with _THREAD_LOCKS_GUARD:
            return _THREAD_LOCKS.setdefault(key, threading.Lock())

    @contextmanager
    def _file_lock(self, digest: str) -> Iterator[None]:
        locks = self.cache_dir / ".locks"
        locks.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(locks / f"{digest}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + self.lock_timeout
            pause = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SnapshotLockTimeout(
                            f"snapshot {digest} is being extracted by another process for "
                            f"more than {self.lock_timeout}s (lock {str(locks)!r})"
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.2)
            yield
        finally:
            os.close(fd)
