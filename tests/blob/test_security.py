"""Credentials: refused ones are errors (never anonymous retries) and secrets never leak."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from aiflow_storage.blob import (
    AzureBlobManager,
    BlobConfig,
    BlobCredentialsError,
    BlobManager,
    HDFSBlobManager,
    LocalBlobManager,
    S3BlobManager,
    UnsafePathError,
    redact,
)

from .conftest import AZURITE_KEY, S3_KEY_ID, S3_SECRET, azure_config, s3_config

WRONG_AZURE_KEY = "V3JvbmdLZXlGb3JBenVyaXRlVGhhdElzTm90VmFsaWQxMjM0NTY3ODkwYWJjZGVmZ2g="


def _assert_hidden(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


def test_wrong_azure_key_is_a_credentials_error(
    azurite_endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blob = AzureBlobManager(azure_config(azurite_endpoint, "wrong-key", key=WRONG_AZURE_KEY))
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(BlobCredentialsError) as info:
        blob.upload(str(src))
    assert isinstance(info.value, PermissionError)
    assert info.value.__cause__ is None
    _assert_hidden(str(info.value) + repr(info.value), WRONG_AZURE_KEY)
    _assert_hidden(caplog.text, WRONG_AZURE_KEY)
    with pytest.raises(BlobCredentialsError):
        blob.download("f.txt", str(tmp_path / "out"))


def test_s3_without_credentials_is_an_error_not_anonymous(
    moto_endpoint: str, tmp_path: Path
) -> None:
    config = s3_config(moto_endpoint, "anon-check")
    del config["access_key_id"], config["secret_access_key"]
    blob = S3BlobManager(config)
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(BlobCredentialsError, match=r"NoCredentialsError|credentials"):
        blob.upload(str(src))
    authorised = S3BlobManager(s3_config(moto_endpoint, "anon-check"))
    assert authorised.list() == []


def test_unknown_hdfs_user_is_a_credentials_error(webhdfs_url: str, tmp_path: Path) -> None:
    blob = HDFSBlobManager(
        {"hdfs_url": webhdfs_url, "hdfs_user": "mallory", "root_directory": "/x"}
    )
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(BlobCredentialsError, match="mallory"):
        blob.upload(str(src))


@pytest.mark.parametrize("backend", ["s3", "oss", "azure"])
def test_secrets_stay_out_of_logs_reprs_and_errors(
    backend: str,
    make_manager: Callable[[str], BlobManager],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    blob = make_manager(backend)
    secrets = (S3_SECRET, S3_KEY_ID) if backend != "azure" else (AZURITE_KEY,)
    src = tmp_path / "file.txt"
    src.write_text("payload")
    uri = blob.upload(str(src))
    blob.download(uri, str(tmp_path / "out"))
    blob.list()
    with pytest.raises(FileNotFoundError) as missing:
        blob.download("absent.txt", str(tmp_path / "out"))
    shown = [repr(blob), str(blob), repr(blob.config), str(blob.config), str(missing.value)]
    shown.append(
        repr(
            BlobConfig(
                {
                    "blob_manager_class": type(blob).__name__,
                    "blob_manager_config": dict(blob.config),
                }
            )
        )
    )
    for text in shown:
        _assert_hidden(text, *secrets)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("aiflow"))
    _assert_hidden(ours, *secrets)
    assert backend == "azure" or S3_SECRET not in caplog.text
    assert AZURITE_KEY not in caplog.text


def test_redact_masks_nested_secrets() -> None:
    config = {
        "blob_manager_class": "aiflow_storage.blob.S3BlobManager",
        "blob_manager_config": {
            "bucket_name": "b",
            "access_key_id": "AKIA",
            "secret_access_key": "s3cr3t",
            "storage_options": {"key": "k1", "secret": "k2"},
        },
    }
    text = repr(redact(config))
    for secret in ("AKIA", "s3cr3t", "'k1'", "'k2'"):
        assert secret not in text
    assert "bucket_name" in text and "'b'" in text
    assert config["blob_manager_config"]["secret_access_key"] == "s3cr3t"


def test_local_root_links_cannot_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    blob = LocalBlobManager({"root_directory": str(root)})
    (root / "link").symlink_to(outside, target_is_directory=True)
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(UnsafePathError):
        blob.upload_as(src, "link/f.txt")
    with pytest.raises(UnsafePathError):
        blob.download("link/f.txt", str(tmp_path / "out"))
    assert list(outside.iterdir()) == []


def test_oss_endpoint_forms() -> None:
    from aiflow_storage.blob.oss import oss_s3_endpoint

    assert oss_s3_endpoint("oss-cn-hangzhou.aliyuncs.com") == (
        "https://s3.oss-cn-hangzhou.aliyuncs.com",
        "cn-hangzhou",
    )
    assert oss_s3_endpoint("https://oss-cn-beijing-internal.aliyuncs.com") == (
        "https://s3.oss-cn-beijing-internal.aliyuncs.com",
        "cn-beijing",
    )
    assert oss_s3_endpoint("http://127.0.0.1:9000") == ("http://127.0.0.1:9000", None)
