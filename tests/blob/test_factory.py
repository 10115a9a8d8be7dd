"""Building managers: class names and aliases, URLs, YAML, the seed's snippet, lazy SDKs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from aiflow_core.errors import ConfigError
from aiflow_storage.blob import (
    AzureBlobManager,
    BlobConfig,
    BlobCredentialsError,
    BlobManager,
    BlobManagerFactory,
    FsspecBlobManager,
    GcsBlobManager,
    HDFSBlobManager,
    LocalBlobManager,
    OssBlobManager,
    S3BlobManager,
    create_blob_manager,
)
from aiflow_storage.blob.factory import ALIASES, resolve_class

from .conftest import REPO

SEED_PATHS = {
    "ai_flow_plugins.blob_manager_plugins.local_blob_manager.LocalBlobManager": LocalBlobManager,
    "ai_flow.blob_manager.impl.local_blob_manager.LocalBlobManager": LocalBlobManager,
    "ai_flow_plugins.blob_manager_plugins.oss_blob_manager.OssBlobManager": OssBlobManager,
    "ai_flow_plugins.blob_manager_plugins.hdfs_blob_manager.HDFSBlobManager": HDFSBlobManager,
    "ai_flow_plugins.blob_manager_plugins.s3_blob_manager.S3BlobManager": S3BlobManager,
    "aiflow_storage.blob.LocalBlobManager": LocalBlobManager,
    "aiflow_storage.blob.azure.AzureBlobManager": AzureBlobManager,
}
CONFIGS: dict[type, dict[str, Any]] = {
    LocalBlobManager: {"root_directory": "ROOT"},
    OssBlobManager: {
        "access_key_id": "id",
        "access_key_secret": "secret-value",
        "endpoint": "oss-cn-hangzhou.aliyuncs.com",
        "bucket": "ai-flow",
        "root_directory": "tmp",
    },
    HDFSBlobManager: {
        "hdfs_url": "http://hadoop-dfs:50070",
        "hdfs_user": "hdfs",
        "root_directory": "/tmp",
    },
    S3BlobManager: {"bucket_name": "b", "region_name": "us-east-1"},
    AzureBlobManager: {"container": "c", "account_name": "acct", "account_key": "a2V5"},
}


@pytest.mark.parametrize("class_name", sorted(SEED_PATHS))
def test_class_names_and_seed_aliases(class_name: str, tmp_path: Path) -> None:
    cls = SEED_PATHS[class_name]
    config = {k: (str(tmp_path) if v == "ROOT" else v) for k, v in CONFIGS[cls].items()}
    manager = BlobManagerFactory.create_blob_manager(class_name, config)
    assert type(manager) is cls
    assert class_name in ALIASES


def test_gcs_never_falls_back_to_anonymous_access() -> None:
    assert resolve_class("aiflow_storage.blob.GcsBlobManager") is GcsBlobManager
    with pytest.raises(BlobCredentialsError, match="credentials"):
        GcsBlobManager({"bucket": "g", "project": "p"})


def test_manager_roots_follow_the_seed_keys(tmp_path: Path) -> None:
    oss = OssBlobManager(CONFIGS[OssBlobManager])
    assert oss.root == "s3://ai-flow/tmp"
    client = oss.persistence.fs.client_kwargs  # type: ignore[attr-defined]
    assert client == {
        "endpoint_url": "https://s3.oss-cn-hangzhou.aliyuncs.com",
        "region_name": "cn-hangzhou",
    }
    hdfs = HDFSBlobManager(CONFIGS[HDFSBlobManager])
    assert hdfs.root == "webhdfs:///tmp"
    assert hdfs.persistence.fs.url == "http://hadoop-dfs:50070/webhdfs/v1"  # type: ignore[attr-defined]
    assert S3BlobManager({"bucket_name": "b", "root_directory": "/x/y/"}).root == "s3://b/x/y"
    assert AzureBlobManager(CONFIGS[AzureBlobManager]).root == "abfs://c"


def test_user_class_taking_config(tmp_path: Path) -> None:
    module = tmp_path / "user_manager_mod.py"
    module.write_text(
        "from aiflow_core.plugin_interface.blob_manager_interface import BlobManager\n"
        "import shutil, os\n"
        "class UserManager(BlobManager):\n"
        "    def __init__(self, config):\n"
        "        super().__init__(config)\n"
        "        self.where = config['where']\n"
        "    def upload(self, local_file_path):\n"
        "        dest = os.path.join(self.where, os.path.basename(local_file_path))\n"
        "        shutil.copyfile(local_file_path, dest)\n"
        "        return dest\n"
        "    def download(self, remote_file_path, local_dir):\n"
        "        return shutil.copy(remote_file_path, local_dir)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        store = tmp_path / "store"
        store.mkdir()
        user = create_blob_manager(
            {
                "blob_manager_class": "user_manager_mod.UserManager",
                "blob_manager_config": {"where": str(store)},
            }
        )
        assert type(user).__name__ == "UserManager"
        src = tmp_path / "wf.py"
        src.write_text("x")
        assert user.upload_as(src, "snapshots/abc.tar.gz") == str(store / "abc.tar.gz")
        assert src.exists()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("user_manager_mod", None)


@pytest.mark.parametrize(
    ("spec", "kind", "root_end"),
    [
        ("memory://urlroot", FsspecBlobManager, "memory:///urlroot"),
        ("file:///ROOT/a", LocalBlobManager, "/a"),
        ("ROOT/b", LocalBlobManager, "/b"),
    ],
)
def test_urls_and_paths(spec: str, kind: type, root_end: str, tmp_path: Path) -> None:
    manager = create_blob_manager(
        spec.replace("/ROOT", str(tmp_path)).replace("ROOT", str(tmp_path))
    )
    assert type(manager) is kind
    assert manager.root.endswith(root_end)  # type: ignore[attr-defined]
    assert create_blob_manager(manager) is manager
    assert type(create_blob_manager(Path(tmp_path / "p"))) is LocalBlobManager


def test_s3_url_builds_the_generic_manager() -> None:
    manager = create_blob_manager("s3://bucket/prefix")
    assert type(manager) is FsspecBlobManager
    assert manager.root == "s3://bucket/prefix"  # type: ignore[attr-defined]
    assert manager.persistence.fs.anon is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("class_name", "config", "message"),
    [
        ("no.such.module.Manager", {}, "cannot load"),
        ("aiflow_storage.blob.NoSuchManager", {}, "cannot load"),
        ("json.JSONDecoder", {}, "upload"),
        ("NoDots", {}, "dotted path"),
        ("aiflow_storage.blob.LocalBlobManager", {}, "root_directory"),
        ("aiflow_storage.blob.S3BlobManager", {}, "bucket_name"),
        ("aiflow_storage.blob.S3BlobManager", {"bucket_name": "b", "access_key_id": "k"}, "both"),
        ("aiflow_storage.blob.S3BlobManager", {"bucket_name": "b", "service_name": "ec2"}, "'s3'"),
        ("aiflow_storage.blob.OssBlobManager", {"bucket": "b", "endpoint": "e"}, "access_key_id"),
        ("aiflow_storage.blob.HDFSBlobManager", {"hdfs_url": "ftp://x"}, "hdfs_url"),
        ("aiflow_storage.blob.AzureBlobManager", {"container": "c"}, "connection_string"),
        ("aiflow_storage.blob.GcsBlobManager", {"bucket": "b", "token": "anon"}, "anonymous"),
        (
            "aiflow_storage.blob.FsspecBlobManager",
            {"url": "memory://x", "retries": "many"},
            "retries",
        ),
    ],
)
def test_bad_configuration_is_a_config_error(
    class_name: str, config: Mapping[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        BlobManagerFactory.create_blob_manager(class_name, config)
    assert isinstance(info.value, ValueError)


def test_blob_config_reads_both_yaml_sections(tmp_path: Path) -> None:
    project = tmp_path / "project.yaml"
    project.write_text(
        "blob:\n"
        "  blob_manager_class: "
        "ai_flow_plugins.blob_manager_plugins.local_blob_manager.LocalBlobManager\n"
        "  blob_manager_config:\n"
        f"    root_directory: {tmp_path / 'proj'}\n"
    )
    server = tmp_path / "aiflow_server.yaml"
    server.write_text(
        "server_address: localhost:50051\n"
        "blob_manager:\n"
        "  blob_manager_class: ai_flow.blob_manager.impl.local_blob_manager.LocalBlobManager\n"
        "  blob_manager_config:\n"
        f"    root_directory: {tmp_path / 'srv'}\n"
    )
    for path, root in ((project, "proj"), (server, "srv")):
        config = BlobConfig.from_yaml(path)
        assert config.blob_manager_config() == {"root_directory": str(tmp_path / root)}
        manager = BlobManagerFactory.create_blob_manager(
            config.blob_manager_class(), config.blob_manager_config()
        )
        assert isinstance(manager, LocalBlobManager)
    empty = tmp_path / "empty.yaml"
    empty.write_text("other: 1\n")
    with pytest.raises(ConfigError, match="'blob' or 'blob_manager'"):
        BlobConfig.from_yaml(empty)
    with pytest.raises(ConfigError, match="blob_manager_class"):
        BlobConfig({"blob_manager_config": {}})


def test_seed_snippet_runs_with_aiflow_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIFLOW_BLOB_URL", raising=False)
    (tmp_path / "file").write_text("shared")
    from aiflow_core.context.project_context import current_project_config
    from aiflow_core.plugin_interface.blob_manager_interface import BlobConfig, BlobManagerFactory
    from aiflow_core.workflow.workflow import WorkflowPropertyKeys

    blob_config = BlobConfig(current_project_config().get(WorkflowPropertyKeys.BLOB))
    blob_manager = BlobManagerFactory.create_blob_manager(
        blob_config.blob_manager_class(), blob_config.blob_manager_config()
    )
    uri = blob_manager.upload(local_file_path=str(tmp_path / "file"))
    assert uri == str(tmp_path / "home" / "blob" / "file")
    assert (tmp_path / "file").read_text() == "shared"

    monkeypatch.setenv("AIFLOW_BLOB_URL", "memory://from-env")
    blob_config = BlobConfig(current_project_config().get(WorkflowPropertyKeys.BLOB))
    manager = BlobManagerFactory.create_blob_manager(
        blob_config.blob_manager_class(), blob_config.blob_manager_config()
    )
    assert manager.upload(str(tmp_path / "file")) == "memory:///from-env/file"
    assert isinstance(manager, BlobManager)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_import_loads_no_cloud_sdk() -> None:
    result = _run(
        "import sys, aiflow_storage.blob\n"
        "heavy = [m for m in ('s3fs', 'adlfs', 'gcsfs', 'boto3', 'botocore', 'aiobotocore',"
        " 'azure.storage.blob', 'google.cloud', 'requests') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "config", "extra"),
    [
        ("gcsfs", "GcsBlobManager({'bucket': 'b'})", "gcs"),
        (
            "adlfs",
            "AzureBlobManager({'container': 'c', 'account_name': 'a', 'account_key': 'k'})",
            "azure",
        ),
        ("s3fs", "S3BlobManager({'bucket_name': 'b'})", "s3"),
        (
            "requests",
            "HDFSBlobManager({'hdfs_url': 'http://nn:50070', 'root_directory': '/r'})",
            "hdfs",
        ),
    ],
)
def test_missing_extra_names_the_pip_command(module: str, config: str, extra: str) -> None:
    result = _run(
        f"import sys\nsys.modules[{module!r}] = None\n"
        "from aiflow_storage.blob import *\n"
        "from aiflow_storage.blob import MissingExtraError\n"
        f"try:\n    {config}\nexcept MissingExtraError as exc:\n"
        "    print(isinstance(exc, ImportError), exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("True ")
    assert f"pip install 'aiflow-engine[{extra}]'" in result.stdout
