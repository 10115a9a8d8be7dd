"""Helpers shared by the engine and schedule benchmarks.

Every benchmark is a script taking ``--out DIR`` and ``--quick`` that writes
``<name>.json`` (absolute figures and ratios) and ``<name>.md`` (a table with
each target's verdict) into ``DIR``. Figures are compared with baselines
measured in the same run, because benchmark machines are noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_logger(name: str) -> Any:
    """Return ``log(message)`` printing progress lines tagged with the benchmark's name."""

    def log(message: str) -> None:
        print(f"[{name} {time.strftime('%H:%M:%S')}] {message}", flush=True)

    return log


def make_parser(description: str) -> argparse.ArgumentParser:
    """The command line every benchmark shares: ``--out DIR`` and ``--quick``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default="benchmarks/results", help="output directory")
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a fast check")
    return parser


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the shared command line."""
    return make_parser(description).parse_args(argv)


def machine() -> str:
    """A one-line description of the machine and interpreter."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


@contextlib.contextmanager
def temp_home(prefix: str) -> Iterator[Path]:
    """A fresh ``AIFLOW_HOME`` for the duration of the block, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix=f"aiflow-bench-{prefix}-"))
    previous = os.environ.get("AIFLOW_HOME")
    os.environ["AIFLOW_HOME"] = str(home)
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop("AIFLOW_HOME", None)
        else:
            os.environ["AIFLOW_HOME"] = previous
        shutil.rmtree(home, ignore_errors=True)


def write_workflow(directory: Path, filename: str, body: str) -> Path:
    """Write a workflow file whose tasks call the no-op ``noop`` and return its path."""
    path = directory / filename
    header = (
        "from aiflow_core.model.workflow import Workflow\n"
        "from aiflow_core.operators.python import PythonOperator\n\n\n"
        "def noop():\n    return None\n\n\n"
    )
    path.write_text(header + textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def sqlite_commit_ms(db_path: Path, count: int) -> float:
    """Median milliseconds of one single-row ``INSERT`` + ``COMMIT`` through the ``sqlite3`` driver.

    The floor a durable step cannot go below: WAL, ``synchronous=NORMAL``,
    one connection kept open, no SQLAlchemy. Benchmarks measure it in their
    own process just before their figures and express those as multiples of
    it ("baseline commits").
    """
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (id INTEGER PRIMARY KEY, v TEXT)")
        times = []
        for i in range(count):
            start = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute("INSERT INTO bench_commit (v) VALUES (?)", (f"row {i}",))
            conn.execute("COMMIT")
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
    return statistics.median(times) * 1000


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``values``, by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of an empty sequence")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def verdict(value: float, limit: float) -> str:
    """``PASS`` if ``value`` is below ``limit``, else ``FAIL``."""
    return "PASS" if value < limit else "FAIL"


def at_most(value: float, limit: float) -> str:
    """``PASS`` if ``value`` is at most ``limit``, else ``FAIL``."""
    return "PASS" if value <= limit else "FAIL"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def write_results(out: str | Path, name: str, results: dict[str, Any], markdown: str) -> None:
    """Write ``<name>.json`` and ``<name>.md`` into ``out`` and print the markdown."""
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (directory / f"{name}.md").write_text(markdown)
    print(markdown, flush=True)
