"""What a command handler gets besides its arguments: the client, output and confirmation."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from aiflow_core.cli import output

if TYPE_CHECKING:
    from aiflow_core.client import Client


class Aborted(RuntimeError):
    """The user declined a confirmation prompt."""


class CliContext:
    """Per-invocation state: the database URL, a lazily opened client and the output stream."""

    def __init__(self, args: argparse.Namespace, out: TextIO | None = None) -> None:
        self.args = args
        self.db_url: str | None = getattr(args, "db_url", None)
        self.verbose: bool = bool(getattr(args, "verbose", False)) or os.environ.get("AIFLOW_DEBUG", "") in (
            "1", "true", "yes",
        )
        self.out = out if out is not None else sys.stdout
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        """A :class:`~aiflow_core.client.Client` on the chosen database (schema created if missing)."""
        if self._client is None:
            from aiflow_core.client import Client

            self._client = Client(db_url=self.db_url)
        return self._client

    def close(self) -> None:
        """Release the client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def database_label(self) -> str:
        """The database this invocation works on, password masked ('' if it cannot be told)."""
        try:
            url = self._client.db_url if self._client is not None else self.db_url
            if url is None:
                from aiflow_core.config import load_config

                url = load_config().metadata_backend_uri
            return repr(output.mask_text(url))
        except Exception:
            return ""

    def write(self, text: str) -> None:
        """Print ``text`` (secrets in URLs masked)."""
        self.out.write(output.mask_text(text) + ("" if text.endswith("\n") else "\n"))
        self.out.flush()

    def note(self, text: str) -> None:
        """Print ``text`` on stderr (secrets in URLs masked), apart from the command's output."""
        sys.stderr.write(output.mask_text(text).rstrip("\n") + "\n")
        sys.stderr.flush()

    def no_engine_note(self, execution: Any) -> None:
        """Say on stderr, for an execution still INIT, that no engine serves the database and how to start one."""
        if execution.status.value != "INIT" or self.client.serving_engine() is not None:
            return
        self.note(
            f"note: no engine serves the database {self.database_label()}: workflow execution {execution.id} "
            "stays INIT until one runs; start one with `aiflow server start -d` (same database), "
            "or run a workflow file in the foreground with `aiflow run FILE`"
        )

    def emit_list(self, records: Sequence[Any], columns: Sequence[str]) -> None:
        """Print records in the format of ``--output``."""
        self.write(output.render_list([output.to_data(r) for r in records], columns, self.fmt))

    def emit_one(self, record: Any) -> None:
        """Print one record in the format of ``--output``."""
        self.write(output.render_one(output.to_data(record), self.fmt))

    @property
    def fmt(self) -> str:
        """The ``--output`` format (``table`` when the command has none)."""
        return str(getattr(self.args, "output", "table"))

    @staticmethod
    def found(value: Any, kind: str, key: object, group: str) -> Any:
        """Return ``value``, or raise NotFoundError for ``kind`` ``key`` pointing at ``aiflow GROUP list``."""
        if value is None:
            from aiflow_core.errors import NotFoundError

            raise NotFoundError(kind, key, f"list them with aiflow {group} list")
        return value

    def confirm(self, question: str) -> None:
        """Ask ``question`` unless ``-y`` was given; raise :class:`Aborted` unless answered yes."""
        if getattr(self.args, "yes", False):
            return
        sys.stderr.write(f"{question} [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise Aborted("aborted: nothing was changed; pass -y to skip the confirmation")
