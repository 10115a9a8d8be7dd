"""JSON forms of the values that travel on an attempt's channel over the network.

The channel's calls and answers carry names, numbers, strings, times, bytes
and :class:`~aiflow_core.model.event.Event` objects. JSON has no time, bytes or
event, so they travel tagged: ``{"$time": ISO-8601}``, ``{"$bytes": base64}``,
``{"$event": {field: value}}``. Nothing else is ever decoded into an object:
no code travels.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
from typing import Any

import attrs

from aiflow_core.model.event import Event

_EVENT_FIELDS = [f.name for f in attrs.fields(Event)]


def encode(value: Any) -> Any:
    """``value`` as plain JSON data (tagged times, bytes and events)."""
    if isinstance(value, enum.Enum):
        return encode(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dt.datetime):
        return {"$time": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Event):
        return {"$event": {name: encode(getattr(value, name)) for name in _EVENT_FIELDS}}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    raise TypeError(f"cannot send a {type(value).__name__} on an attempt's channel: {value!r}")


def decode(data: Any) -> Any:
    """The value :func:`encode` made ``data`` from."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        (tag, inner), = data.items()
        if tag == "$time":
            return dt.datetime.fromisoformat(str(inner))
        if tag == "$bytes":
            return base64.b64decode(str(inner))
        if tag == "$event":
            fields = {name: decode(inner[name]) for name in _EVENT_FIELDS if name in inner}
            return Event(fields.pop("key"), fields.pop("value", None), **fields)
    return {key: decode(item) for key, item in data.items()}
