"""Blob storage benchmarks, as ratios against raw fsspec calls in the same run.

Run: ``python benchmarks/bench_blob.py --out benchmarks/results [--quick]``.
Writes ``blob.json`` and ``blob.md``.

* one large file (256 MiB, 32 MiB with --quick) up and down through a blob
  manager versus ``fs.put_file``/``fs.get_file`` on the same filesystem, on
  the local disk and on moto's S3 server (targets: ratio >= 0.9);
* 1,000 files of 4 KiB uploaded as one directory (bounded concurrency)
  versus a sequential loop of ``fs.put_file`` on the moto server
  (target: >= 3x faster);
* uploading the snapshot of an unchanged workflow whose digest is already
  stored (target: under 20 ms), on the local disk and on moto.

The moto server runs in its own process so that it does not share the
client's interpreter lock.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aiflow_storage.blob import (  # noqa: E402
    LocalBlobManager,
    S3BlobManager,
    SnapshotStore,
    pack_snapshot,
)

KEY_ID, SECRET, BUCKET = "AKIABENCHMARK0000001", "bench-secret", "bench"
MIB = 1024 * 1024


def log(message: str) -> None:
    print(f"[bench_blob {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_moto(port: int) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    while True:
        time.sleep(3600)


def start_moto() -> tuple[multiprocessing.process.BaseProcess, str]:
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(
        target=_serve_moto, args=(port,), daemon=True
    )
    proc.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or not proc.is_alive():
                raise RuntimeError(f"the moto server did not start on port {port}") from None
            time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    return proc, endpoint


def best_of(runs: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def large_file(name: str, blob: Any, work: Path, size: int, runs: int) -> dict[str, Any]:
    fs = blob.persistence.fs
    src = work / "large.bin"
    with open(src, "wb") as f:
        for _ in range(size // MIB):
            f.write(os.urandom(MIB))
    raw_remote = blob.persistence.construct_path(False, True, "raw", "large.bin")
    ours_key = "ours/large.bin"
    down = work / "down"
    down.mkdir()
    log(f"{name}: {size // MIB} MiB file, raw put_file")
    raw_up = best_of(runs, lambda: fs.put_file(str(src), raw_remote))
    log(f"{name}: blob manager upload")
    our_up = best_of(runs, lambda: blob.upload_as(src, ours_key))
    log(f"{name}: raw get_file")
    raw_down = best_of(runs, lambda: fs.get_file(raw_remote, str(down / "raw.bin")))
    log(f"{name}: blob manager download")
    our_down = best_of(runs, lambda: blob.download(ours_key, str(down)))
    src.unlink()
    shutil.rmtree(down)
    mb = size / MIB
    return {
        "backend": name,
        "size_mib": mb,
        "raw_upload_mib_s": mb / raw_up,
        "blob_upload_mib_s": mb / our_up,
        "upload_ratio": raw_up / our_up,
        "raw_download_mib_s": mb / raw_down,
        "blob_download_mib_s": mb / our_down,
        "download_ratio": raw_down / our_down,
    }


def many_small(blob: Any, work: Path, count: int) -> dict[str, Any]:
    fs = blob.persistence.fs
    tree = work / "small"
    tree.mkdir()
    for i in range(count):
        (tree / f"f{i:05d}.bin").write_bytes(os.urandom(4096))
    files = sorted(tree.iterdir())
    base = blob.persistence.construct_path(False, True, "raw-small")
    log(f"s3: {count} x 4 KiB, sequential raw put_file loop")
    start = time.perf_counter()
    for path in files:
        fs.put_file(str(path), f"{base}/{path.name}")
    raw = time.perf_counter() - start
    log(f"s3: {count} x 4 KiB, blob manager directory upload")
    start = time.perf_counter()
    blob.upload_as(tree, "ours-small")
    ours = time.perf_counter() - start
    assert len(blob.list("ours-small")) == count
    shutil.rmtree(tree)
    return {
        "backend": "s3",
        "files": count,
        "raw_sequential_s": raw,
        "blob_concurrent_s": ours,
        "speedup": raw / ours,
        "max_concurrency": blob.persistence.max_concurrency,
    }


def snapshot_unchanged(name: str, blob: Any, work: Path, runs: int) -> dict[str, Any]:
    src = work / "wf"
    (src / "resources").mkdir(parents=True)
    (src / "my_workflow.py").write_text("from aiflow_core import Workflow\n" * 40)
    for i in range(20):
        (src / "resources" / f"r{i}.txt").write_text(f"resource {i}\n" * 100)
    store = SnapshotStore(blob, work / "cache")
    with pack_snapshot(src / "my_workflow.py", [src / "resources"]) as archive:
        store.upload(archive)
    log(f"{name}: snapshot upload of an unchanged workflow x{runs}")
    total, upload_only = [], []
    for _ in range(runs):
        start = time.perf_counter()
        with pack_snapshot(src / "my_workflow.py", [src / "resources"]) as archive:
            mid = time.perf_counter()
            store.upload(archive)
            end = time.perf_counter()
        total.append(end - start)
        upload_only.append(end - mid)
    shutil.rmtree(src)
    return {
        "backend": name,
        "runs": runs,
        "pack_and_upload_median_ms": statistics.median(total) * 1000,
        "upload_only_median_ms": statistics.median(upload_only) * 1000,
        "target_ms": 20.0,
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Blob storage benchmark",
        "",
        f"Run on {results['machine']}, {results['mode']} mode. Ratios compare aiflow's blob "
        "manager with raw fsspec calls on the same backend in the same run.",
        "",
        "## One large file",
        "",
        "| backend | size MiB | raw up MiB/s | blob up MiB/s | up ratio | raw down MiB/s "
        "| blob down MiB/s | down ratio | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["large_file"]:
        lines.append(
            f"| {r['backend']} | {r['size_mib']:.0f} | {r['raw_upload_mib_s']:.0f} | "
            f"{r['blob_upload_mib_s']:.0f} | {r['upload_ratio']:.2f} | "
            f"{r['raw_download_mib_s']:.0f} | {r['blob_download_mib_s']:.0f} | "
            f"{r['download_ratio']:.2f} | >= 0.9 |"
        )
    s = results["many_small"]
    lines += [
        "",
        "## Many small files (moto S3 server)",
        "",
        "| files | raw sequential s | blob concurrent s | speedup | target |",
        "|---|---|---|---|---|",
        f"| {s['files']} x 4 KiB | {s['raw_sequential_s']:.2f} | {s['blob_concurrent_s']:.2f} "
        f"| {s['speedup']:.1f}x | >= 3x |",
        "",
        "## Snapshot upload, digest already stored",
        "",
        "| backend | pack + upload median ms | upload only median ms | target |",
        "|---|---|---|---|",
    ]
    for r in results["snapshot_unchanged"]:
        lines.append(
            f"| {r['backend']} | {r['pack_and_upload_median_ms']:.2f} | "
            f"{r['upload_only_median_ms']:.2f} | < 20 ms |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results", help="output directory")
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a fast check")
    args = parser.parse_args(argv)
    size = (32 if args.quick else 256) * MIB
    runs = 2 if args.quick else 3
    count = 300 if args.quick else 1000
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        del os.environ[var]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        ),
    }
    log("starting moto S3 server in its own process")
    moto, endpoint = start_moto()
    work = Path(tempfile.mkdtemp(prefix="aiflow-bench-"))
    try:
        local = LocalBlobManager({"root_directory": str(work / "local-root")})
        s3 = S3BlobManager(
            {
                "bucket_name": BUCKET,
                "root_directory": "bench",
                "endpoint_url": endpoint,
                "region_name": "us-east-1",
                "access_key_id": KEY_ID,
                "secret_access_key": SECRET,
            }
        )
        results["large_file"] = [
            large_file("local", local, work, size, runs),
            large_file("s3", s3, work, size, runs),
        ]
        results["many_small"] = many_small(s3, work, count)
        results["snapshot_unchanged"] = [
            snapshot_unchanged("local", local, work, 30),
            snapshot_unchanged("s3", s3, work, 30),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
        moto.terminate()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "blob.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "blob.md").write_text(markdown(results))
    log(f"wrote {out / 'blob.json'} and {out / 'blob.md'}")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
