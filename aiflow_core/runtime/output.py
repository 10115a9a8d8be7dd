"""Routing ``print`` output of in-process tasks to their log files.

Threads share ``sys.stdout``; a routing stream sends each write to the log of
the task running in the writing thread (a context variable), and everything
else to the stream it replaced.
"""

from __future__ import annotations

import contextvars
import io
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

from aiflow_core.homefiles import private_opener


class _Sink(Protocol):
    """Where a task's output goes: anything text can be written to and flushed."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


_target: contextvars.ContextVar[_Sink | None] = contextvars.ContextVar("aiflow_task_output", default=None)
_install_lock = threading.Lock()


class _RoutingStream(io.TextIOBase):
    def __init__(self, fallback: IO[str]) -> None:
        self._fallback = fallback

    def write(self, text: str) -> int:
        target = _target.get()
        stream = target if target is not None else self._fallback
        stream.write(text)
        return len(text)

    def flush(self) -> None:
        target = _target.get()
        (target if target is not None else self._fallback).flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


def _install() -> None:
    with _install_lock:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if not isinstance(stream, _RoutingStream):
                setattr(sys, name, _RoutingStream(stream))


@contextmanager
def task_output(log: _Sink) -> Iterator[None]:
    """Send this thread's ``sys.stdout``/``sys.stderr`` writes to ``log`` for the block."""
    _install()
    token = _target.set(log)
    try:
        yield
    finally:
        _target.reset(token)


class MaskedLog(io.TextIOBase):
    """A text stream that writes to ``log`` with ``mask`` applied to every write."""

    def __init__(self, log: IO[str], mask: Callable[[str], str]) -> None:
        self._log = log
        self._mask = mask

    def write(self, text: str) -> int:
        """Write ``text`` with the secrets masked; returns its length."""
        self._log.write(self._mask(text))
        return len(text)

    def flush(self) -> None:
        """Flush the log."""
        self._log.flush()

    def isatty(self) -> bool:
        """A log is no terminal."""
        return False


def secrets_mask(secrets: Iterable[str]) -> Callable[[str], str]:
    """A function replacing each of ``secrets`` (the long ones first) by ``***`` in a text."""
    known = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(text: str) -> str:
        for secret in known:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    return mask if known else str


def mask_file(path: str | Path, mask: Callable[[str], str]) -> None:
    """Rewrite the file at ``path`` with ``mask`` applied, atomically and owner-only; nothing if it is missing.

    For a finished task's log written by a process that was not given the
    secrets to mask (a worker of the process executor). A log that cannot be
    read is left alone; one that cannot be rewritten raises ``OSError``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return  # no log (the run wrote nothing, or it could not be made): nothing to mask
    masked = mask(text)
    if masked == text:
        return
    partial = path.with_name(f".{path.name}.masking")
    with open(partial, "w", encoding="utf-8", opener=private_opener) as out:
        out.write(masked)
    os.replace(partial, path)
