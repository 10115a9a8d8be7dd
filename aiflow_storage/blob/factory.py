"""Building blob managers from configuration.

A manager is named by ``blob_manager_class``: a dotted path of any
importable class taking ``config: dict`` (``module.Class`` or
``module:Class``), or one of the original AIFlow class paths, which are
aliases of the built-in managers (and load nothing until used).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from aiflow_storage.blob.errors import BlobConfigError
from aiflow_storage.blob.interface import BlobManager
from aiflow_storage.blob.redaction import redact

__all__ = [
    "ALIASES",
    "BlobConfig",
    "BlobManagerFactory",
    "blob_config_from_url",
    "create_blob_manager",
    "resolve_class",
]

_BUILTIN = {
    "LocalBlobManager": "aiflow_storage.blob.local",
    "S3BlobManager": "aiflow_storage.blob.s3",
    "OssBlobManager": "aiflow_storage.blob.oss",
    "HDFSBlobManager": "aiflow_storage.blob.hdfs",
    "AzureBlobManager": "aiflow_storage.blob.azure",
    "GcsBlobManager": "aiflow_storage.blob.gcs",
    "FsspecBlobManager": "aiflow_storage.blob.manager",
}
_SEED_MODULES = {
    "LocalBlobManager": "local_blob_manager",
    "S3BlobManager": "s3_blob_manager",
    "OssBlobManager": "oss_blob_manager",
    "HDFSBlobManager": "hdfs_blob_manager",
    "AzureBlobManager": "azure_blob_manager",
    "GcsBlobManager": "gcs_blob_manager",
}


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for cls, module in _BUILTIN.items():
        target = f"{module}.{cls}"
        table[f"aiflow_storage.blob.{cls}"] = target
        table[target] = target
        seed_module = _SEED_MODULES.get(cls)
        if seed_module is None:
            continue
        for package in (
            "ai_flow_plugins.blob_manager_plugins",
            "aiflow_plugins.blob_manager_plugins",
            "ai_flow.blob_manager.impl",
            "aiflow_core.blob_manager.impl",
            "ai_flow.plugins.blob_manager",
        ):
            table[f"{package}.{seed_module}.{cls}"] = target
    return table


ALIASES: dict[str, str] = _aliases()
"""Accepted ``blob_manager_class`` names -> the dotted path of the class they load."""


def resolve_class(class_name: str) -> type:
    """Import and return the blob manager class named ``class_name``.

    Raises :class:`BlobConfigError` when it cannot be imported or lacks
    ``upload``/``download``.
    """
    if not isinstance(class_name, str) or not class_name.strip():
        raise BlobConfigError(f"blob_manager_class must be a dotted class path, got {class_name!r}")
    target = ALIASES.get(class_name.strip(), class_name.strip())
    module_name, sep, attr = target.partition(":")
    if not sep:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise BlobConfigError(
            f"blob_manager_class {class_name!r} is not a dotted path like 'package.module.Class'"
        )
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BlobConfigError(f"cannot load blob_manager_class {class_name!r}: {exc}") from None
    if not (isinstance(cls, type) and callable(getattr(cls, "upload", None))):
        raise BlobConfigError(
            f"blob_manager_class {class_name!r} is not a class with upload() and download()"
        )
    if not callable(getattr(cls, "download", None)):
        raise BlobConfigError(f"blob_manager_class {class_name!r} has no download() method")
    return cls


class BlobManagerFactory:
    """Creates blob managers from a class name and a configuration mapping."""

    @staticmethod
    def create_blob_manager(class_name: str, config: Mapping[str, Any] | None) -> BlobManager:
        """Return an instance of ``class_name`` built with ``config`` (``{}`` if None)."""
        cls = resolve_class(class_name)
        if config is not None and not isinstance(config, Mapping):
            raise BlobConfigError(
                f"blob_manager_config must be a mapping, got {type(config).__name__}"
            )
        manager: BlobManager = cls(dict(config or {}))
        return manager


class BlobConfig(dict[str, Any]):
    """The ``blob`` section of a configuration: ``blob_manager_class`` + ``blob_manager_config``.

    Built from a mapping (as in the original AIFlow) or, through
    :meth:`from_yaml`, from the ``blob:`` or ``blob_manager:`` section of a
    YAML file. A URL string is accepted too (see :func:`blob_config_from_url`).
    """

    def __init__(self, config: Mapping[str, Any] | str | os.PathLike[str] | None) -> None:
        if isinstance(config, str | os.PathLike):
            config = blob_config_from_url(os.fspath(config))
        if not isinstance(config, Mapping):
            raise BlobConfigError(
                "blob configuration must be a mapping with blob_manager_class and "
                f"blob_manager_config, got {config!r}"
            )
        super().__init__(config)
        if not self.get("blob_manager_class"):
            raise BlobConfigError("blob configuration has no 'blob_manager_class'")

    def blob_manager_class(self) -> str:
        """Return the fully qualified class name of the blob manager."""
        return str(self["blob_manager_class"])

    def blob_manager_config(self) -> dict[str, Any]:
        """Return the configuration mapping passed to the blob manager."""
        return dict(self.get("blob_manager_config") or {})

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> BlobConfig:
        """Read the ``blob:`` (project file) or ``blob_manager:`` (server file) section."""
        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise BlobConfigError(f"cannot read blob configuration {str(file)!r}: {exc}") from None
        except yaml.YAMLError as exc:
            raise BlobConfigError(f"{str(file)!r} is not valid YAML: {exc}") from None
        if not isinstance(data, Mapping):
            raise BlobConfigError(f"{str(file)!r} must hold a mapping")
        section = data.get("blob", data.get("blob_manager"))
        if section is None:
            raise BlobConfigError(f"{str(file)!r} has no 'blob' or 'blob_manager' section")
        return cls(section)

    def __repr__(self) -> str:
        return f"BlobConfig({redact(dict(self))!r})"


def blob_config_from_url(url: str) -> dict[str, Any]:
    """Return the ``{blob_manager_class, blob_manager_config}`` mapping for a URL or path.

    Local paths and ``file://`` URLs give a :class:`LocalBlobManager`;
    other URLs the generic :class:`FsspecBlobManager`.
    """
    text = url.strip()
    if not text:
        raise BlobConfigError("blob URL must not be empty")
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" not in text:
        return {
            "blob_manager_class": "aiflow_storage.blob.LocalBlobManager",
            "blob_manager_config": {"root_directory": text},
        }
    return {
        "blob_manager_class": "aiflow_storage.blob.FsspecBlobManager",
        "blob_manager_config": {"url": text},
    }


def create_blob_manager(
    spec: BlobManager | Mapping[str, Any] | str | os.PathLike[str],
) -> BlobManager:
    """Return a blob manager for ``spec``.

    ``spec`` is a manager (returned as is), a ``{blob_manager_class,
    blob_manager_config}`` mapping, or a URL (``s3://bucket/prefix``,
    ``memory://root``, ``file:///srv/blob``) or local path.
    """
    if isinstance(spec, BlobManager):
        return spec
    if isinstance(spec, str | os.PathLike | Mapping):
        config = BlobConfig(spec)
        return BlobManagerFactory.create_blob_manager(
            config.blob_manager_class(), config.blob_manager_config()
        )
    if callable(getattr(spec, "upload", None)) and callable(getattr(spec, "download", None)):
        return spec
    raise BlobConfigError(
        "blob spec must be a BlobManager, a {blob_manager_class, blob_manager_config} "
        f"mapping or a URL, got {type(spec).__name__}"
    )
