"""The ``aiflow`` command: parsing, dispatch, one-line errors and exit codes.

Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 the named
object does not exist, 130 interrupted. Handlers import the library lazily so
that ``aiflow --help`` loads neither SQLAlchemy, fsspec nor cloudpickle.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from aiflow_core.cli.parser import (
    COMMON,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    AIFlowArgumentParser,
    UsageError,
)

DESCRIPTION = """\
aiflow: inspect and steer aiflow engines through their database, or run one.

Every command works on the database named by --db-url, else $AIFLOW_DB_URL,
else metadata_backend_uri in $AIFLOW_HOME/aiflow.yaml (default ~/aiflow).
Exit codes: 0 success, 1 failed, 2 usage error, 3 not found."""

EXAMPLES = """\
examples:
  aiflow config init && aiflow db init && aiflow server start -d
  aiflow workflow upload quickstart.py
  aiflow workflow-execution start quickstart_workflow
  aiflow task-execution list 1 -o json"""


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every group and command."""
    from aiflow_core.cli.commands import GROUPS

    parser = AIFlowArgumentParser(
        prog="aiflow", description=DESCRIPTION, epilog=EXAMPLES, parents=[COMMON],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.set_defaults(root_parser=parser)  # what `aiflow completion` describes
    sub = parser.add_subparsers(dest="group", metavar="COMMAND", title="commands")
    for register in GROUPS:
        register(sub)
    return parser


def _message(exc: BaseException) -> str:
    """The whole message of ``exc``, followed by those of its causes that it does not already contain."""
    message = str(exc).strip() or type(exc).__name__
    cause, seen = exc.__cause__, {id(exc)}
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        detail = str(cause).strip()
        if detail and detail not in message:
            message += f"\ncaused by {type(cause).__name__}: {detail}"
        cause = cause.__cause__
    return message


def _error_line(exc: BaseException, database: str = "") -> tuple[int, str]:
    """Return the exit code and the message for ``exc`` (its first line says what failed)."""
    from aiflow_core.cli.context import Aborted
    from aiflow_core.errors import AIFlowError, NotFoundError, StoreError, StoreUnavailableError

    if isinstance(exc, StoreError):
        # Its message already holds the database's own words; the driver's exception adds only noise.
        hint = " (aiflow db init)" if not isinstance(exc, StoreUnavailableError) else ""
        return EXIT_FAILED, (
            f"{str(exc).strip()}; check that the database named by --db-url / AIFLOW_DB_URL is reachable "
            f"and initialized{hint}"
        )
    message = _message(exc)
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND, message
    if isinstance(exc, UsageError):
        return EXIT_USAGE, message
    if isinstance(exc, (AIFlowError, Aborted)):
        return EXIT_FAILED, message
    if type(exc).__module__.split(".")[0] == "sqlalchemy":
        detail = str(getattr(exc, "orig", None) or message).strip().splitlines() or message.splitlines()
        return EXIT_FAILED, (
            f"database {database or '(configured)'} failed: {type(exc).__name__}: "
            f"{detail[0]}; check that the database named by --db-url / AIFLOW_DB_URL "
            "is reachable and initialized (aiflow db init)"
        )
    if isinstance(exc, (ValueError, LookupError, OSError, TimeoutError, RuntimeError)):
        return EXIT_FAILED, f"{type(exc).__name__}: {message}"
    return EXIT_FAILED, f"unexpected {type(exc).__name__}: {message} (run with --verbose for the traceback)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from aiflow_core.cli.commands.misc import print_version

        print_version()
        return EXIT_OK
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from aiflow_core.cli.context import CliContext

    ctx = CliContext(args)
    try:
        code = handler(args, ctx)
        return EXIT_OK if code is None else int(code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        code, line = _error_line(exc, ctx.database_label())
        from aiflow_core.cli.output import mask_text

        if ctx.verbose:
            import traceback

            sys.stderr.write(mask_text("".join(traceback.format_exception(exc))))
        sys.stderr.write(mask_text(f"error: {line}") + "\n")
        return code
    finally:
        with contextlib.suppress(Exception):  # closing must not hide the command's outcome
            ctx.close()


def run() -> None:
    """Entry point for ``python -m aiflow_core.cli.main``: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
