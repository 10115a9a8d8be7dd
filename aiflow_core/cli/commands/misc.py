"""``aiflow version``."""

from __future__ import annotations

import argparse
import platform
from typing import Any

from aiflow_core.cli.parser import command


def print_version() -> None:
    """Print the aiflow version."""
    import aiflow_core

    print(f"aiflow {aiflow_core.__version__} (Python {platform.python_version()})")


def _version(args: argparse.Namespace, ctx: Any) -> int:
    print_version()
    return 0


def register(sub: Any) -> None:
    """Register ``aiflow version``."""
    command(sub, "version", _version, "Print the aiflow version.", "aiflow version")
