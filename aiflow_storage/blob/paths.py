"""Key and path confinement.

A *key* names an object relative to a blob manager's root: segments separated
by ``/``, none of them empty, ``.`` or ``..``, no leading ``/``, no
backslash and no NUL. Anything else would let a caller read or write outside
the root, so it is refused with :class:`UnsafePathError`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from aiflow_storage.blob.errors import UnsafePathError

__all__ = ["check_key", "ensure_inside", "install", "join_key", "local_name"]


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`UnsafePathError`."""
    if not isinstance(key, str) or not key:
        raise UnsafePathError(f"blob key must be a non-empty string, got {key!r}")
    if key.startswith("/"):
        raise UnsafePathError(f"blob key {key!r} is absolute; expected a path relative to the root")
    if "\\" in key or "\x00" in key:
        raise UnsafePathError(f"blob key {key!r} contains a backslash or NUL character")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePathError(
                f"blob key {key!r} has an empty, '.' or '..' segment; "
                "expected plain names separated by '/'"
            )
    return key


def join_key(*parts: str) -> str:
    """Join key fragments with ``/`` and check the result."""
    return check_key("/".join(p.strip("/") for p in parts if p.strip("/")))


def local_name(key: str) -> str:
    """Return the last segment of a checked key: the name used for local copies."""
    return PurePosixPath(check_key(key)).name


def ensure_inside(path: Path, root: Path) -> Path:
    """Return ``path`` resolved, raising :class:`UnsafePathError` if it leaves ``root``.

    Symbolic links are resolved first, so a link pointing outside ``root``
    is refused as well.
    """
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if real != real_root and real_root not in real.parents:
        raise UnsafePathError(f"path {str(path)!r} resolves outside of {str(root)!r}")
    return real


def install(tmp: str, dest: str) -> None:
    """Move the finished file or directory ``tmp`` to ``dest``, replacing what is there.

    The old entry is removed before the rename: ext4 flushes a file's data to
    disk when a rename replaces another file, which would make every
    overwrite wait for the disk. Readers may briefly find no entry, but never
    a partial one.
    """
    if os.path.isdir(dest) and not os.path.islink(dest):
        shutil.rmtree(dest)
    elif os.path.lexists(dest):
        os.unlink(dest)
    os.replace(tmp, dest)
