"""The blob store of a task in a worker process, reached through its attempt's channel.

A worker process holds no blob credentials: its task's :func:`~aiflow_core.runtime.blob.task_blob`
(and the blob manager of :func:`~aiflow_core.context.project_context.current_project_config`)
send the file's bytes to the engine on the attempt's channel (``blob_upload``,
``blob_download``, ``blob_list``), and the engine carries them out on its own
blob store, confined to the task's namespace (``namespaces/<namespace>/files/``).

A file or directory travels as a tree: its base name, whether it is a
directory, and ``{relative POSIX path: bytes}`` of its files. A whole tree is
held in memory on both ends; the network endpoint takes calls of up to 16 MiB.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiflow_storage.blob.errors import BlobNotFoundError, UnsafePathError
from aiflow_storage.blob.interface import BlobManager, PathLike
from aiflow_storage.blob.paths import check_key, ensure_inside

#: The blob configuration a worker process's task sees: its engine's store, through the attempt channel.
CHANNEL_BLOB_SPEC: dict[str, Any] = {
    "blob_manager_class": "aiflow_core.runtime.attempt_blob.AttemptBlobManager",
    "blob_manager_config": {},
}


def pack(path: PathLike) -> dict[str, Any]:
    """The tree of the local file or directory ``path``: ``{name, directory, files}``."""
    source = Path(os.path.abspath(os.fspath(path)))
    if not source.exists():
        raise BlobNotFoundError(f"local path {str(source)!r} does not exist")
    if not source.is_dir():
        return {"name": source.name, "directory": False, "files": {source.name: source.read_bytes()}}
    files: dict[str, bytes] = {}
    for root, _, names in os.walk(source):
        for name in names:
            file = Path(root, name)
            files[file.relative_to(source).as_posix()] = file.read_bytes()
    return {"name": source.name, "directory": True, "files": files}


def unpack(tree: Mapping[str, Any], local_dir: PathLike) -> Path:
    """Write ``tree`` (from :func:`pack`) into ``local_dir``; returns the path of its file or directory."""
    name = check_key(str(tree["name"]))
    if "/" in name:
        raise UnsafePathError(f"a blob tree's name must be one path segment, got {name!r}")
    target = Path(local_dir) / name
    files: Mapping[str, bytes] = tree["files"]
    if not tree["directory"]:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
        return target
    target.mkdir(parents=True, exist_ok=True)
    for relative, data in files.items():
        file = ensure_inside(target / check_key(relative), target)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
    return target


def serve_blob(blob: Any, op: str, args: Mapping[str, Any]) -> Any:
    """Carry out the channel's ``op`` on ``blob`` (the engine's ``NamespacedBlob`` of the task's namespace)."""
    if op == "blob_list":
        return blob.list(str(args.get("prefix") or ""))
    with tempfile.TemporaryDirectory(prefix="aiflow-attempt-blob-") as scratch:
        if op == "blob_upload":
            local = unpack(args["tree"], scratch)
            return blob.upload(local, name=args.get("name") or local.name)
        name = str(args["name"])
        if ("://" in name or os.path.isabs(name)) and getattr(blob.blob, "key_of", None) is None:
            raise UnsafePathError(
                f"{name!r}: a task reaches blobs of a store that cannot name a URI's key only by name"
            )
        return pack(blob.download(name, scratch))


class AttemptBlob:
    """What :func:`~aiflow_core.runtime.blob.task_blob` returns in a worker process.

    The same calls as ``aiflow_storage.blob.NamespacedBlob`` (``upload(path,
    name=None)``, ``download(name_or_uri, local_dir)``, ``list(prefix="")``),
    carried out by the engine over the attempt's ``client``.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def upload(self, local_path: PathLike, name: str | None = None) -> str:
        """Copy a local file or directory under ``name`` (default: its base name); returns the blob's URI."""
        return str(self._client.blob_upload(name=name, tree=pack(local_path)))

    def download(self, name_or_uri: str, local_dir: PathLike) -> Path:
        """Copy the file or directory named ``name_or_uri`` (a name, or a URI from :meth:`upload`) locally."""
        return unpack(self._client.blob_download(name=name_or_uri), local_dir)

    def list(self, prefix: str = "") -> list[str]:
        """The names of the files under ``prefix`` in this namespace, sorted."""
        return list(self._client.blob_list(prefix=prefix))


class AttemptBlobManager(BlobManager):
    """A blob manager for a task in a worker process: its engine's store, through the attempt channel.

    It is the ``blob_manager_class`` of :data:`CHANNEL_BLOB_SPEC`; blobs are
    named relative to the task's namespace.
    """

    def _files(self) -> AttemptBlob:
        from aiflow_core.runtime.context import current_runtime

        return AttemptBlob(current_runtime().client)

    def upload(self, local_file_path: PathLike) -> str:
        """Copy a local file or directory into the namespace under its base name; returns its URI."""
        return self._files().upload(local_file_path)

    def upload_as(self, local_path: PathLike, key: str) -> str:
        """Copy ``local_path`` under ``key`` (relative to the namespace)."""
        return self._files().upload(local_path, name=key)

    def download(self, remote_file_path: str, local_dir: PathLike) -> str:
        """Copy the blob named ``remote_file_path`` (a name or URI) into ``local_dir``; returns the local path."""
        return str(self._files().download(remote_file_path, local_dir))

    def list(self, prefix: str = "") -> list[str]:
        """The names of the files under ``prefix`` in the namespace, sorted."""
        return self._files().list(prefix)
