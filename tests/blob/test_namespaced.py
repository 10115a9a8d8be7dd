"""Files between tasks: a blob manager seen through one namespace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aiflow_storage.blob import BlobManager, NamespacedBlob, UnsafePathError


@pytest.mark.parametrize("backend", ["local", "memory", "s3"])
def test_tasks_share_files_within_a_namespace(
    backend: str, make_manager: Callable[[str], BlobManager], tmp_path: Path
) -> None:
    blob = make_manager(backend)
    producer = NamespacedBlob(blob, "team-a")
    consumer = NamespacedBlob(blob, "team-a")
    other = NamespacedBlob(blob, "team-b")
    data = tmp_path / "features.csv"
    data.write_text("x,y\n1,2\n")
    uri = producer.upload(data)
    producer.upload(data, name="daily/2024-01-01.csv")
    assert consumer.list() == ["daily/2024-01-01.csv", "features.csv"]
    assert consumer.list("daily") == ["daily/2024-01-01.csv"]
    assert other.list() == []
    assert consumer.download("features.csv", tmp_path / "c1").read_text() == "x,y\n1,2\n"
    assert consumer.download(uri, tmp_path / "c2").read_text() == "x,y\n1,2\n"
    with pytest.raises(UnsafePathError, match="team-b"):
        other.download(uri, tmp_path / "c3")
    with pytest.raises(FileNotFoundError):
        other.download("features.csv", tmp_path / "c4")
    with pytest.raises(UnsafePathError):
        producer.upload(data, name="../team-b/features.csv")
    assert blob.list() == [
        "namespaces/team-a/files/daily/2024-01-01.csv",
        "namespaces/team-a/files/features.csv",
    ]


@pytest.mark.parametrize("namespace", ["", "..", "a/b", "."])
def test_namespace_must_be_one_safe_segment(namespace: str, tmp_path: Path) -> None:
    from aiflow_storage.blob import LocalBlobManager

    with pytest.raises(UnsafePathError):
        NamespacedBlob(LocalBlobManager({"root_directory": str(tmp_path)}), namespace)
