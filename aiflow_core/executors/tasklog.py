"""A task's log file, created when something is first written to it.

Most tasks of a busy engine print nothing; making a directory and a file for
each of them is most of the file-system work of running one. :class:`TaskLog`
is a text stream that opens (and creates) the log file, with its directory,
on the first write, and starts it with a header line. A run that wrote
nothing leaves no file; readers treat a missing log as an empty one. The path
is decided by the scheduler and stays the same either way.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from aiflow_core.homefiles import private_opener

__all__ = ["TaskLog", "blob_log_key", "blob_log_prefix"]


#: The folder of the blob store under which remote workers upload task logs.
BLOB_LOGS = "task_logs"


def blob_log_prefix(snapshot_digest: str | None, workflow_execution_id: int) -> str:
    """The blob folder of the logs of a workflow execution's task executions that ran on remote workers."""
    return f"{BLOB_LOGS}/{snapshot_digest or 'none'}/{int(workflow_execution_id)}"


def blob_log_key(snapshot_digest: str | None, workflow_execution_id: int, task_execution_id: int) -> str:
    """The blob key of the log of a task execution that ran on a remote worker.

    The snapshot's digest keeps apart the logs of databases that share a blob store (their ids repeat).
    """
    return f"{blob_log_prefix(snapshot_digest, workflow_execution_id)}/{int(task_execution_id)}.log"


def _append(path: Path) -> IO[str]:
    """Open ``path`` for appending, owner-only, making its directory only when it is missing."""
    return open(path, "a", encoding="utf-8", buffering=1, opener=private_opener)


class TaskLog(io.TextIOBase):
    """Appends to the log file at ``path``, opening it on the first write (or ``fileno()``).

    ``header`` is written first when the file is opened. ``eager`` opens it
    at once, for a caller that already sends output there.
    """

    def __init__(self, path: str | Path, header: str, *, eager: bool = False) -> None:
        self.path = Path(path)
        self._header = header
        self._file: IO[str] | None = None
        #: Why the file could not be opened, once that happened (every later write fails the same way).
        self.failed: OSError | None = None
        if eager:
            self._open()

    @property
    def name(self) -> str:
        """The log file's path."""
        return str(self.path)

    @property
    def opened(self) -> bool:
        """True once the file has been opened (something was written)."""
        return self._file is not None

    def _open(self) -> IO[str]:
        if self.failed is not None:
            raise self.failed
        if self._file is None:
            try:
                self._file = _append(self.path)
            except OSError as exc:
                self.failed = exc
                raise
            self._file.write(self._header)
        return self._file

    def write(self, text: str) -> int:
        """Append ``text``; the first non-empty write creates the file."""
        if self.closed:
            raise ValueError("I/O operation on closed task log")
        if text:
            self._open().write(text)
        return len(text)

    def note(self, text: str) -> None:
        """Write a line of the engine's own; dropped when the file cannot be opened (:attr:`failed` says why)."""
        try:
            self.write(text)
        except OSError:
            if self.failed is None:
                raise

    def fileno(self) -> int:
        """The open file's descriptor (opening it), e.g. for a subprocess's output."""
        file = self._open()
        file.flush()
        return file.fileno()

    def flush(self) -> None:
        """Flush what was written, if anything was."""
        if self._file is not None:
            self._file.flush()

    def writable(self) -> bool:
        """A task log is written to."""
        return True

    def isatty(self) -> bool:
        """Never a terminal."""
        return False

    def close(self) -> None:
        """Close the file if it was opened; nothing is created otherwise."""
        if self.closed:
            return
        super().close()
        if self._file is not None:
            self._file.close()
