"""Key and path confinement.

A *key* names an object relative to a blob manager's root: segments separated
by ``/``, none of them empty, ``.`` or ``..``, no leading ``/``, no
backslash and no NUL. Anything else would let a caller read or write outside
the root, so it is refused with :class:`UnsafePathError`.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
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

    Several threads or processes may install to the same ``dest`` at once
    (each from its own ``tmp``): every call succeeds and ``dest`` ends as one
    complete copy. A file is renamed over the old entry in one step, so
    ``dest`` never goes missing in between. A directory cannot be renamed
    over a non-empty one: the old one is moved aside and removed first, so
    readers may briefly find no entry, but never a partial one.
    """
    if not os.path.isdir(tmp):
        if os.path.isdir(dest) and not os.path.islink(dest):
            _discard(dest)
        os.replace(tmp, dest)
        return
    while True:
        if os.path.lexists(dest):
            _discard(dest)
        try:
            os.replace(tmp, dest)
            return
        except OSError as exc:
            # Another installer's copy arrived in between: discard it and try again.
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise


def _discard(path: str) -> None:
    """Remove ``path`` (a file, link or tree), tolerating a concurrent remover.

    The entry is first renamed to a unique name beside it, so the name
    ``path`` is free at once and two removers never delete the same tree.
    """
    aside = f"{path}.{uuid.uuid4().hex}.old"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if os.path.isdir(aside) and not os.path.islink(aside):
        shutil.rmtree(aside)
    else:
        os.unlink(aside)
