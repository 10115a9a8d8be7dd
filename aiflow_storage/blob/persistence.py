"""Persistence plugins: the contract between blob managers and a store.

A persistence plugin moves files between the local disk and one kind of
store, named by URL protocol (``s3``, ``cf``, ...). Blob managers do all their
I/O through one. For a URL, the plugin is found in this order:

1. a class registered with :func:`register_persistence_plugin` for the
   URL's protocol;
2. an entry point of the group ``aiflow.persistence`` whose name is the
   protocol and whose value is ``module:Class``;
3. :class:`~aiflow_storage.blob.fsspec_persistence.FsspecPersistence`, the
   adapter over every filesystem fsspec knows.

So a registered plugin is consulted before fsspec, and may replace fsspec's
handling of a protocol it already supports.

Paths given to a plugin are full URLs (``cf://bucket/dir/file``). Local paths
are plain filesystem paths.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterator
from importlib import metadata
from typing import Any

from aiflow_storage.blob.errors import UnsupportedPersistenceOp

__all__ = [
    "ENTRY_POINT_GROUP",
    "DataPersistence",
    "DataPersistencePlugins",
    "protocol_of",
    "register_persistence_plugin",
]

ENTRY_POINT_GROUP = "aiflow.persistence"


def protocol_of(url: str) -> str:
    """Return the protocol of ``url`` (``"file"`` for plain paths), without ``://``."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep else "file"


class DataPersistence(abc.ABC):
    """Moves data between the local disk and one kind of store.

    ``name`` is the protocol the plugin was found for; ``default_prefix`` is
    the root URL of the blob manager using it. Extra keyword arguments are
    the manager's storage options (credentials, endpoints...).
    """

    def __init__(self, name: str, default_prefix: str | None = None, **kwargs: Any) -> None:
        self._name = name
        self._default_prefix = default_prefix

    @property
    def name(self) -> str:
        """The protocol this plugin serves."""
        return self._name

    @property
    def default_prefix(self) -> str | None:
        """The root URL this plugin was created for, if any."""
        return self._default_prefix

    def listdir(self, path: str, recursive: bool = False) -> Iterator[str]:
        """Yield the URLs of the files under ``path`` (all descendants if ``recursive``).

        Yields nothing when ``path`` does not exist. The default refuses with
        :class:`UnsupportedPersistenceOp`.
        """
        raise UnsupportedPersistenceOp(
            f"listing a directory is not supported by the persistence plugin {self.name!r}"
        )

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Return whether a file or directory exists at ``path``."""

    def remove(self, path: str, recursive: bool = False) -> None:
        """Delete the file at ``path`` (with ``recursive``, a directory and its tree); nothing if it is missing.

        The default refuses with :class:`UnsupportedPersistenceOp`.
        """
        raise UnsupportedPersistenceOp(f"deleting is not supported by the persistence plugin {self.name!r}")

    @abc.abstractmethod
    def get(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        """Copy the remote ``from_path`` to the local ``to_path``.

        With ``recursive``, ``from_path`` is a directory whose tree is copied
        into the directory ``to_path``. A missing source raises
        :class:`FileNotFoundError`.
        """

    @abc.abstractmethod
    def put(self, from_path: str, to_path: str, recursive: bool = False) -> None:
        """Copy the local ``from_path`` to the remote ``to_path``, replacing it.

        With ``recursive``, ``from_path`` is a directory whose tree is copied
        under ``to_path``. Parent directories are created as needed.
        """

    @abc.abstractmethod
    def construct_path(self, add_protocol: bool, add_prefix: bool, *paths: str) -> str:
        """Join ``paths`` with the store's separator.

        With ``add_prefix`` the result starts with :attr:`default_prefix`;
        with ``add_protocol`` it starts with ``<protocol>://``.
        """


class DataPersistencePlugins:
    """The registry of persistence plugin classes, keyed by protocol."""

    _plugins: dict[str, type[DataPersistence]] = {}
    _entry_points: dict[str, metadata.EntryPoint] | None = None
    _lock = threading.Lock()

    @staticmethod
    def _normalize(protocol: str) -> str:
        name = protocol.split("://", 1)[0].strip().lower()
        if not name or not name.replace("+", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(f"invalid protocol {protocol!r}; expected a name such as 'cf://'")
        return name

    @classmethod
    def register_plugin(
        cls, protocol: str, plugin: type[DataPersistence], force: bool = False
    ) -> None:
        """Register ``plugin`` for ``protocol`` (``"cf"`` or ``"cf://"``).

        Registering another class for a protocol that already has one needs
        ``force=True``.
        """
        if not (isinstance(plugin, type) and issubclass(plugin, DataPersistence)):
            raise TypeError(
                f"persistence plugin must be a DataPersistence subclass, got {plugin!r}"
            )
        name = cls._normalize(protocol)
        with cls._lock:
            current = cls._plugins.get(name)
            if current is not None and current is not plugin and not force:
                raise ValueError(
                    f"protocol {name!r} already has the persistence plugin "
                    f"{current.__qualname__}; pass force=True to replace it"
                )
            cls._plugins[name] = plugin

    @classmethod
    def unregister_plugin(cls, protocol: str) -> None:
        """Forget the plugin registered for ``protocol`` (no error if none)."""
        with cls._lock:
            cls._plugins.pop(cls._normalize(protocol), None)

    @classmethod
    def _discover(cls) -> dict[str, metadata.EntryPoint]:
        with cls._lock:
            if cls._entry_points is None:
                cls._entry_points = {
                    ep.name.split("://", 1)[0].lower(): ep
                    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
                }
            return cls._entry_points

    @classmethod
    def refresh_entry_points(cls) -> None:
        """Read the ``aiflow.persistence`` entry points again on next lookup."""
        with cls._lock:
            cls._entry_points = None

    @classmethod
    def find_plugin(cls, protocol: str) -> type[DataPersistence] | None:
        """Return the plugin class for ``protocol``: registered first, then entry points."""
        name = cls._normalize(protocol)
        plugin = cls._plugins.get(name)
        if plugin is not None:
            return plugin
        entry = cls._discover().get(name)
        if entry is None:
            return None
        loaded = entry.load()
        cls.register_plugin(name, loaded)
        return loaded

    @classmethod
    def supports_protocol(cls, protocol: str) -> bool:
        """Return whether a plugin (registered or by entry point) serves ``protocol``."""
        return cls.find_plugin(protocol) is not None


def register_persistence_plugin(
    protocol: str, plugin: type[DataPersistence], force: bool = False
) -> None:
    """Register a persistence plugin class for a protocol.

    For example ``register_persistence_plugin("cf://", CustomPersistence)``.
    """
    DataPersistencePlugins.register_plugin(protocol, plugin, force=force)
