"""Many threads and processes downloading the same blob into the same folder at once.

Every downloader must end with the whole file under the final name, and no
temporary file may be left behind. Small blobs and many rounds make the
downloads overlap as much as possible.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from aiflow_storage.blob import BlobManager, BlobManagerFactory

from .conftest import REPO, s3_config

HERE = Path(__file__).resolve().parent
WORKERS = 8
#: Downloads per thread or process. Local downloads are quick, so they need more rounds to
#: overlap; processes start their rounds at once but then drift apart, threads meet at a barrier.
THREAD_ROUNDS = {"local": 200, "s3": 15}
PROCESS_ROUNDS = {"local": 1000, "s3": 15}


def _manager(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """The class name and configuration of a fresh manager (rebuilt alike in worker processes)."""
    if backend == "local":
        return "aiflow_storage.blob.LocalBlobManager", {"root_directory": str(tmp_path / "blobroot")}
    endpoint = request.getfixturevalue("moto_endpoint")
    return "aiflow_storage.blob.S3BlobManager", s3_config(endpoint, f"t-{uuid.uuid4().hex[:12]}")


def _stored_blob(blob: BlobManager, tmp_path: Path, name: str = "data.bin") -> tuple[str, bytes]:
    source = tmp_path / "source" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(3000)
    source.write_bytes(data)
    return blob.upload(str(source)), data


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_threads_downloading_one_blob_into_one_folder_each_get_the_whole_file(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    class_name, config = _manager(backend, request, tmp_path)
    blob = BlobManagerFactory.create_blob_manager(class_name, config)
    uri, data = _stored_blob(blob, tmp_path)
    target = tmp_path / "downloads"
    errors: list[str] = []

    def download(start: threading.Barrier) -> None:
        start.wait()
        try:
            path = blob.download(uri, str(target))
            with open(path, "rb") as copy:
                if copy.read() != data:
                    errors.append(f"{path} does not hold the blob")
        except Exception as exc:  # collected and reported by the test thread
            errors.append(f"{type(exc).__name__}: {exc}")

    for _ in range(THREAD_ROUNDS[backend]):
        start = threading.Barrier(WORKERS)
        threads = [threading.Thread(target=download, args=(start,)) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert os.listdir(target) == ["data.bin"]
    assert (target / "data.bin").read_bytes() == data


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_processes_downloading_one_blob_into_one_folder_each_get_the_whole_file(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    class_name, config = _manager(backend, request, tmp_path)
    blob = BlobManagerFactory.create_blob_manager(class_name, config)
    uri, data = _stored_blob(blob, tmp_path)
    target = tmp_path / "downloads"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    args = [
        sys.executable, str(HERE / "download_worker.py"), class_name, json.dumps(config), uri, str(target),
        hashlib.sha256(data).hexdigest(), str(PROCESS_ROUNDS[backend]), str(go),
    ]
    workers = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(WORKERS)
    ]
    go.touch()
    results = [worker.communicate(timeout=300) for worker in workers]
    assert [(w.returncode, out.strip()) for w, (out, _) in zip(workers, results, strict=True)] == [
        (0, "ok")
    ] * WORKERS, [err for _, err in results]
    assert os.listdir(target) == ["data.bin"]
    assert (target / "data.bin").read_bytes() == data


def test_threads_downloading_one_directory_into_one_folder_each_get_the_whole_tree(tmp_path: Path) -> None:
    blob = BlobManagerFactory.create_blob_manager(
        "aiflow_storage.blob.LocalBlobManager", {"root_directory": str(tmp_path / "blobroot")}
    )
    tree = tmp_path / "source" / "model"
    (tree / "sub").mkdir(parents=True)
    files = {"a.txt": os.urandom(500), "sub/b.bin": os.urandom(700)}
    for name, content in files.items():
        (tree / name).write_bytes(content)
    uri = blob.upload(str(tree))
    target = tmp_path / "downloads"
    errors: list[str] = []

    def download(start: threading.Barrier) -> None:
        start.wait()
        try:
            blob.download(uri, str(target))
        except Exception as exc:  # collected and reported by the test thread
            errors.append(f"{type(exc).__name__}: {exc}")

    for _ in range(THREAD_ROUNDS["local"] // 4):
        start = threading.Barrier(WORKERS)
        threads = [threading.Thread(target=download, args=(start,)) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert os.listdir(target) == ["model"]
    assert {name: (target / "model" / name).read_bytes() for name in files} == files
    assert sorted(p.relative_to(target / "model").as_posix() for p in (target / "model").rglob("*")) == [
        "a.txt", "sub", "sub/b.bin"
    ]
