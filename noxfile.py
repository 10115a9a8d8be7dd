"""Development sessions: tests, lint, bench, docs.

``nox -s tests`` is the project's test command (CI runs it through .ci/run).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def _install_servers(session: nox.Session) -> None:
    """Install the Azure blob emulator (Azurite) from the npm registry for the blob tests."""
    session.run("bash", "tests/blob/install_azurite.sh", external=True)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the whole test suite against SQLite, PostgreSQL, MariaDB, moto S3, Azurite and WebHDFS."""
    session.install("-e", ".[test]")
    _install_servers(session)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff and mypy."""
    session.install("-e", ".[lint,test]")
    session.run("ruff", "check", "aiflow_core", "aiflow_storage", "tests", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks; results go to benchmarks/results as JSON and markdown."""
    session.install("-e", ".[test,bench]")
    session.run("python", "benchmarks/run.py", "--out", "benchmarks/results", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Execute every example of the user guide in docs/."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/docs", *session.posargs)
