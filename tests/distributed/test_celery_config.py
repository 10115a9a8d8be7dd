"""The Celery executor's settings as keys of ``aiflow.yaml``, overridden by the environment and by arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core.config import load_config
from aiflow_core.errors import ConfigError
from aiflow_core.executors.celery_app import CelerySettings
from aiflow_core.executors.celery_executor import CeleryExecutor

YAML = """\
celery_broker_url: amqp://user:pw@rabbit.internal:5672//
celery_queue: gpu
celery_result_expires: 2m
channel_address: 0.0.0.0:8793
channel_url: https://engine.internal:443
"""


def test_the_keys_reach_the_executor_and_the_environment_and_arguments_win(
    aiflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (aiflow_home / "aiflow.yaml").write_text(YAML, encoding="utf-8")
    executor = CeleryExecutor()
    assert executor.settings == CelerySettings(broker_url="amqp://user:pw@rabbit.internal:5672//", queue="gpu",
                                               result_expires=120.0)
    assert (executor.channel_address, executor.channel_url) == ("0.0.0.0:8793", "https://engine.internal:443")
    assert executor.app.conf.task_default_queue == "gpu" and executor.app.conf.result_expires == 120.0

    monkeypatch.setenv("AIFLOW_CELERY_QUEUE", "cpu")
    monkeypatch.setenv("AIFLOW_CHANNEL_ADDRESS", "10.0.0.5:9000")
    assert load_config().celery_queue == "cpu"
    from_env = CeleryExecutor()
    assert (from_env.settings.queue, from_env.channel_address) == ("cpu", "10.0.0.5:9000")
    given = CeleryExecutor(queue="io", broker_url="redis://cache:6379/1", channel_address="127.0.0.1:0")
    assert (given.settings.queue, given.settings.broker_url, given.channel_address) == (
        "io", "redis://cache:6379/1", "127.0.0.1:0")


@pytest.mark.parametrize(("argument", "value", "named"), [
    ("queue", "a b", "argument queue"),
    ("broker_url", "6379", "argument broker_url"),
    ("result_expires", -1, "argument result_expires"),
    ("channel_address", "engine:port", "argument channel_address"),
])
def test_a_bad_argument_names_itself(argument: str, value: object, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        CeleryExecutor(**{argument: value})  # type: ignore[arg-type]


def test_a_bad_key_stops_the_executor_naming_the_key(aiflow_home: Path) -> None:
    (aiflow_home / "aiflow.yaml").write_text("celery_result_expires: never\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config key 'celery_result_expires'.*'never'"):
        CeleryExecutor()
