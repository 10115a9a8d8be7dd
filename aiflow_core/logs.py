"""The engine's own log lines, as text or as one JSON object per line.

aiflow logs through the standard :mod:`logging` module under the ``aiflow``
logger. A host application configures logging as it likes;
:class:`JsonLogFormatter` is there for hosts and servers whose logs go to a
collector that reads JSON (one object per line: ``time``, ``level``,
``logger``, ``message``, ``exception`` when there is one, and the
``extra`` fields a call passed). :func:`configure_logging` sets up the root
logger the way ``aiflow server start`` does, from the ``log_format`` setting
(``text`` or ``json``). Both mask the secrets they are given, so a database
password in an error message is never printed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from enum import Enum
from typing import Any

#: The attributes every LogRecord has; anything else on a record came from a call's ``extra``.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFormat(str, Enum):
    """How the engine's own log lines are written (config key ``log_format``)."""

    TEXT = "text"
    JSON = "json"


def _unmasked(text: str) -> str:
    return text


class JsonLogFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line; ``mask`` hides known secrets in its text."""

    def __init__(self, mask: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self._mask = mask or _unmasked

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object: time (UTC, ISO 8601), level, logger, message, exception, extras."""
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._mask(record.getMessage()),
        }
        if record.exc_info:
            out["exception"] = self._mask(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exception"] = self._mask(record.exc_text)
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                out[key] = value if isinstance(value, (bool, int, float, type(None))) else self._mask(str(value))
        return json.dumps(out, ensure_ascii=False)


class MaskingFormatter(logging.Formatter):
    """The text format with known secrets hidden."""

    def __init__(self, mask: Callable[[str], str] | None = None) -> None:
        super().__init__(TEXT_FORMAT)
        self._mask = mask or _unmasked

    def format(self, record: logging.LogRecord) -> str:
        """The record in :data:`TEXT_FORMAT`, masked."""
        return self._mask(super().format(record))


def configure_logging(
    log_format: LogFormat | str = LogFormat.TEXT, level: int = logging.INFO,
    mask: Callable[[str], str] | None = None,
) -> logging.Handler:
    """Send log records of ``level`` and above to stderr in ``log_format``; returns the handler.

    Replaces the root logger's handlers (for servers and command-line
    programs; an embedding host keeps its own setup and may use
    :class:`JsonLogFormatter` there). Raises ValueError naming the format
    when it is neither ``text`` nor ``json``.
    """
    try:
        chosen = LogFormat(log_format)
    except ValueError:
        raise ValueError(f"log format {log_format!r} is not one of text, json") from None
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter(mask) if chosen is LogFormat.JSON else MaskingFormatter(mask))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
