"""A representative subset of the CLI on PostgreSQL (skipped without a server, failed under CI=true)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Cli


@pytest.mark.postgres
def test_cli_on_postgresql(server_databases: dict[str, str], workflow_files: dict[str, Path]) -> None:
    cli = Cli(server_databases["postgres"])
    assert "reset" in cli("db", "reset", "-y").stdout
    assert cli.json("db", "version")["schema_version"] >= 1
    cli("namespace", "add", "pg_team")
    assert [n["name"] for n in cli.json("namespace", "list")] == ["default", "pg_team"]
    assert [w["name"] for w in cli.json("workflow", "upload", str(workflow_files["batch"]))] == ["batch"]
    assert "batch" in cli("workflow", "list").stdout
    assert cli.json("workflow", "show", "batch")["tasks"] == ["a", "b"]
    ran = cli("run", str(workflow_files["batch"]), "--executor", "thread")
    assert ran.stdout.splitlines()[-1] == "workflow execution 1: SUCCESS"
    assert [t["status"] for t in cli.json("task-execution", "list", "1")] == ["SUCCESS", "SUCCESS"]
    started = cli.json("workflow-execution", "start", "batch")
    assert started["status"] == "INIT"
    assert [e["id"] for e in cli.json("workflow-execution", "list", "batch")] == [1, started["id"]]
    sent = cli.json("event", "send", "pg_key", "v", "-n", "pg_team")
    assert cli.json("event", "list", "pg_key")[0]["offset"] == sent["offset"]
    assert cli("event", "count", "pg_key").stdout.strip() == "1"
    assert cli.error("workflow-execution", "show", "999", code=3)
    masked = cli("config", "list", "-o", "plain", AIFLOW_DB_URL="postgresql://u:pgpass@127.0.0.1/x").stdout
    assert "pgpass" not in masked
