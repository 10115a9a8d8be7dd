"""Run every benchmark and combine their tables into one summary.

Run: ``python benchmarks/run.py --out benchmarks/results [--quick] [--only engine,schedules]``.

Each ``benchmarks/bench_<name>.py`` runs in its own subprocess (so that one
benchmark's memory and threads do not disturb the next) with the same
``--out`` and ``--quick``; it writes ``<name>.json`` and ``<name>.md``. The
summary, ``summary.md``, lists how each benchmark ended and then every
benchmark's table. The exit status is non-zero if a benchmark failed to run;
a missed target is a result, not a failure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from common import machine, make_logger, make_parser, table

HERE = Path(__file__).resolve().parent
log = make_logger("run")


def discover(only: list[str] | None) -> list[Path]:
    """The benchmark scripts, by name, optionally restricted to ``only``."""
    scripts = sorted(HERE.glob("bench_*.py"))
    if only:
        known = {p.stem.removeprefix("bench_") for p in scripts}
        unknown = sorted(set(only) - known)
        if unknown:
            raise SystemExit(f"unknown benchmarks {unknown}; expected some of {sorted(known)}")
        scripts = [p for p in scripts if p.stem.removeprefix("bench_") in only]
    return scripts


def run_one(script: Path, out: Path, quick: bool) -> tuple[int, float]:
    """Run one benchmark script, streaming its output; return its exit code and duration."""
    command = [sys.executable, str(script), "--out", str(out)] + (["--quick"] if quick else [])
    log(f"running {script.name}")
    start = time.perf_counter()
    code = subprocess.run(command, check=False).returncode
    seconds = time.perf_counter() - start
    log(f"{script.name} {'finished' if code == 0 else f'FAILED (exit {code})'} in {seconds:.1f} s")
    return code, seconds


def demote(markdown: str) -> str:
    """Push every heading one level down, to nest a benchmark's page in the summary."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser((__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names, e.g. engine,schedules")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    sections = []
    failed = 0
    total = time.perf_counter()
    for script in discover([n for n in args.only.split(",") if n]):
        name = script.stem.removeprefix("bench_")
        code, seconds = run_one(script, out, args.quick)
        failed += code != 0
        rows.append([name, "ok" if code == 0 else f"failed (exit {code})", f"{seconds:.1f}"])
        md = out / f"{name}.md"
        if code == 0 and md.exists():
            sections.append(demote(md.read_text()))
    mode = " --quick" if args.quick else ""
    lines = [
        "# Benchmark summary",
        "",
        f"{machine()}, {'quick' if args.quick else 'full'} mode, {time.perf_counter() - total:.0f} s in all. "
        f"Command: `python benchmarks/run.py --out {args.out}{mode}`.",
        "",
    ]
    lines += table(["benchmark", "status", "seconds"], rows)
    (out / "summary.md").write_text("\n".join(lines) + "\n\n" + "\n".join(sections))
    log(f"wrote {out / 'summary.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
