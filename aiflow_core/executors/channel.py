"""Length-prefixed messages between the engine and its worker processes.

Messages are small dicts of plain values (task ids, statuses, the pickled
workflow as bytes); they are encoded with the standard library's pickle, never
with code-carrying pickles.
"""

from __future__ import annotations

import pickle
import struct
import threading
from typing import IO, Any

_HEADER = struct.Struct("!I")


class Channel:
    """A duplex message channel over two binary streams; writes are thread-safe."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self._reader = reader
        self._writer = writer
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Write one message."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._writer.write(_HEADER.pack(len(data)) + data)
            self._writer.flush()

    def receive(self) -> dict[str, Any] | None:
        """Read one message; None at end of stream."""
        header = self._reader.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(header)
        data = self._reader.read(size)
        if len(data) < size:
            return None
        message: dict[str, Any] = pickle.loads(data)
        return message
