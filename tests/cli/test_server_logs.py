"""The server's own log lines as text or JSON (config key log_format, `--log-format`), secrets masked."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from aiflow_core.config import load_config
from aiflow_core.errors import ConfigError
from aiflow_core.logs import JsonLogFormatter, MaskingFormatter, configure_logging
from aiflow_core.runtime.output import secrets_mask
from tests.cli.conftest import Cli, cli_env


def _record(message: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("connect to postgresql://app:hunter2@db/prod failed")
        except RuntimeError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("aiflow.engine", logging.ERROR, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_time_level_logger_message_exception_and_extras_with_secrets_masked() -> None:
    formatter = JsonLogFormatter(secrets_mask(["hunter2"]))
    line = formatter.format(_record("task %s failed: %s", 7, "password hunter2", exc=True, task_execution_id=7,
                                    workflow="etl"))
    assert "\n" not in line and "hunter2" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "aiflow.engine"
    assert entry["message"].startswith("task 7 failed: password ") and entry["time"].endswith("+00:00")
    assert "RuntimeError: connect to postgresql://app:" in entry["exception"]
    assert entry["task_execution_id"] == 7 and entry["workflow"] == "etl"


def test_text_lines_are_masked_too_and_an_unknown_format_is_refused() -> None:
    text = MaskingFormatter(secrets_mask(["hunter2"])).format(_record("secret is %s", "hunter2"))
    assert "hunter2" not in text and "ERROR aiflow.engine: secret is " in text
    with pytest.raises(ValueError, match="'xml' is not one of text, json"):
        configure_logging("xml")


def test_log_format_setting_is_checked_and_read_from_the_environment(aiflow_home: Path) -> None:
    assert load_config(env={"AIFLOW_HOME": str(aiflow_home)}).log_format == "text"
    assert load_config(env={"AIFLOW_HOME": str(aiflow_home), "AIFLOW_LOG_FORMAT": "JSON"}).log_format == "json"
    (aiflow_home / "aiflow.yaml").write_text("log_format: xml\n")
    with pytest.raises(ConfigError, match=r"'log_format'.*one of text, json, got 'xml'"):
        load_config(env={"AIFLOW_HOME": str(aiflow_home)})


@pytest.mark.slow
def test_a_server_started_with_log_format_json_writes_one_json_object_per_line(cli: Cli, aiflow_home: Path) -> None:
    server = subprocess.Popen(
        cli.argv("server", "start", "--executor", "inline", "--log-format", "json"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )
    lines: list[str] = []
    try:
        assert server.stderr is not None
        while not lines or "aiflow server running" not in lines[-1]:
            lines.append(server.stderr.readline())
            assert lines[-1], f"the server ended before it said it runs: {lines}"
    finally:
        os.kill(server.pid, signal.SIGTERM)
        _, rest = server.communicate(timeout=60)
    assert server.returncode == 0
    entries = [json.loads(line) for line in [*lines, *rest.splitlines()] if line.strip()]
    assert any(entry["logger"] == "aiflow.server" and entry["level"] == "INFO" for entry in entries)
    assert any("aiflow server stopped" in entry["message"] for entry in entries)
