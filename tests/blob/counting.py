"""A persistence plugin for tests: local files under ``counted://`` URLs.

Every ``get`` appends one line to the file named by the ``count_file``
storage option, so tests can count fetches across threads and processes.
With ``die_during_get`` the process writes half of the file it fetches and
then kills itself, the way a worker crashes mid-download.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

from aiflow_storage.blob import DataPersistence, FsspecPersistence

PROTOCOL = "counted"


def _local(url: str) -> str:
    return url.split("://", 1)[1] if "://" in url else url


class CountingPersistence(DataPersistence):
    def __init__(self, name: str, default_prefix: str | None = None, **kwargs: Any) -> None:
        super().__init__(name, default_prefix)
        self.inner = FsspecPersistence("file", _local(default_prefix) if default_prefix else None)
        self.count_file = kwargs.get("count_file")
        self.die_during_get = bool(kwargs.get("die_during_get"))

    def listdir(self, path: str, recursive: bool = False) -> Iterator[str]:
        for item in self.inner.listdir(_local(path), recursive):
            yield f"{PROTOCOL}://{item}"

    def exists(self, path: str) -> bool:
        return self.inner.exists(_local(path))

    def get(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        if self.count_file:
            fd = os.open(self.count_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{os.getpid()} {from_path}\n".encode())
            finally:
                os.close(fd)
        if self.die_during_get:
            with open(_local(from_path), "rb") as src, open(to_path, "wb") as out:
                data = src.read()
                out.write(data[: len(data) // 2])
                out.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        self.inner.get(_local(from_path), to_path, recursive)

    def put(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        self.inner.put(from_path, _local(to_path), recursive)

    def construct_path(self, add_protocol: bool, add_prefix: bool, *paths: str) -> str:
        local = self.inner.construct_path(False, add_prefix, *paths)
        return f"{PROTOCOL}://{local}" if add_protocol else local


def fetch_count(count_file: str) -> int:
    if not os.path.exists(count_file):
        return 0
    with open(count_file, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())
