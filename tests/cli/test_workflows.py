"""Workflows, schedules, triggers and events through the CLI (no engine needed)."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import time
from pathlib import Path

import yaml

from tests.cli.conftest import Cli, cli_env, wait_for


def test_workflow_commands_and_graph(cli: Cli, workflow_files: dict[str, Path], tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("data")
    uploaded = cli.json("workflow", "upload", str(workflow_files["demo"]), "--files", str(extra))
    assert [(w["name"], w["namespace"], w["is_enabled"]) for w in uploaded] == [("demo", "default", True)]
    assert "content" not in uploaded[0]
    dt.datetime.fromisoformat(uploaded[0]["create_time"])
    missing = str(tmp_path / "nope.bin")
    assert "nope.bin" in cli.error("workflow", "upload", str(workflow_files["demo"]), "--files", missing, code=3)
    cli("workflow", "upload", str(workflow_files["batch"]))
    table = cli("workflow", "list", "--namespace", "default").stdout.splitlines()
    assert table[0].split()[:3] == ["id", "namespace", "name"] and len(table) == 4
    assert [line.split("\t")[2] for line in cli("workflow", "list", "-o", "plain").stdout.splitlines()] == [
        "demo", "batch"
    ]
    shown = cli.json("workflow", "show", "demo")
    assert shown["tasks"] == ["first", "on_go", "second", "slow"]
    assert shown["rules"]["second"] == ["TaskRule(first SUCCESS -> START)"]
    assert "BashOperator" in shown["content"]
    assert yaml.safe_load(cli("workflow", "show", "demo", "-o", "yaml").stdout)["name"] == "demo"
    assert "tasks" in cli("workflow", "show", "demo").stdout
    mermaid = cli("workflow", "show", "demo", "--graph").stdout
    assert mermaid.startswith("flowchart LR") and '-->|"#0 SUCCESS: START"|' in mermaid
    assert '(["event go"])' in mermaid
    dot = cli("workflow", "show", "demo", "--graph", "--format", "dot").stdout
    assert dot.startswith('digraph "demo" {') and '[label="#0 SUCCESS: START"]' in dot and dot.rstrip().endswith("}")
    cli("workflow", "disable", "demo")
    assert cli.json("workflow", "show", "demo")["is_enabled"] is False
    assert "disabled" in cli.error("workflow-execution", "start", "demo", code=1)
    cli("workflow", "enable", "demo")
    started = cli.json("workflow-execution", "start", "demo")
    assert started["status"] == "INIT" and started["started_by"] == "manual"
    assert cli.json("workflow-execution", "list", "demo")[0]["id"] == started["id"]
    assert "stop them first" in cli.error("workflow", "delete", "demo", "-y", code=1)
    assert cli.error("workflow", "disable", "nope", code=3)
    cli("workflow", "delete", "batch", "-y")
    assert cli.error("workflow", "show", "batch", code=3)


def test_schedules_and_triggers(cli: Cli, workflow_files: dict[str, Path]) -> None:
    cli("workflow", "upload", str(workflow_files["batch"]))
    schedule = cli.json("workflow-schedule", "add", "batch", "cron@*/5 * * * *", "--misfire-policy", "skip")
    assert schedule["expression"] == "cron@*/5 * * * *" and schedule["misfire_policy"] == "skip"
    dt.datetime.fromisoformat(schedule["next_fire_time"])
    second = cli.json("workflow-schedule", "add", "batch", "interval@0 1 0 0")
    assert "bad" in cli.error("workflow-schedule", "add", "batch", "cron@bad", code=1)
    assert "interval" in cli.error("workflow-schedule", "add", "batch", "every@1", code=1)
    assert cli.error("workflow-schedule", "add", "nope", "cron@* * * * *", code=3)
    assert [s["id"] for s in cli.json("workflow-schedule", "list", "batch")] == [schedule["id"], second["id"]]
    cli("workflow-schedule", "pause", str(schedule["id"]))
    assert cli.json("workflow-schedule", "show", str(schedule["id"]))["is_paused"] is True
    cli("workflow-schedule", "resume", str(schedule["id"]))
    assert cli.json("workflow-schedule", "show", str(schedule["id"]))["is_paused"] is False
    assert "paused" in cli("workflow-schedule", "list", "batch").stdout.splitlines()[0]
    cli("workflow-schedule", "delete", str(second["id"]), "-y")
    assert cli.error("workflow-schedule", "show", str(second["id"]), code=3)
    cli("workflow-schedule", "delete-all", "batch", "-y")
    assert cli.json("workflow-schedule", "list", "batch") == []

    trigger = cli.json("workflow-trigger", "add", "batch", "--event-key", "new_data")
    assert trigger["rule"] == "event 'new_data'" and trigger["is_paused"] is False
    other = cli.json("workflow-trigger", "add", "batch", "--event-key", "a", "--event-key", "b")
    assert other["rule"] == "event 'a' or event 'b'"
    cli("workflow-trigger", "pause", str(trigger["id"]))
    assert cli.json("workflow-trigger", "show", str(trigger["id"]))["is_paused"] is True
    cli("workflow-trigger", "resume", str(trigger["id"]))
    assert [t["is_paused"] for t in cli.json("workflow-trigger", "list", "batch")] == [False, False]
    assert "new_data" in cli("workflow-trigger", "list", "batch", "-o", "plain").stdout
    cli("workflow-trigger", "delete", str(trigger["id"]), "-y")
    assert cli.error("workflow-trigger", "show", str(trigger["id"]), code=3)
    assert "aborted" in cli("workflow-trigger", "delete-all", "batch", code=1, stdin="\n").stderr
    cli("workflow-trigger", "delete-all", "batch", "-y")
    assert cli.json("workflow-trigger", "list", "batch") == []


def test_events_send_list_count_listen(cli: Cli) -> None:
    cli("namespace", "add", "other")
    first = cli.json("event", "send", "key", "v1", "--sender", "alice", "--context", '{"run": 1}')
    assert first["key"] == "key" and first["value"] == "v1" and first["context"] == {"run": 1}
    assert first["kind"] == "USER" and first["sender"] == "alice"
    middle = dt.datetime.fromisoformat(first["create_time"]) + dt.timedelta(microseconds=1)
    second = cli.json("event", "send", "key", "v2", "-n", "other")
    cli("event", "send", "other_key", "--sender", "bob")
    assert cli.error("event", "send", "key", "v", "-n", "nope", code=3)
    assert "JSON" in cli.error("event", "send", "key", "v", "--context", "{bad", code=2)
    assert [e["value"] for e in cli.json("event", "list", "key")] == ["v1", "v2"]
    assert [e["value"] for e in cli.json("event", "list", "key", "-n", "other")] == ["v2"]
    assert [e["value"] for e in cli.json("event", "list", "--sender", "alice")] == ["v1"]
    assert [e["offset"] for e in cli.json("event", "list", "key", "--begin-offset", str(first["offset"]))] == [
        second["offset"]
    ]
    assert [e["value"] for e in cli.json("event", "list", "key", "--begin-time", middle.isoformat())] == ["v2"]
    assert cli("event", "count", "key").stdout.strip() == "2"
    assert cli("event", "count", "--sender", "bob").stdout.strip() == "1"
    assert cli("event", "count", "key", "--begin-offset", str(first["offset"])).stdout.strip() == "1"
    table = cli("event", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["offset", "namespace", "key"] and len(table) == 5

    listener = subprocess.Popen(
        cli.argv("event", "listen", "key", "-o", "json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=cli_env(),
    )
    try:
        time.sleep(1.5)  # the listener starts at the newest offset: older events are not printed
        sent = [cli.json("event", "send", "key", f"live{i}")["offset"] for i in range(2)]
        cli("event", "send", "ignored_key", "x")
        received = [json.loads(listener.stdout.readline()) for _ in range(2)]  # type: ignore[union-attr]
        assert [e["offset"] for e in received] == sent and received[0]["value"] == "live0"
    finally:
        listener.send_signal(signal.SIGINT)
        assert listener.wait(30) == 0
    replay = subprocess.Popen(
        cli.argv("event", "listen", "--begin-offset", "0", "--sender", "bob"), stdout=subprocess.PIPE,
        text=True, env=cli_env(),
    )
    try:
        line = wait_for(replay.stdout.readline, what="replayed event")  # type: ignore[union-attr]
        assert line.split("\t")[2] == "other_key"
    finally:
        replay.terminate()
        assert replay.wait(30) == 0
