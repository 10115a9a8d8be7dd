"""Help, lazy imports, version, config, db, namespaces, errors, masking and table sizing."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import yaml

from aiflow_core.cli.main import build_parser
from tests.cli.conftest import Cli, cli_env


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.extend(_leaves(child, (*path, name)))
    if not found and path:
        found.append((path, parser.format_help()))
    return found


def test_every_command_has_help_with_an_example() -> None:
    leaves = _leaves(build_parser())
    assert len(leaves) >= 50
    for path, text in leaves:
        assert "\nexample:\n  " in text and "aiflow" in text.split("example:")[1], path
        assert "--db-url" in text and "--verbose" in text, path
        if path[-1] in ("list", "show") and path[0] != "event":
            assert "-o {table,json,yaml,plain}" in text, path


def test_help_loads_no_storage_or_pickling_library() -> None:
    probe = (
        "import sys\nfrom aiflow_core.cli.main import main\n"
        "for argv in (['--help'], ['workflow', '--help'], ['workflow', 'list', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, e.code\n"
        "print('LOADED', sorted(m for m in ('sqlalchemy', 'fsspec', 'cloudpickle') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), check=True)
    assert out.stdout.strip().splitlines()[-1] == "LOADED []"
    result = subprocess.run([sys.executable, "-m", "aiflow_core.cli.main", "--help"], capture_output=True,
                            text=True, env=cli_env(), check=True)
    assert "workflow-execution" in result.stdout and "Exit codes" in result.stdout


def test_version_config_and_db(cli: Cli, aiflow_home) -> None:  # type: ignore[no-untyped-def]
    assert cli("version").stdout.startswith("aiflow 0.")
    assert cli("--version").stdout.startswith("aiflow 0.")
    assert "created" in cli("config", "init").stdout
    assert (aiflow_home / "aiflow.yaml").exists()
    assert "already exists" in cli("config", "init").stdout
    assert cli("config", "get-value", "task_executor").stdout.strip() == "process"
    assert cli.error("config", "get-value", "nope", code=3).startswith("error: config key 'nope' does not exist")
    secret_env = {"AIFLOW_DB_URL": "postgresql://scott:tiger-secret@127.0.0.1:1/x", "AIFLOW_PICKLE_SECRET": "s3cr3t"}
    for fmt in ("table", "json", "yaml", "plain"):
        out = Cli(None)("config", "list", "-o", fmt, **secret_env).stdout
        assert "tiger-secret" not in out and "s3cr3t" not in out and "scott:***@" in out, out
    listed = json.loads(Cli(None)("config", "list", "-o", "json", **secret_env).stdout)
    assert listed["pickle_secret"] == "***" and listed["task_executor"] == "process"
    assert yaml.safe_load(Cli(None)("config", "list", "-o", "yaml").stdout)["home"] == str(aiflow_home)
    assert Cli(None)("config", "get-value", "metadata_backend_uri", **secret_env).stdout.strip() == (
        "postgresql://scott:***@127.0.0.1:1/x"
    )

    assert "schema version" in cli("db", "init").stdout
    assert "nothing to do" in cli("db", "upgrade").stdout
    version = cli.json("db", "version")
    assert version["schema_version"] == version["latest_schema_version"] >= 1
    cli("namespace", "add", "team")
    aborted = cli("db", "reset", code=1, stdin="n\n")
    assert "aborted" in aborted.stderr
    assert [n["name"] for n in cli.json("namespace", "list")] == ["default", "team"]
    assert "reset" in cli("db", "reset", stdin="y\n").stdout
    assert [n["name"] for n in cli.json("namespace", "list")] == ["default"]
    cli("db", "downgrade", "0", "-y")
    assert cli.json("db", "version")["schema_version"] == 0
    cli("db", "init")


def test_namespaces_formats_and_table_width(cli: Cli) -> None:
    added = cli.json("namespace", "add", "team_a", "--properties", '{"owner": "ml", "note": "' + "x" * 150 + '"}')
    assert added == {"name": "team_a", "properties": {"owner": "ml", "note": "x" * 150}}
    cli("namespace", "add", "team_b")
    assert cli.error("namespace", "add", "team_b", code=1).count("team_b") >= 1
    assert cli.error("namespace", "add", "x", "--properties", "[1]", code=2).startswith("error: argument")
    table = cli("namespace", "list").stdout.splitlines()
    assert table[0].split() == ["name", "properties"] and table[2].startswith("default")
    narrow = cli("namespace", "list", COLUMNS="40").stdout.splitlines()
    assert max(len(line) for line in narrow) <= 40 and narrow[3].endswith("...")
    plain = cli("namespace", "list", "-o", "plain").stdout.splitlines()
    assert plain[2].split("\t")[0] == "team_b"
    assert yaml.safe_load(cli("namespace", "list", "-o", "yaml").stdout)[1]["properties"]["owner"] == "ml"
    assert cli.json("namespace", "update", "team_b", "--properties", '{"k": "v"}')["properties"] == {"k": "v"}
    assert cli.error("namespace", "update", "nope", "--properties", "{}", code=3).startswith(
        "error: namespace 'nope' does not exist"
    )
    assert "aborted" in cli("namespace", "delete", "team_b", code=1, stdin="no\n").stderr
    cli("namespace", "delete", "team_b", "-y")
    assert cli.error("namespace", "delete", "team_b", "-y", code=3)
    assert "cannot be deleted" in cli.error("namespace", "delete", "default", "-y", code=1)


def test_bad_input_is_one_line_with_the_right_exit_code(cli: Cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "'default.nope' does not exist" in cli.error("workflow", "show", "nope", code=3)
    assert cli.error("workflow-execution", "show", "99", code=3).startswith("error: workflow execution 99")
    assert cli.error("task-execution", "show", "7", code=3).startswith("error: task execution 7")
    assert cli.error("workflow-trigger", "pause", "5", code=3).startswith("error: workflow trigger 5")
    assert "missing.py" in cli.error("workflow", "upload", str(tmp_path / "missing.py"), code=3)
    assert "not an integer id" in cli.error("workflow-execution", "show", "abc", code=2)
    assert "invalid choice" in cli.error("workflow", "lisst", code=2)
    assert "ISO 8601" in cli.error("event", "list", "--begin-time", "yesterday", code=2)
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    loading = cli("workflow", "upload", str(broken), code=1).stderr  # the user's traceback follows the line
    assert loading.startswith("error: ") and "raised RuntimeError while loading: boom" in loading.splitlines()[0]
    unreachable = Cli("postgresql://scott:tiger-secret@127.0.0.1:1/aiflow")
    line = unreachable.error("workflow", "list", code=1)
    assert "scott:***@127.0.0.1:1" in line and "tiger-secret" not in line and "reachable" in line
    verbose = unreachable("--verbose", "workflow", "list", code=1)
    assert "Traceback" in verbose.stderr and "tiger-secret" not in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("error: database")
    # options after the command work as well as before it
    assert "Traceback" in unreachable("workflow", "list", "--verbose", code=1).stderr
