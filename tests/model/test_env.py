"""``aiflow_core.common.env.expand_env_var``, as AIFlow's Flink and Spark samples use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core.common.env import expand_env_var


def test_expands_variables_and_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FLINK_HOME", "/opt/flink")
    assert expand_env_var("${FLINK_HOME}/examples/batch/WordCount.jar") == "/opt/flink/examples/batch/WordCount.jar"
    assert expand_env_var("$FLINK_HOME/bin") == "/opt/flink/bin"
    assert expand_env_var("~/aiflow") == f"{tmp_path}/aiflow"


def test_expands_nested_references_until_nothing_changes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("INNER", "~/spark")
    monkeypatch.setenv("OUTER", "$INNER/jars")
    assert expand_env_var("${OUTER}/app.jar") == f"{tmp_path}/spark/jars/app.jar"


def test_leaves_unknown_variables_and_false_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIFLOW_SURELY_UNSET", raising=False)
    assert expand_env_var("$AIFLOW_SURELY_UNSET/x") == "$AIFLOW_SURELY_UNSET/x"
    assert expand_env_var("") == ""
    assert expand_env_var(None) is None
    assert expand_env_var(5) == "5"
