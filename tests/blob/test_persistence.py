"""Persistence plugins: registration, entry points, precedence over fsspec, retries."""

from __future__ import annotations

import os
import shutil
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiflow_storage.blob import (
    BlobConnectionError,
    BlobCredentialsError,
    DataPersistence,
    DataPersistencePlugins,
    FsspecBlobManager,
    FsspecPersistence,
    UnsupportedPersistenceOp,
    create_blob_manager,
    register_persistence_plugin,
)

STORE: dict[str, bytes] = {}


class CustomPersistence(DataPersistence):
    """The seed's custom plugin, completed: objects in a process-wide dict."""

    def __init__(self, name: str, default_prefix: typing.Optional[str] = None, **kwargs: object):  # noqa: UP045
        self._name = name
        self._default_prefix = default_prefix

    @property
    def name(self) -> str:
        return self._name

    @property
    def default_prefix(self) -> typing.Optional[str]:  # noqa: UP045
        return self._default_prefix

    def listdir(self, path: str, recursive: bool = False) -> typing.Generator[str, None, None]:
        raise UnsupportedPersistenceOp(
            f"Listing a directory is not supported by the persistence plugin {self.name}"
        )

    def exists(self, path: str) -> bool:
        return path in STORE or any(k.startswith(path.rstrip("/") + "/") for k in STORE)

    def get(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        if recursive:
            raise UnsupportedPersistenceOp("directories are not supported")
        if from_path not in STORE:
            raise FileNotFoundError(from_path)
        Path(to_path).write_bytes(STORE[from_path])

    def put(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        if recursive:
            raise UnsupportedPersistenceOp("directories are not supported")
        STORE[to_path] = Path(from_path).read_bytes()

    def construct_path(self, add_protocol: bool, add_prefix: bool, *paths: str) -> str:
        parts = [p.strip("/") for p in paths]
        if add_prefix and self.default_prefix:
            parts.insert(0, self.default_prefix.split("://", 1)[-1].strip("/"))
        path = "/".join(p for p in parts if p)
        return f"cf://{path}" if add_protocol else path


@pytest.fixture
def cf() -> Iterator[None]:
    DataPersistencePlugins.register_plugin("cf://", CustomPersistence)
    STORE.clear()
    yield
    DataPersistencePlugins.unregister_plugin("cf")


def test_seed_custom_plugin_serves_its_protocol(cf: None, tmp_path: Path) -> None:
    blob = create_blob_manager("cf://bucket/data")
    src = tmp_path / "model.pkl"
    src.write_bytes(b"weights")
    uri = blob.upload(str(src))
    assert uri == "cf://bucket/data/model.pkl"
    assert STORE == {"cf://bucket/data/model.pkl": b"weights"}
    assert Path(blob.download(uri, str(tmp_path / "out"))).read_bytes() == b"weights"
    assert blob.exists("model.pkl")
    with pytest.raises(UnsupportedPersistenceOp, match="cf"):
        blob.list()


def test_registering_another_class_needs_force(cf: None) -> None:
    class Other(CustomPersistence):
        pass

    with pytest.raises(ValueError, match="force=True"):
        register_persistence_plugin("cf://", Other)
    register_persistence_plugin("cf://", CustomPersistence)
    register_persistence_plugin("cf", Other, force=True)
    assert DataPersistencePlugins.find_plugin("cf://x/y") is Other
    with pytest.raises(TypeError):
        register_persistence_plugin("zz", dict)  # type: ignore[arg-type]


def test_registered_plugin_is_consulted_before_fsspec(tmp_path: Path) -> None:
    calls: list[str] = []

    class Watched(FsspecPersistence):
        def put(self, from_path: str, to_path: str, recursive: bool = False) -> None:
            calls.append(to_path)
            super().put(from_path, to_path, recursive)

    register_persistence_plugin("memory", Watched, force=True)
    try:
        blob = create_blob_manager("memory://precedence")
        src = tmp_path / "f.txt"
        src.write_text("x")
        blob.upload(str(src))
    finally:
        DataPersistencePlugins.unregister_plugin("memory")
    assert calls == ["memory:///precedence/f.txt"]
    assert type(create_blob_manager("memory://precedence").persistence) is FsspecPersistence  # type: ignore[attr-defined]


def test_entry_point_plugin_is_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    pkg = site / "epplugin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from aiflow_storage.blob import FsspecPersistence\n"
        "class EpPersistence(FsspecPersistence):\n"
        "    def __init__(self, name, default_prefix=None, **kw):\n"
        "        super().__init__('memory', default_prefix.replace('ep://', 'memory://'), **kw)\n"
        "    def _path(self, url):\n"
        "        return super()._path(url.replace('ep://', 'memory://'))\n"
        "    def construct_path(self, add_protocol, add_prefix, *paths):\n"
        "        path = super().construct_path(False, add_prefix, *paths)\n"
        "        return 'ep://' + path.lstrip('/') if add_protocol else path\n"
    )
    dist = site / "epplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: epplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[aiflow.persistence]\nep = epplugin:EpPersistence\n")
    monkeypatch.syspath_prepend(str(site))
    DataPersistencePlugins.refresh_entry_points()
    try:
        blob = create_blob_manager("ep://entry")
        src = tmp_path / "e.txt"
        src.write_text("from an entry point")
        uri = blob.upload(str(src))
        assert uri == "ep://entry/e.txt"
        assert Path(blob.download(uri, str(tmp_path / "o"))).read_text() == "from an entry point"
        assert type(blob.persistence).__name__ == "EpPersistence"  # type: ignore[attr-defined]
    finally:
        DataPersistencePlugins.unregister_plugin("ep")
        DataPersistencePlugins.refresh_entry_points()
        sys.modules.pop("epplugin", None)


class Flaky(FsspecPersistence):
    """Fails ``get`` with the configured error a number of times, then works."""

    failures: typing.ClassVar[list[BaseException]] = []
    attempts: typing.ClassVar[int] = 0

    def get(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        Flaky.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        super().get(from_path, to_path, recursive)


@pytest.fixture
def flaky(tmp_path: Path) -> Iterator[FsspecBlobManager]:
    class FlakyLocal(Flaky):
        def __init__(self, name: str, default_prefix: str | None = None, **kw: object) -> None:
            super().__init__("file", default_prefix.split("://", 1)[1] if default_prefix else None)

        def _path(self, url: str) -> str:
            return url.removeprefix("flaky://")

        def construct_path(self, add_protocol: bool, add_prefix: bool, *paths: str) -> str:
            path = super().construct_path(False, add_prefix, *paths)
            return f"flaky://{path}" if add_protocol else path

    register_persistence_plugin("flaky", FlakyLocal, force=True)
    Flaky.failures, Flaky.attempts = [], 0
    blob = FsspecBlobManager({"url": f"flaky://{tmp_path / 'root'}", "retries": 3})
    src = tmp_path / "f.bin"
    src.write_bytes(b"data")
    uri = blob.upload(str(src))
    assert Path(uri.removeprefix("flaky://")).read_bytes() == b"data"
    yield blob
    DataPersistencePlugins.unregister_plugin("flaky")


def test_transient_errors_are_retried(flaky: FsspecBlobManager, tmp_path: Path) -> None:
    Flaky.failures = [ConnectionResetError("reset by peer"), TimeoutError("read timed out")]
    local = flaky.download("f.bin", str(tmp_path / "out"))
    assert Path(local).read_bytes() == b"data"
    assert Flaky.attempts == 3


def test_retries_are_bounded(flaky: FsspecBlobManager, tmp_path: Path) -> None:
    Flaky.failures = [ConnectionResetError(f"reset {i}") for i in range(10)]
    with pytest.raises(BlobConnectionError, match="reset 2") as info:
        flaky.download("f.bin", str(tmp_path / "out"))
    assert isinstance(info.value, ConnectionError)
    assert Flaky.attempts == 3
    assert not (tmp_path / "out" / "f.bin").exists()
    assert [p for p in os.listdir(tmp_path / "out")] == []


def test_credential_errors_are_not_retried(flaky: FsspecBlobManager, tmp_path: Path) -> None:
    Flaky.failures = [PermissionError("InvalidAccessKeyId")] * 3
    with pytest.raises(BlobCredentialsError):
        flaky.download("f.bin", str(tmp_path / "out"))
    assert Flaky.attempts == 1
    shutil.rmtree(tmp_path / "out")
