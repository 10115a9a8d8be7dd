"""``aiflow db``: migrations up and down through the real CLI, on every backend."""

from __future__ import annotations

from aiflow_storage.sql import SCHEMA_VERSION
from aiflow_storage.sql.migrate import history
from tests.cli.conftest import Cli


def test_db_downgrade_and_version_through_the_cli(db_url: str) -> None:
    cli = Cli(db_url)
    shipped = [r["revision"] for r in history()]
    latest, previous = shipped[-1], shipped[-2]
    version = cli.json("db", "version")
    assert (version["schema_version"], version["latest_schema_version"]) == (SCHEMA_VERSION, SCHEMA_VERSION)
    assert (version["revision"], version["latest_revision"]) == (latest, latest) == (f"{SCHEMA_VERSION:04d}",) * 2
    assert [r["revision"] for r in version["history"]] == shipped and shipped[:2] == ["0001", "0002"]
    assert "latest_revision" in cli("db", "version").stdout

    # a version above the current one is a usage error (it used to print aiflow's version and exit 0)
    assert f"it is at version {SCHEMA_VERSION}" in cli.error("db", "downgrade", str(SCHEMA_VERSION + 1), code=2)
    assert "not a schema version" in cli.error("db", "downgrade", "latest", code=2)

    # one revision down: indexes only, nothing to confirm
    cli("namespace", "add", "team")
    down = cli("db", "downgrade", "-1").stdout
    assert f"downgraded from schema version {SCHEMA_VERSION} to {int(previous)}" in down
    assert cli.json("db", "version")["revision"] == previous
    assert f"downgraded from schema version {int(previous)} to 1" in cli("db", "downgrade", "1").stdout
    assert cli.json("db", "version")["revision"] == "0001"

    # below revision 1 every table goes: it asks, naming the rows, and "no" changes nothing
    refused = cli("db", "downgrade", "-1", code=1, stdin="n\n")
    assert "deletes 2 rows of aiflow_namespace" in refused.stderr and "aborted" in refused.stderr
    assert cli.json("db", "version")["schema_version"] == 1

    assert [n["name"] for n in cli.json("namespace", "list")] == ["default", "team"]  # first use upgrades
    assert cli.json("db", "version")["schema_version"] == SCHEMA_VERSION
    assert f"downgraded from schema version {SCHEMA_VERSION} to 1" in cli("db", "downgrade", "0001").stdout
    assert "downgraded from schema version 1 to 0" in cli("db", "downgrade", "base", "-y").stdout
    assert cli.json("db", "version")["revision"] is None
    assert "nothing to do" in cli("db", "downgrade", "0").stdout
    assert f"upgraded from schema version 0 to {SCHEMA_VERSION}" in cli("db", "init").stdout
    assert f"downgraded from schema version {SCHEMA_VERSION} to 1" in cli("db", "downgrade", "1").stdout
    assert f"upgraded from schema version 1 to {SCHEMA_VERSION}" in cli("db", "upgrade").stdout
