"""Development sessions: tests, lint, bench, docs.

``nox -s tests`` is the project's test command (CI runs it through .ci/run).
"""

from __future__ import annotations

import time
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
CONSTRAINTS = Path(__file__).parent / "tests" / "constraints.txt"


def _install(session: nox.Session, extras: str) -> None:
    """Install aiflow (editable) with ``extras``, pinned by the constraints file, and print how long it took."""
    started = time.monotonic()
    session.install("-c", str(CONSTRAINTS), "-e", f".[{extras}]")
    session.log(f"installed .[{extras}] in {time.monotonic() - started:.1f} s")


def _install_servers(session: nox.Session) -> None:
    """Install the Azure blob emulator (Azurite) from the npm registry for the blob tests, and the
    distribution's Chromium for the web UI tests."""
    session.run("bash", "tests/blob/install_azurite.sh", external=True)
    session.run("bash", "tests/web/install_chromium.sh", external=True)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite against SQLite, PostgreSQL, MariaDB, moto S3, Azurite and WebHDFS."""
    _install(session, "test")
    _install_servers(session)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff and mypy."""
    _install(session, "lint,test")
    session.run("ruff", "check", "aiflow_core", "aiflow_storage", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks; results go to benchmarks/results as JSON and markdown."""
    _install(session, "test,bench")
    session.run("python", "benchmarks/run.py", "--out", "benchmarks/results", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Execute every example of the user guide in docs/."""
    _install(session, "test")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/docs",
                "tests/distributed/test_distributed_guide.py", *session.posargs)


@nox.session(python=PYTHON)
def lock(session: nox.Session) -> None:
    """Resolve every extra afresh and write the pins to tests/constraints.txt."""
    session.install("-e", ".[test,lint,bench]")
    frozen = session.run("python", "-m", "pip", "freeze", "--exclude-editable", silent=True)
    assert isinstance(frozen, str)
    pins = [line for line in frozen.splitlines() if line and not line.lower().startswith("aiflow")]
    header = CONSTRAINTS.read_text().splitlines()[:2]
    CONSTRAINTS.write_text("\n".join([*header, *pins]) + "\n")
    session.log(f"wrote {len(pins)} pins to {CONSTRAINTS}")
