"""Workflow snapshots: deterministic, content-addressed archives.

:func:`pack_snapshot` packs a workflow file and its artifacts into a gzip'd
tar whose bytes depend only on the names, contents and executable bits of
the files: entries are sorted, times are zero, owners are empty, modes are
``0o644``/``0o755`` (directories ``0o755``) and the gzip header carries no
name or time. The archive is named by the SHA-256 of those bytes, so the
same workflow always gives the same digest.

:func:`extract_archive` is the only way archives are unpacked: members must
be plain files or directories with relative names that stay inside the
target (no ``..``, no absolute names, no links or devices); anything else
raises :class:`UnsafePathError` before a byte is written outside.

A snapshot holds at most :data:`MAX_SNAPSHOT_SIZE` bytes of files (before
compression): packing more, or extracting an archive whose members add up to
more, raises :class:`InvalidArchiveError`, as does an archive that names a
member twice.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import attrs

from aiflow_storage.blob.errors import BlobNotFoundError, InvalidArchiveError, UnsafePathError
from aiflow_storage.blob.paths import check_key, ensure_inside

__all__ = [
    "MAX_SNAPSHOT_SIZE",
    "SnapshotArchive",
    "extract_archive",
    "force_rmtree",
    "pack_snapshot",
    "set_read_only",
    "sha256_file",
]

_CHUNK = 1 << 20
#: The most bytes of files (uncompressed) one snapshot may hold: the workflow file and its artifacts.
MAX_SNAPSHOT_SIZE = 1 << 30
_FILE_MODE = 0o644
_EXEC_MODE = 0o755


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@attrs.define(kw_only=True)
class SnapshotArchive:
    """A packed snapshot: a temporary archive file, its SHA-256 and its size.

    Use it as a context manager, or call :meth:`cleanup`, to delete the file.
    """

    path: Path
    digest: str
    size: int

    @property
    def file_name(self) -> str:
        """The archive's name in a store: ``<digest>.tar.gz``."""
        return f"{self.digest}.tar.gz"

    def cleanup(self) -> None:
        """Delete the archive file and its temporary directory (idempotent)."""
        shutil.rmtree(self.path.parent, ignore_errors=True)

    def __enter__(self) -> SnapshotArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _entries(source: Path, name: str) -> Iterator[tuple[str, Path]]:
    """Yield (archive name, local path) for ``source`` packed as ``name``, sorted."""
    yield name, source
    if not source.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames.sort()
        here = Path(dirpath)
        rel = here.relative_to(source).as_posix()
        prefix = name if rel == "." else f"{name}/{rel}"
        for child in sorted(dirnames + filenames):
            path = here / child
            if path.is_symlink():
                if path.is_dir():
                    raise UnsafePathError(
                        f"artifact {str(source)!r} holds a directory link {str(path)!r}"
                    )
                ensure_inside(path, source)
            yield f"{prefix}/{child}", path


def _tarinfo(name: str, path: Path) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_dir():
        info.type = tarfile.DIRTYPE
        info.mode = _EXEC_MODE
    else:
        info.type = tarfile.REGTYPE
        info.size = path.stat().st_size
        info.mode = _EXEC_MODE if os.access(path, os.X_OK) else _FILE_MODE
    return info


def pack_snapshot(
    workflow_file: str | os.PathLike[str],
    artifacts: Sequence[str | os.PathLike[str]] | None = None,
    max_size: int = MAX_SNAPSHOT_SIZE,
) -> SnapshotArchive:
    """Pack ``workflow_file`` and ``artifacts`` into a deterministic archive.

    Each goes at the archive's root under its base name (directories with
    their whole tree). Two sources with one base name, or sources holding
    more than ``max_size`` bytes, raise :class:`InvalidArchiveError`; a
    missing source raises :class:`BlobNotFoundError`.
    """
    sources = [Path(workflow_file), *(Path(a) for a in artifacts or ())]
    names: dict[str, Path] = {}
    for source in sources:
        if not source.exists():
            raise BlobNotFoundError(f"snapshot source {str(source)!r} does not exist")
        name = check_key(source.resolve().name)
        if name in names:
            raise InvalidArchiveError(
                f"snapshot sources {str(names[name])!r} and {str(source)!r} share the name "
                f"{name!r}; expected distinct base names"
            )
        names[name] = source
    entries = sorted(e for name, src in names.items() for e in _entries(src, name))
    total = sum(path.stat().st_size for _, path in entries if not path.is_dir())
    if total > max_size:
        raise InvalidArchiveError(
            f"snapshot of {[str(s) for s in sources]} holds {total} bytes of files, more than the "
            f"{max_size} a snapshot may hold; keep large data in blob storage and read it at run time"
        )
    tmpdir = Path(tempfile.mkdtemp(prefix="aiflow-snapshot-"))
    part = tmpdir / "snapshot.part"
    try:
        with open(part, "wb") as raw:
            gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
            with gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, path in entries:
                    info = _tarinfo(name, path)
                    if info.isdir():
                        tar.addfile(info)
                    else:
                        with open(path, "rb") as f:
                            tar.addfile(info, f)
        digest = sha256_file(part)
        final = tmpdir / f"{digest}.tar.gz"
        part.rename(final)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return SnapshotArchive(path=final, digest=digest, size=final.stat().st_size)


def _member_path(root: Path, member: tarfile.TarInfo) -> Path:
    name = member.name.rstrip("/")
    if member.name.startswith("/") or os.path.isabs(name):
        raise UnsafePathError(f"archive member {member.name!r} has an absolute name")
    check_key(name)
    if not (member.isreg() or member.isdir()):
        raise UnsafePathError(
            f"archive member {member.name!r} is a link or special file; "
            "only regular files and directories are allowed"
        )
    path = root / name
    ensure_inside(path, root)
    return path


def extract_archive(
    archive: str | os.PathLike[str], dest: str | os.PathLike[str], max_size: int = MAX_SNAPSHOT_SIZE
) -> None:
    """Extract the snapshot ``archive`` into the existing empty directory ``dest``.

    Every member is checked before anything is written; unsafe members raise
    :class:`UnsafePathError`, a name given twice or members adding up to
    more than ``max_size`` bytes :class:`InvalidArchiveError`. Files get mode
    ``0o600`` or ``0o700`` (owner-only).
    """
    root = Path(dest)
    with tarfile.open(archive, mode="r:*") as tar:
        members = tar.getmembers()
        plan = [(member, _member_path(root, member)) for member in members]
        _check_members(str(archive), members, max_size)
        for member, path in plan:
            if member.isdir():
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                continue
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise UnsafePathError(f"archive member {member.name!r} has no data")
            with source, open(path, "xb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
            os.chmod(path, 0o700 if member.mode & stat.S_IXUSR else 0o600)


def _check_members(archive: str, members: list[tarfile.TarInfo], max_size: int) -> None:
    """Refuse an archive that names a member twice or holds more than ``max_size`` bytes."""
    seen: set[str] = set()
    for member in members:
        name = member.name.rstrip("/")
        if name in seen:
            raise InvalidArchiveError(
                f"archive {archive!r} holds the member {member.name!r} twice; a snapshot names each file once, "
                "upload the workflow again to store a sound one"
            )
        seen.add(name)
    total = sum(member.size for member in members if member.isreg())
    if total > max_size:
        raise InvalidArchiveError(
            f"archive {archive!r} would extract to {total} bytes, more than the {max_size} a snapshot may hold; "
            "keep large data in blob storage and read it at run time"
        )


def set_read_only(tree: Path) -> None:
    """Make everything under ``tree`` read-only for its owner and closed to others (keeping execute bits)."""
    for dirpath, _, filenames in os.walk(tree, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            execute = os.stat(path).st_mode & stat.S_IXUSR
            os.chmod(path, 0o500 if execute else 0o400)
        os.chmod(dirpath, 0o500)


def force_rmtree(tree: str | os.PathLike[str]) -> None:
    """Remove ``tree`` even where read-only modes would stop :func:`shutil.rmtree`."""
    if not os.path.lexists(tree):
        return
    for dirpath, _, _ in os.walk(tree):
        os.chmod(dirpath, 0o700)
    shutil.rmtree(tree, ignore_errors=True)
