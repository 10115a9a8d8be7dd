"""A conformance suite every blob manager must pass.

Subclass :class:`BlobManagerContract` in a test module and provide a
``blob`` fixture returning a fresh, empty manager::

    import pytest
    from aiflow_storage.blob import FsspecBlobManager
    from aiflow_storage.blob.testing import BlobManagerContract

    class TestMyStore(BlobManagerContract):
        @pytest.fixture
        def blob(self):
            return FsspecBlobManager({"url": "memory://contract"})

pytest then runs every ``test_*`` method against it. The suite checks the
contract documented in :mod:`aiflow_storage.blob.interface`: round trips of
files and directories, copies that leave the source alone, overwrites,
missing keys, unicode names, larger files, concurrent use and path safety.
This module needs pytest; it is not imported by ``aiflow_storage.blob``.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiflow_storage.blob.errors import BlobNotFoundError, UnsafePathError
from aiflow_storage.blob.interface import BlobManager

__all__ = ["LARGE_FILE_SIZE", "BlobManagerContract"]

LARGE_FILE_SIZE = 6 * 1024 * 1024 + 12345
"""Size of the "large" file: over fsspec's 5 MiB block so writes span several blocks."""


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


class BlobManagerContract:
    """Tests of the blob manager contract; subclasses provide the ``blob`` fixture."""

    @pytest.fixture
    def blob(self) -> BlobManager:
        """A fresh, empty manager of the backend under test."""
        raise NotImplementedError("subclasses of BlobManagerContract provide the 'blob' fixture")

    def test_file_round_trip(self, blob: BlobManager, tmp_path: Path) -> None:
        """A file uploaded comes back byte for byte under its base name."""
        src = _write(tmp_path / "src" / "model.bin", b"\x00\x01payload\xff" * 100)
        uri = blob.upload(str(src))
        assert isinstance(uri, str)
        local = blob.download(uri, str(tmp_path / "out"))
        assert Path(local) == tmp_path / "out" / "model.bin"
        assert Path(local).read_bytes() == src.read_bytes()

    def test_upload_copies_and_leaves_source(self, blob: BlobManager, tmp_path: Path) -> None:
        """Upload copies: the source keeps its inode, content, time and mode."""
        src = _write(tmp_path / "keep.txt", b"mine")
        before = os.stat(src)
        blob.upload(str(src))
        after = os.stat(src)
        assert src.read_bytes() == b"mine"
        assert (before.st_ino, before.st_mtime_ns, before.st_mode) == (
            after.st_ino,
            after.st_mtime_ns,
            after.st_mode,
        )

    def test_directory_round_trip(self, blob: BlobManager, tmp_path: Path) -> None:
        """A directory tree uploaded comes back whole."""
        src = tmp_path / "project"
        _write(src / "main.py", b"print('hi')\n")
        _write(src / "pkg" / "__init__.py", b"")
        _write(src / "pkg" / "deep" / "data.csv", b"a,b\n1,2\n")
        uri = blob.upload(str(src))
        local = Path(blob.download(uri, str(tmp_path / "out")))
        assert local == tmp_path / "out" / "project"
        assert _tree(local) == _tree(src)
        assert src.is_dir() and _tree(src)["main.py"] == b"print('hi')\n"

    def test_overwrite_replaces_content(self, blob: BlobManager, tmp_path: Path) -> None:
        """Uploading a name again replaces the blob and the local copy."""
        src = _write(tmp_path / "a" / "conf.yaml", b"version: 1\n")
        uri1 = blob.upload(str(src))
        _write(tmp_path / "b" / "conf.yaml", b"version: 2 and longer\n")
        uri2 = blob.upload(str(tmp_path / "b" / "conf.yaml"))
        assert uri1 == uri2
        out = tmp_path / "out"
        _write(out / "conf.yaml", b"stale local copy")
        assert Path(blob.download(uri2, str(out))).read_bytes() == b"version: 2 and longer\n"

    def test_missing_blob_raises_not_found(self, blob: BlobManager, tmp_path: Path) -> None:
        """A missing blob raises BlobNotFoundError and leaves no partial file."""
        out = tmp_path / "out"
        with pytest.raises(BlobNotFoundError) as info:
            blob.download("no/such/thing.txt", str(out))
        assert isinstance(info.value, FileNotFoundError)
        assert "thing.txt" in str(info.value)
        assert not out.exists() or list(out.iterdir()) == []

    def test_missing_local_source_raises(self, blob: BlobManager, tmp_path: Path) -> None:
        """Uploading a path that does not exist raises FileNotFoundError."""
        with pytest.raises(FileNotFoundError):
            blob.upload(str(tmp_path / "absent.txt"))

    def test_exists_and_list(self, blob: BlobManager, tmp_path: Path) -> None:
        """exists() sees files and directories; list() returns sorted keys."""
        blob.upload_as(_write(tmp_path / "x", b"1"), "dir/one.txt")
        blob.upload_as(_write(tmp_path / "y", b"2"), "dir/sub/two.txt")
        blob.upload_as(_write(tmp_path / "z", b"3"), "other.txt")
        assert blob.exists("dir/one.txt")
        assert blob.exists("dir")
        assert not blob.exists("dir/none.txt")
        assert blob.list("dir") == ["dir/one.txt", "dir/sub/two.txt"]
        assert blob.list() == ["dir/one.txt", "dir/sub/two.txt", "other.txt"]
        assert blob.list("nothing-here") == []

    def test_delete(self, blob: BlobManager, tmp_path: Path) -> None:
        """delete() removes a file, or a directory and its tree; a missing one is no error; siblings stay."""
        blob.upload_as(_write(tmp_path / "x", b"1"), "logs/a/one.txt")
        blob.upload_as(_write(tmp_path / "y", b"2"), "logs/a/sub/two.txt")
        blob.upload_as(_write(tmp_path / "z", b"3"), "logs/ab/three.txt")
        blob.upload_as(_write(tmp_path / "w", b"4"), "logs/four.txt")
        blob.delete("logs/four.txt")
        blob.delete("logs/a")
        blob.delete("logs/a")
        blob.delete("never/was")
        assert not blob.exists("logs/a") and not blob.exists("logs/four.txt")
        assert blob.list("logs") == ["logs/ab/three.txt"]
        with pytest.raises(UnsafePathError):
            blob.delete("../outside")

    def test_unicode_and_spaces_in_names(self, blob: BlobManager, tmp_path: Path) -> None:
        """Names with accents, CJK characters, symbols and spaces round-trip."""
        name = "données été 数据 ✓.txt"
        src = _write(tmp_path / "in" / name, "ünïcødé".encode())
        uri = blob.upload(str(src))
        local = Path(blob.download(uri, str(tmp_path / "out")))
        assert local.name == name
        assert local.read_text(encoding="utf-8") == "ünïcødé"
        assert blob.list() == [name]

    def test_empty_file(self, blob: BlobManager, tmp_path: Path) -> None:
        """An empty file round-trips."""
        uri = blob.upload(_write(tmp_path / "empty", b""))
        assert Path(blob.download(uri, str(tmp_path / "out"))).read_bytes() == b""

    def test_large_file(self, blob: BlobManager, tmp_path: Path) -> None:
        """A file spanning several write blocks round-trips intact."""
        data = os.urandom(LARGE_FILE_SIZE)
        uri = blob.upload(_write(tmp_path / "big.bin", data))
        local = Path(blob.download(uri, str(tmp_path / "out")))
        assert local.stat().st_size == len(data)
        assert hashlib.sha256(local.read_bytes()).digest() == hashlib.sha256(data).digest()

    def test_concurrent_uploads_and_downloads(self, blob: BlobManager, tmp_path: Path) -> None:
        """Eight threads uploading and downloading distinct blobs interfere with nothing."""
        payloads = {f"c/file-{i:02d}.bin": os.urandom(1000 + i) for i in range(24)}

        def roundtrip(key: str) -> bytes:
            src = _write(tmp_path / "src" / key, payloads[key])
            uri = blob.upload_as(src, key)
            local = blob.download(uri, str(tmp_path / "dst" / key.replace("/", "_")))
            return Path(local).read_bytes()

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = dict(zip(payloads, pool.map(roundtrip, payloads), strict=True))
        assert results == payloads
        assert blob.list("c") == sorted(payloads)

    def test_concurrent_downloads_of_one_blob(self, blob: BlobManager, tmp_path: Path) -> None:
        """Many threads downloading one blob each get the full content."""
        data = os.urandom(200_000)
        uri = blob.upload(_write(tmp_path / "shared.bin", data))
        with ThreadPoolExecutor(max_workers=8) as pool:
            paths = list(pool.map(lambda i: blob.download(uri, str(tmp_path / f"d{i}")), range(16)))
        assert all(Path(p).read_bytes() == data for p in paths)

    @pytest.mark.parametrize(
        "key", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "a//b", "./a", "a\\..\\b", ""]
    )
    def test_unsafe_keys_are_refused(self, blob: BlobManager, tmp_path: Path, key: str) -> None:
        """Keys escaping the root are refused for upload and download."""
        src = _write(tmp_path / "f", b"x")
        with pytest.raises(UnsafePathError):
            blob.upload_as(src, key)
        with pytest.raises((UnsafePathError, BlobNotFoundError)) as info:
            blob.download(key, str(tmp_path / "out"))
        if key.startswith(("..", "a/..")):
            assert isinstance(info.value, UnsafePathError)
        assert not (tmp_path / "escape.txt").exists()

    def test_uri_outside_root_is_refused(self, blob: BlobManager, tmp_path: Path) -> None:
        """A URI outside the root (or of another bucket) is refused."""
        uri = blob.upload(_write(tmp_path / "inside.txt", b"x"))
        parent, _, _ = uri.rstrip("/").rpartition("/")
        outside = parent.rpartition("/")[0] + "/elsewhere/inside.txt"
        with pytest.raises(UnsafePathError):
            blob.download(outside, str(tmp_path / "out"))
        with pytest.raises(UnsafePathError):
            blob.download("s3://another-bucket/inside.txt", str(tmp_path / "out"))

    def test_directory_with_link_outside_is_refused(
        self, blob: BlobManager, tmp_path: Path
    ) -> None:
        """A directory holding a link to a file outside it is not uploaded."""
        secret = _write(tmp_path / "secret.txt", b"do not upload")
        src = tmp_path / "tree"
        _write(src / "ok.txt", b"fine")
        (src / "leak.txt").symlink_to(secret)
        with pytest.raises(UnsafePathError):
            blob.upload(str(src))
