"""Files aiflow creates under ``$AIFLOW_HOME``: owner-only, and the pickle secret kept there.

Everything aiflow creates under its home (configuration, database file, logs,
working copies, pid files, the secret) is readable by its owner only:
directories are made ``0700`` and files ``0600``. The modes are given when
the file is created (the umask can only narrow them) and set again with
``chmod``, so they hold whatever the umask.

The pickle secret signs every pickle aiflow stores (see
:mod:`aiflow_core.serialization`). Unless configured (``pickle_secret`` or
``AIFLOW_PICKLE_SECRET``), it is generated on first use and kept in
``$AIFLOW_HOME/pickle_secret``; every engine and client sharing a database
must share it, through the same home or the same configured value.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from aiflow_core.errors import ConfigError

DIR_MODE = 0o700
FILE_MODE = 0o600
SECRET_FILE_NAME = "pickle_secret"


def working_copy_path(home: Path, namespace: str, workflow_name: str, execution_id: int, digest: str) -> Path:
    """Where an execution's working copy of its snapshot lives: ``<home>/working_dir/<ns>/<wf>/<id>-<digest>``.

    The first 16 hex digits of the snapshot's digest are part of the name:
    execution ids repeat across databases (a new database used with the same
    home, or the many engines a Celery worker serves), and a copy made for an
    execution of another database must never be taken for this one's.
    """
    return Path(os.path.join(home, "working_dir", namespace, workflow_name, f"{execution_id}-{digest[:16]}"))


def private_dir(path: Path | str) -> Path:
    """Create ``path`` and its missing parents as owner-only directories; return it.

    Directories that exist already keep their mode.
    """
    path = Path(path)
    missing: list[Path] = []
    cursor = path
    while not cursor.exists() and cursor != cursor.parent:
        missing.append(cursor)
        cursor = cursor.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(directory, DIR_MODE)
    return path


def open_private(path: Path | str, flags: int) -> int:
    """``os.open`` a file, creating it (and its directory) owner-only; returns the descriptor."""
    path = Path(path)
    try:
        fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    except FileNotFoundError:
        private_dir(path.parent)
        fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
        with contextlib.suppress(PermissionError):  # a file of another user: leave it
            os.fchmod(fd, FILE_MODE)
    return fd


def private_opener(path: str, flags: int) -> int:
    """An ``opener`` for :func:`open` that creates files (and their folders) owner-only."""
    return open_private(path, flags)


def write_private(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` (replacing its content), owner-only."""
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out:
        out.write(text)


def _read_secret(path: Path) -> str:
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise ConfigError(
            f"pickle secret file {str(path)!r} is empty; delete it to generate a new one (stored workflows "
            "must then be uploaded again), or set pickle_secret / AIFLOW_PICKLE_SECRET"
        )
    return secret


def pickle_secret(home: Path, configured: str | None = None) -> str:
    """The secret that signs stored pickles: ``configured``, else the one kept under ``home``.

    The file ``home/pickle_secret`` is generated (owner-only) when missing;
    concurrent first starts agree on one secret.
    """
    if configured:
        return configured
    path = home / SECRET_FILE_NAME
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot read the pickle secret file {str(path)!r}: {exc}") from exc
    try:
        private_dir(home)
        tmp = home / f".{SECRET_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = open_private(tmp, os.O_WRONLY | os.O_EXCL)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_hex(32) + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # atomic: the first of concurrent starts wins, the others read its secret
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"no pickle secret: {str(path)!r} does not exist and cannot be created ({exc}); make $AIFLOW_HOME "
            "writable, or set pickle_secret in aiflow.yaml or AIFLOW_PICKLE_SECRET (the same value for every "
            "engine and client sharing the database)"
        ) from exc
    return _read_secret(path)
