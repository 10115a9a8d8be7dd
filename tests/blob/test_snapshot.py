"""Snapshots: deterministic packing, store-once upload, verified per-digest cache."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from aiflow_storage.blob import (
    BlobManager,
    FsspecBlobManager,
    LocalBlobManager,
    SnapshotIntegrityError,
    SnapshotStore,
    UnsafePathError,
    pack_snapshot,
    register_persistence_plugin,
    snapshot_store,
)
from aiflow_storage.blob.persistence import DataPersistencePlugins
from aiflow_storage.blob.snapshot import extract_archive, force_rmtree, sha256_file

from .conftest import REPO
from .counting import PROTOCOL, CountingPersistence, fetch_count

HERE = Path(__file__).parent


@pytest.fixture
def workflow(tmp_path: Path) -> tuple[Path, list[Path]]:
    src = tmp_path / "src"
    src.mkdir()
    wf = src / "my_workflow.py"
    wf.write_text("print('workflow')\n")
    res = src / "resources"
    (res / "nested").mkdir(parents=True)
    (res / "a.txt").write_text("alpha")
    (res / "nested" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (res / "nested" / "run.sh").chmod(0o755)
    extra = src / "config.yaml"
    extra.write_text("k: v\n")
    return wf, [res, extra]


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[tuple[FsspecBlobManager, str]]:
    register_persistence_plugin(f"{PROTOCOL}://", CountingPersistence)
    count_file = str(tmp_path / "fetches.log")
    blob = FsspecBlobManager(
        {"url": f"{PROTOCOL}://{tmp_path / 'store'}", "storage_options": {"count_file": count_file}}
    )
    yield blob, count_file
    DataPersistencePlugins.unregister_plugin(PROTOCOL)


def test_pack_is_deterministic_and_content_addressed(
    workflow: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    wf, artifacts = workflow
    with pack_snapshot(wf, artifacts) as first:
        digest = first.digest
        assert first.path.name == f"{digest}.tar.gz"
        assert sha256_file(first.path) == digest and first.size == first.path.stat().st_size
        with tarfile.open(first.path) as tar:
            members = tar.getmembers()
        names = [m.name for m in members]
        assert names == sorted(names)
        assert names[0] == "config.yaml" and "my_workflow.py" in names
        assert "resources/nested/run.sh" in names
        assert {m.mtime for m in members} == {0}
        assert {m.uname for m in members} == {""}
        modes = {m.name: m.mode for m in members}
        assert modes["resources/nested/run.sh"] == 0o755 and modes["resources/a.txt"] == 0o644
    os.utime(wf, (1_000_000, 1_000_000))
    (artifacts[0] / "a.txt").chmod(0o600)
    with pack_snapshot(str(wf), [str(a) for a in artifacts]) as again:
        assert again.digest == digest
    wf.write_text("print('changed')\n")
    with pack_snapshot(wf, artifacts) as changed:
        assert changed.digest != digest
    assert not first.path.exists()


def test_pack_refuses_duplicate_names_and_missing_sources(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "wf.py").write_text("x")
    (tmp_path / "b" / "wf.py").write_text("y")
    with pytest.raises(ValueError, match=r"wf\.py"):
        pack_snapshot(tmp_path / "a" / "wf.py", [tmp_path / "b" / "wf.py"])
    with pytest.raises(FileNotFoundError, match="missing"):
        pack_snapshot(tmp_path / "a" / "wf.py", [tmp_path / "missing"])


def test_upload_stores_a_digest_once(workflow: tuple[Path, list[Path]], tmp_path: Path) -> None:
    blob = LocalBlobManager({"root_directory": str(tmp_path / "store")})
    store = SnapshotStore(blob, tmp_path / "cache")
    with pack_snapshot(*workflow) as archive:
        uri = store.upload(archive)
        assert uri.endswith(f"snapshots/{archive.digest}.tar.gz")
        stored = Path(uri)
        first = stored.stat().st_mtime_ns
        os.utime(stored, ns=(first - 10**9, first - 10**9))
        assert store.upload(archive) == uri
        assert stored.stat().st_mtime_ns == first - 10**9
    assert workflow[0].exists()


def test_materialize_verifies_extracts_read_only_and_caches(
    workflow: tuple[Path, list[Path]], tmp_path: Path, counted: tuple[FsspecBlobManager, str]
) -> None:
    blob, count_file = counted
    store = SnapshotStore(blob, tmp_path / "cache")
    with pack_snapshot(*workflow) as archive:
        uri = store.upload(archive)
    tree = store.materialize(uri, archive.digest)
    assert tree == tmp_path / "cache" / archive.digest
    assert (tree / "my_workflow.py").read_text() == "print('workflow')\n"
    assert (tree / "resources" / "nested" / "run.sh").stat().st_mode & 0o777 == 0o500
    assert (tree / "config.yaml").stat().st_mode & 0o777 == 0o400
    assert store.materialize(uri, archive.digest) == tree
    assert fetch_count(count_file) == 1
    assert not list((tmp_path / "cache").glob(".tmp-*"))


def test_corrupt_snapshot_is_refused_and_leaves_nothing(
    workflow: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    blob = LocalBlobManager({"root_directory": str(tmp_path / "store")})
    store = SnapshotStore(blob, tmp_path / "cache")
    with pack_snapshot(*workflow) as archive:
        uri = store.upload(archive)
    Path(uri).write_bytes(Path(uri).read_bytes()[:-7] + b"garbage")
    with pytest.raises(SnapshotIntegrityError, match=archive.digest):
        store.materialize(uri, archive.digest)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".locks"]
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.materialize(uri, "../../etc")


def _crafted(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


@pytest.mark.parametrize(
    "members",
    [
        [_file("ok.txt"), _file("../escape.txt")],
        [_file("a/../../escape.txt")],
        [_file("/tmp/absolute-escape.txt")],
        [_file("ok.txt"), _link("link", "/etc/passwd")],
        [_link("inside-link", "ok.txt"), _file("ok.txt")],
        [_link("hard", "/etc/passwd", tarfile.LNKTYPE)],
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-in", "hardlink"],
)
def test_crafted_archives_are_refused(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]
) -> None:
    archive = _crafted(tmp_path / "evil.tar.gz", members)
    dest = tmp_path / "box" / "dest"
    dest.mkdir(parents=True)
    with pytest.raises(UnsafePathError):
        extract_archive(archive, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "box" / "escape.txt").exists()
    assert not Path("/tmp/absolute-escape.txt").exists()


def test_crafted_snapshot_is_refused_by_materialize(tmp_path: Path) -> None:
    archive = _crafted(tmp_path / "evil.tar.gz", [_file("wf.py"), _link("x", "../../../../etc")])
    digest = sha256_file(archive)
    blob = LocalBlobManager({"root_directory": str(tmp_path / "store")})
    uri = blob.upload_as(archive, f"snapshots/{digest}.tar.gz")
    store = SnapshotStore(blob, tmp_path / "cache")
    with pytest.raises(UnsafePathError):
        store.materialize(uri, digest)
    assert not (tmp_path / "cache" / digest).exists()
    assert not list((tmp_path / "cache").glob(".tmp-*"))


def test_threads_fetch_a_snapshot_once(
    workflow: tuple[Path, list[Path]], tmp_path: Path, counted: tuple[FsspecBlobManager, str]
) -> None:
    blob, count_file = counted
    with pack_snapshot(*workflow) as archive:
        uri = SnapshotStore(blob, tmp_path / "cache").upload(archive)
    store = SnapshotStore(blob, tmp_path / "cache")
    start = threading.Barrier(8)

    def worker(_: int) -> set[Path]:
        start.wait()
        return {store.materialize(uri, archive.digest) for _ in range(250)}

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = set().union(*pool.map(worker, range(8)))
    assert results == {tmp_path / "cache" / archive.digest}
    assert fetch_count(count_file) == 1
    assert store.fetches == 1


def _worker(
    mode: str,
    cache: Path,
    root: Path,
    count_file: str,
    uri: str,
    digest: str,
    go_file: Path | None = None,
) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        str(HERE / "snapshot_worker.py"),
        mode,
        str(cache),
        str(root),
        count_file,
        uri,
        digest,
    ]
    if go_file is not None:
        args.append(str(go_file))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


@pytest.fixture
def big_snapshot(tmp_path: Path) -> Iterator[tuple[Path, str, str, Callable[[], None]]]:
    """A snapshot of 1,500 files stored under counted:// (extraction takes a while)."""
    src = tmp_path / "big"
    (src / "files").mkdir(parents=True)
    (src / "wf.py").write_text("print('big')\n")
    for i in range(1500):
        (src / "files" / f"f{i:04d}.txt").write_bytes(os.urandom(512))
    root = tmp_path / "store"
    register_persistence_plugin(f"{PROTOCOL}://", CountingPersistence)
    blob = FsspecBlobManager({"url": f"{PROTOCOL}://{root}"})
    with pack_snapshot(src / "wf.py", [src / "files"]) as archive:
        uri = SnapshotStore(blob, tmp_path / "unused").upload(archive)
        yield root, uri, archive.digest, archive.cleanup
    DataPersistencePlugins.unregister_plugin(PROTOCOL)


def test_processes_extract_one_snapshot_once(
    big_snapshot: tuple[Path, str, str, Callable[[], None]], tmp_path: Path
) -> None:
    root, uri, digest, _ = big_snapshot
    cache, count_file, go = tmp_path / "cache", str(tmp_path / "count.log"), tmp_path / "go"
    procs = [_worker("materialize", cache, root, count_file, uri, digest, go) for _ in range(4)]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    assert {out.strip() for out, _ in outs} == {str(cache / digest)}
    assert fetch_count(count_file) == 1
    assert sorted(p.name for p in cache.iterdir()) == [".locks", digest]
    assert len(list((cache / digest / "files").iterdir())) == 1500


@pytest.mark.parametrize("mode", ["kill-during-extract", "kill-during-download"])
def test_killed_extraction_is_never_taken_for_complete(
    big_snapshot: tuple[Path, str, str, Callable[[], None]], tmp_path: Path, mode: str
) -> None:
    root, uri, digest, _ = big_snapshot
    cache, count_file = tmp_path / "cache", str(tmp_path / "count.log")
    victim = _worker(mode, cache, root, count_file, uri, digest)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == -9, err
    leftovers = list(cache.glob(f".tmp-{digest}-*"))
    assert leftovers, "the killed worker should have left its temporary directory"
    assert not (cache / digest).exists()
    store = SnapshotStore(
        FsspecBlobManager({"url": f"{PROTOCOL}://{root}"}), cache, lock_timeout=10
    )
    tree = store.materialize(uri, digest)
    assert len(list((tree / "files").iterdir())) == 1500
    assert (tree / "wf.py").read_text() == "print('big')\n"
    assert not list(cache.glob(".tmp-*"))


def test_working_dir_is_a_private_writable_copy(
    workflow: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    blob = LocalBlobManager({"root_directory": str(tmp_path / "store")})
    store = SnapshotStore(blob, tmp_path / "cache")
    with pack_snapshot(*workflow) as archive:
        uri = store.upload(archive)
    one = store.working_dir(uri, archive.digest, tmp_path / "runs" / "1")
    two = store.working_dir(uri, archive.digest, tmp_path / "runs" / "2")
    (one / "my_workflow.py").write_text("edited by execution 1")
    (one / "new.txt").write_text("scratch")
    assert (two / "my_workflow.py").read_text() == "print('workflow')\n"
    assert (store.materialize(uri, archive.digest) / "my_workflow.py").read_text() == (
        "print('workflow')\n"
    )
    assert os.access(one / "resources" / "nested" / "run.sh", os.X_OK)
    assert store.working_dir(uri, archive.digest, one) == one
    assert (one / "new.txt").read_text() == "scratch"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["1", "2"]


def test_working_dirs_copy_large_files_whole_and_survive_the_cache_being_removed(
    workflow: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    wf, artifacts = workflow
    large = wf.parent / "large.bin"
    large.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    blob = LocalBlobManager({"root_directory": str(tmp_path / "store")})
    store = SnapshotStore(blob, tmp_path / "cache")
    with pack_snapshot(wf, [*artifacts, large]) as archive:
        uri = store.upload(archive)
    one = store.working_dir(uri, archive.digest, tmp_path / "runs" / "1")
    assert (one / "large.bin").read_bytes() == large.read_bytes()
    force_rmtree(tmp_path / "cache" / archive.digest)
    force_rmtree(tmp_path / "runs")
    two = store.working_dir(uri, archive.digest, tmp_path / "runs" / "2")
    assert (two / "large.bin").read_bytes() == large.read_bytes()
    assert (two / "resources" / "a.txt").read_text() == "alpha"
    assert os.access(two / "resources" / "nested" / "run.sh", os.X_OK)
    assert oct((two / "large.bin").stat().st_mode & 0o777) == oct(0o600)


def test_working_dirs_of_more_snapshots_than_a_store_keeps_are_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_store, "_KEPT_SNAPSHOTS", 2)
    blob = LocalBlobManager({"root_directory": str(tmp_path / "store")})
    store = SnapshotStore(blob, tmp_path / "cache")
    digests = []
    for version in range(4):
        source = tmp_path / f"src{version}" / "wf.py"
        source.parent.mkdir()
        source.write_text(f"print({version})\n")
        with pack_snapshot(source, []) as archive:
            digests.append((store.upload(archive), archive.digest))
    for run, (uri, digest) in enumerate(digests * 2):
        copy = store.working_dir(uri, digest, tmp_path / "runs" / str(run))
        assert (copy / "wf.py").read_text() == f"print({run % 4})\n"


def test_snapshot_round_trip_on_each_backend(
    backend: str,
    make_manager: Callable[[str], BlobManager],
    workflow: tuple[Path, list[Path]],
    tmp_path: Path,
) -> None:
    blob = make_manager(backend)
    store = SnapshotStore(blob, tmp_path / "cache")
    with pack_snapshot(*workflow) as archive:
        uri = store.upload(archive)
        assert store.upload(archive) == uri
    tree = store.working_dir(uri, archive.digest, tmp_path / "run")
    assert (tree / "resources" / "a.txt").read_text() == "alpha"
    assert blob.list("snapshots") == [f"snapshots/{archive.digest}.tar.gz"]
