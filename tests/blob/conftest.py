"""Servers and managers for the blob tests.

Session-scoped servers on 127.0.0.1, each on a free port:

* moto's S3 server (``ThreadedMotoServer``) for S3 and OSS-through-S3;
* Azurite (installed by ``tests/blob/install_azurite.sh`` under
  ``.aiflow-test/azurite``, or found on ``PATH``) for Azure;
* the WebHDFS test server in ``webhdfs_server.py`` for HDFS.

A missing server skips its tests, except with ``CI=true`` where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aiflow_storage.blob import (
    AzureBlobManager,
    BlobManager,
    FsspecBlobManager,
    HDFSBlobManager,
    LocalBlobManager,
    OssBlobManager,
    S3BlobManager,
)

from .webhdfs_server import WebHDFSServer

REPO = Path(__file__).resolve().parents[2]
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
S3_KEY_ID = "AKIAAIFLOWTESTKEY001"
S3_SECRET = "aiflow-test-secret-7f3a9c1e5b"
BUCKET = "aiflow-test"
CONTAINER = "aiflow-test"
BACKENDS = ["local", "memory", "s3", "oss", "azure", "webhdfs"]


def missing_server(reason: str) -> None:
    """Skip the test, or fail it when CI=true (a missing server is never a pass in CI)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: servers must be present)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session", autouse=True)
def _isolated_aws_env() -> Iterator[None]:
    """Keep cloud SDKs from reading this machine's credentials or probing metadata servers.

    Metadata lookups are disabled (AWS) or pointed at a closed port on 127.0.0.1
    (Google), so no test sends traffic anywhere but the loopback interface.
    """
    saved = dict(os.environ)
    for var in [v for v in os.environ if v.startswith(("AWS_", "AZURE_", "GOOGLE_"))]:
        del os.environ[var]
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
    os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
    os.environ["CLOUDSDK_CONFIG"] = os.devnull
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        missing_server("moto[server] is not installed")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def azurite_binary() -> str | None:
    local = REPO / ".aiflow-test" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = azurite_binary()
    if binary is None:
        missing_server("azurite-blob not found; run tests/blob/install_azurite.sh")
    port = free_port()
    workdir = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [
            binary,
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_for_port(port, 30, proc):
            missing_server(f"azurite-blob did not start on port {port}")
        endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
        from azure.storage.blob import BlobServiceClient

        conn = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
        )
        BlobServiceClient.from_connection_string(conn).create_container(CONTAINER)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def webhdfs_url() -> Iterator[str]:
    server = WebHDFSServer().start()
    yield server.url
    server.stop()


def s3_config(endpoint: str, prefix: str) -> dict[str, Any]:
    return {
        "bucket_name": BUCKET,
        "root_directory": prefix,
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "access_key_id": S3_KEY_ID,
        "secret_access_key": S3_SECRET,
    }


def oss_config(endpoint: str, prefix: str) -> dict[str, Any]:
    return {
        "access_key_id": S3_KEY_ID,
        "access_key_secret": S3_SECRET,
        "endpoint": endpoint,
        "bucket": BUCKET,
        "root_directory": prefix,
        "region_name": "us-east-1",
        "addressing_style": "path",
    }


def azure_config(endpoint: str, prefix: str, key: str = AZURITE_KEY) -> dict[str, Any]:
    return {
        "container": CONTAINER,
        "root_directory": prefix,
        "account_name": AZURITE_ACCOUNT,
        "account_key": key,
        "endpoint": endpoint,
    }


@pytest.fixture(scope="session")
def make_manager(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], BlobManager]:
    """Return a function building a fresh, empty manager of a backend by name."""

    def make(backend: str) -> BlobManager:
        prefix = f"t-{uuid.uuid4().hex[:12]}"
        if backend == "local":
            root = tmp_path_factory.mktemp("blobroot")
            return LocalBlobManager({"root_directory": str(root)})
        if backend == "memory":
            return FsspecBlobManager({"url": f"memory://{prefix}"})
        if backend == "s3":
            return S3BlobManager(s3_config(request.getfixturevalue("moto_endpoint"), prefix))
        if backend == "oss":
            return OssBlobManager(oss_config(request.getfixturevalue("moto_endpoint"), prefix))
        if backend == "azure":
            return AzureBlobManager(
                azure_config(request.getfixturevalue("azurite_endpoint"), prefix)
            )
        if backend == "webhdfs":
            url = request.getfixturevalue("webhdfs_url")
            return HDFSBlobManager(
                {"hdfs_url": url, "hdfs_user": "hdfs", "root_directory": f"/{prefix}"}
            )
        raise ValueError(f"unknown backend {backend!r}")

    return make


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
