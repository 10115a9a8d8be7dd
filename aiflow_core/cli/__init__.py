"""The ``aiflow`` command line: a thin layer over :class:`~aiflow_core.client.Client` and
:class:`~aiflow_core.engine.Engine` (parsing, formatting and exit codes only).

Entry point: :func:`aiflow_core.cli.main.main`.
"""
