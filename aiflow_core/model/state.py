"""User-defined state kept by conditions between events.

A condition asks its :class:`~aiflow_core.model.context.Context` for a state by
descriptor; the scheduler stores the state in the database in the same
transaction as the decisions taken on the event, so state and decisions never
disagree after a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any


class StateDescriptor:
    """Names a state; subclasses say which kind of state."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            from aiflow_core.errors import InvalidArgumentError

            raise InvalidArgumentError(f"state name must be a non-empty string, got {name!r}")
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class ValueStateDescriptor(StateDescriptor):
    """Describes a :class:`ValueState`."""


class MapStateDescriptor(StateDescriptor):
    """Describes a :class:`MapState`."""


class State:
    """Base class of states. ``clear()`` forgets the stored value."""

    def clear(self) -> None:
        """Forget everything stored in this state."""
        raise NotImplementedError


class ValueState(State):
    """A single value; ``value()`` is ``None`` until ``update`` is called."""

    def __init__(self, cell: MutableMapping[str, Any], name: str) -> None:
        self._cell = cell
        self._name = name

    def value(self) -> Any:
        """Return the stored value, or ``None``."""
        return self._cell.get(self._name)

    def update(self, value: Any) -> None:
        """Store ``value``."""
        self._cell[self._name] = value

    def clear(self) -> None:
        """Forget the stored value."""
        self._cell.pop(self._name, None)


class MapState(State):
    """A mapping of keys to values."""

    def __init__(self, cell: MutableMapping[str, Any], name: str) -> None:
        self._cell = cell
        self._name = name

    def _map(self, create: bool = False) -> dict[Any, Any]:
        current = self._cell.get(self._name)
        if current is None:
            current = {}
            if create:
                self._cell[self._name] = current
        return current

    def _touch(self, mapping: dict[Any, Any]) -> None:
        self._cell[self._name] = mapping

    def get(self, key: Any, default: Any = None) -> Any:
        """Return the value stored under ``key``, or ``default``."""
        return self._map().get(key, default)

    def put(self, key: Any, value: Any) -> None:
        """Store ``value`` under ``key``."""
        mapping = dict(self._map())
        mapping[key] = value
        self._touch(mapping)

    def put_all(self, values: dict[Any, Any]) -> None:
        """Store every item of ``values``."""
        mapping = dict(self._map())
        mapping.update(values)
        self._touch(mapping)

    def remove(self, key: Any) -> None:
        """Forget ``key``; a missing key is not an error."""
        mapping = dict(self._map())
        mapping.pop(key, None)
        self._touch(mapping)

    def contains(self, key: Any) -> bool:
        """True if ``key`` is stored."""
        return key in self._map()

    def keys(self) -> list[Any]:
        """Return the stored keys."""
        return list(self._map().keys())

    def values(self) -> list[Any]:
        """Return the stored values."""
        return list(self._map().values())

    def items(self) -> list[tuple[Any, Any]]:
        """Return the stored (key, value) pairs."""
        return list(self._map().items())

    def is_empty(self) -> bool:
        """True if nothing is stored."""
        return not self._map()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def clear(self) -> None:
        """Forget every key."""
        self._cell.pop(self._name, None)


def make_state(descriptor: StateDescriptor, cell: MutableMapping[str, Any]) -> State:
    """Return the state object for ``descriptor`` over the storage ``cell``."""
    if isinstance(descriptor, MapStateDescriptor):
        return MapState(cell, descriptor.name)
    if isinstance(descriptor, ValueStateDescriptor):
        return ValueState(cell, descriptor.name)
    from aiflow_core.errors import InvalidArgumentError

    raise InvalidArgumentError(
        f"unsupported state descriptor {descriptor!r}; "
        "expected ValueStateDescriptor or MapStateDescriptor"
    )
