"""Typed errors of aiflow.

Every error subclasses both :class:`AIFlowError` and the built-in exception that
matches its meaning, so callers can catch either ``LookupError`` or
``NotFoundError``. Messages name the bad value and what was expected.
"""

from __future__ import annotations

#: The name aiflow is installed by (``pip install aiflow-engine``); it imports as ``aiflow_core``, ``aiflow_storage``.
DISTRIBUTION = "aiflow-engine"


def install_hint(extra: str) -> str:
    """The command that installs aiflow with one of its extras, e.g. ``pip install 'aiflow-engine[postgres]'``."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


class AIFlowError(Exception):
    """Base class of every error raised by aiflow."""


class NotFoundError(AIFlowError, LookupError):
    """An object named by the caller does not exist.

    ``kind`` is the object's kind (``"workflow"``, ``"namespace"``, ...) and
    ``key`` the identifier the caller gave.
    """

    def __init__(self, kind: str, key: object, hint: str = "") -> None:
        self.kind = kind
        self.key = key
        message = f"{kind} {key!r} does not exist"
        super().__init__(f"{message}; {hint}" if hint else message)

    def __str__(self) -> str:
        return str(self.args[0])


class AlreadyExistsError(AIFlowError, ValueError):
    """An object with the same identity already exists."""


class InvalidWorkflowError(AIFlowError, ValueError):
    """A workflow definition breaks a rule (duplicate task, foreign rule, ...)."""


class InvalidExpressionError(AIFlowError, ValueError):
    """A ``cron@`` or ``interval@`` expression is malformed."""


class InvalidArgumentError(AIFlowError, ValueError):
    """An argument has a wrong type or value."""


class InvalidStateError(AIFlowError, RuntimeError):
    """The operation is not allowed in the object's current state."""


class LeaseLostError(InvalidStateError):
    """This engine no longer holds the scheduler lease at the epoch it scheduled with.

    Another engine took the lease over (its epoch is newer), or the lease
    expired on the database's clock: the transaction that found out rolled
    back, and the engine stops scheduling until it holds the lease again.
    """


class ConditionResultError(AIFlowError, TypeError):
    """A condition's ``is_met`` returned something other than True or False."""


class CommandNotFoundError(AIFlowError, FileNotFoundError):
    """The external command of a task was found neither on ``PATH`` nor under its tool's home."""


class WorkflowLoadError(AIFlowError, ValueError):
    """A workflow file could not be loaded (it raised on import, or defines nothing)."""


class ConfigError(AIFlowError, ValueError):
    """The configuration (file, environment or argument) is invalid."""


class SchemaVersionError(AIFlowError, RuntimeError):
    """The database schema is not the version this aiflow works with (newer, older, or unknown)."""


class DataLossError(AIFlowError, RuntimeError):
    """A schema downgrade would delete stored data, so it was refused and nothing was changed.

    ``version`` is the schema version asked for; ``rows`` counts the rows it
    would delete by table (or ``table.column`` for a dropped column).
    """

    def __init__(self, version: int, rows: dict[str, int]) -> None:
        self.version = version
        self.rows = dict(rows)
        lost = ", ".join(f"{n} row{'' if n == 1 else 's'} of {name}" for name, n in self.rows.items())
        super().__init__(
            f"downgrading to schema version {version} would delete {lost}; nothing was changed; "
            "force the downgrade to delete them"
        )


class IntegrityError(AIFlowError, ValueError):
    """Stored data failed verification (bad digest, bad signature, unknown version)."""


class UnreadableRowError(IntegrityError):
    """A stored row cannot be read: a status or kind this aiflow does not know, malformed JSON, ...

    ``table`` and ``row`` name it (``row`` is its id, offset or key) so that
    the scheduler can quarantine it and an operator can find it.
    """

    def __init__(self, table: str, row: object, problem: str) -> None:
        self.table = table
        self.row = row
        super().__init__(f"row {row!r} of table {table} cannot be read: {problem}")


class NotInTaskRuntimeError(AIFlowError, RuntimeError):
    """A task-runtime facility was used outside of a running task."""


class MalformedEventError(AIFlowError, ValueError):
    """An engine event in the log lacks a field its kind needs, or holds one of the wrong type."""


class StoreError(AIFlowError, RuntimeError):
    """A store failed an operation; the database's own error is the ``__cause__``.

    Stores raise this family, never their driver's exceptions, so callers
    (the scheduler loop among them) tell database failures from everything
    else by type. Messages name the database by its URL with the password masked.
    """


class StoreUnavailableError(StoreError, ConnectionError):
    """The database cannot be reached (connection refused, unknown host, connection lost)."""


class StoreConflictError(StoreError):
    """A write broke an integrity rule: a duplicate key, or a reference to a row that does not exist."""


class StoreDataError(StoreError, ValueError):
    """A value cannot be stored: too long for its column, a NUL character, not JSON."""
