"""``python -m aiflow_core.cli``: the same as the ``aiflow`` command."""

from aiflow_core.cli.main import run

run()
