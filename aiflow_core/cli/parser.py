"""Building the argument parser: one-line usage errors, shared options, examples in every help.

Only the standard library is imported here, so ``aiflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

#: Exit codes of every command.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130

OUTPUT_FORMATS = ("table", "json", "yaml", "plain")

Handler = Callable[[argparse.Namespace, Any], int | None]


class UsageError(ValueError):
    """The command line is well-formed for the parser but asks for something impossible."""


class AIFlowArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit with code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: <message>; see '<prog> --help'`` and exit 2."""
        sys.stderr.write(f"error: {message}; see '{self.prog} --help'\n")
        sys.exit(EXIT_USAGE)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("global options")
    group.add_argument(
        "--db-url", default=argparse.SUPPRESS, metavar="URL",
        help="database URL (default: $AIFLOW_DB_URL, else metadata_backend_uri of $AIFLOW_HOME/aiflow.yaml)",
    )
    group.add_argument(
        "-v", "--verbose", "--debug", dest="verbose", action="store_true", default=argparse.SUPPRESS,
        help="show the full traceback of errors (also when $AIFLOW_DEBUG is set to 1)",
    )
    return common


COMMON = _common_options()


def positive_int(text: str) -> int:
    """Parse an id: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer id") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive id")
    return value


def json_object(text: str) -> dict[str, Any]:
    """Parse a JSON object given on the command line (e.g. ``'{"team": "ml"}'``)."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r} is not a JSON object like '{{\"k\": \"v\"}}'")
    return value


def group(subparsers: Any, name: str, help_text: str) -> Any:
    """Add a command group (``aiflow <name> COMMAND``) and return its subparsers."""
    parser = subparsers.add_parser(name, help=help_text, description=help_text, parents=[COMMON])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True
    return sub


def command(
    subparsers: Any,
    name: str,
    handler: Handler,
    help_text: str,
    example: str,
    *,
    output: bool = False,
    namespace: bool = False,
    confirm: bool = False,
    details: str = "",
) -> argparse.ArgumentParser:
    """Add a leaf command with its example, and the options it shares with others.

    ``output`` adds ``-o/--output``, ``namespace`` adds ``-n/--namespace``
    (default ``default``) and ``confirm`` adds ``-y/--yes``; ``details``
    extends the description shown by ``--help``.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help_text, description=f"{help_text} {details}".strip(), parents=[COMMON],
        epilog="example:\n  " + example.replace("\n", "\n  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    if namespace:
        parser.add_argument(
            "-n", "--namespace", default="default", help="namespace of the workflow (default: default)"
        )
    if output:
        add_output(parser)
    if confirm:
        parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    return parser


def add_output(parser: argparse.ArgumentParser, choices: tuple[str, ...] = OUTPUT_FORMATS) -> None:
    """Add ``-o/--output`` with ``choices`` (the first is the default)."""
    parser.add_argument(
        "-o", "--output", choices=choices, default=choices[0],
        help=f"output format: {', '.join(choices)} (default: {choices[0]})",
    )
