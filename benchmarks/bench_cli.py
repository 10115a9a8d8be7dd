"""CLI start-up benchmark, as ratios against a bare interpreter measured in the same run.

Run: ``python benchmarks/bench_cli.py --out benchmarks/results [--repeat N]``.
Writes ``cli.json`` and ``cli.md``.

* ``aiflow --help`` (target: under 300 ms; imports no SQLAlchemy, fsspec or
  cloudpickle);
* ``aiflow workflow list`` on an empty SQLite database (target: under 300 ms);
* baselines: ``python -c pass`` and ``python -c "import sqlalchemy"`` (the floor
  of any command that opens the database).

Each command runs as a fresh subprocess; the median and the minimum of the
wall-clock times are reported. Bytecode is cached (in a temporary
``PYTHONPYCACHEPREFIX``, written by a warm-up run) as it is for an installed
package, even where the environment sets ``PYTHONDONTWRITEBYTECODE``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0


def _time(argv: list[str], env: dict[str, str], repeat: int) -> dict[str, float]:
    subprocess.run(argv, env=env, capture_output=True, check=True)  # warm the file cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return {"median_ms": statistics.median(samples), "min_ms": min(samples)}


def run(out: Path, repeat: int) -> dict[str, Any]:
    """Measure every case and write cli.json and cli.md under ``out``."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as pycache:
        env = dict(os.environ, AIFLOW_HOME=home, PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=pycache)
        for var in ("AIFLOW_DB_URL", "PYTHONDONTWRITEBYTECODE"):
            env.pop(var, None)
        aiflow = [sys.executable, "-m", "aiflow_core.cli.main"]
        subprocess.run([*aiflow, "db", "init"], env=env, capture_output=True, check=True)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import sqlalchemy'": [sys.executable, "-c", "import sqlalchemy"],
            "aiflow --help": [*aiflow, "--help"],
            "aiflow workflow list (empty SQLite)": [*aiflow, "workflow", "list"],
        }
        results = {name: _time(argv, env, repeat) for name, argv in cases.items()}
    baseline = results["python -c pass"]["median_ms"]
    floor = results["python -c 'import sqlalchemy'"]["median_ms"]
    for name, result in results.items():
        result["ratio_to_python"] = result["median_ms"] / baseline
        result["ratio_to_sqlalchemy_import"] = result["median_ms"] / floor
        result["net_ms"] = result["median_ms"] - baseline
        if name.startswith("aiflow"):
            result["target_ms"] = TARGET_MS
            result["meets_target"] = result["median_ms"] < TARGET_MS
    report = {
        "benchmark": "cli startup",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "repeat": repeat,
        "results": results,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "cli.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# CLI start-up",
        "",
        f"Python {report['python']}, {report['cpus']} CPUs, load average {report['load_average']:.2f}, "
        f"{repeat} runs each (fresh process every run).",
        "",
        "| command | median ms | min ms | x python -c pass | x import sqlalchemy | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, result in results.items():
        target = ""
        if "target_ms" in result:
            target = f"< {TARGET_MS:.0f} ms: {'yes' if result['meets_target'] else 'no'}"
        lines.append(
            f"| `{name}` | {result['median_ms']:.0f} | {result['min_ms']:.0f} | "
            f"{result['ratio_to_python']:.2f} | {result['ratio_to_sqlalchemy_import']:.2f} | {target} |"
        )
    (out / "cli.md").write_text("\n".join(lines) + "\n")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    run(args.out, args.repeat)
    print((args.out / "cli.md").read_text())


if __name__ == "__main__":
    main()
