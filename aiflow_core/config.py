"""Configuration: ``$AIFLOW_HOME/aiflow.yaml`` overridden by environment variables.

Keys follow the original AIFlow server configuration where they still mean
something here. Environment variables win over the file:

================================  =============================
variable                          key
================================  =============================
``AIFLOW_HOME``                   home directory (default ``~/aiflow``)
``AIFLOW_DB_URL``                 ``metadata_backend_uri``
``AIFLOW_TASK_EXECUTOR``          ``task_executor``
``AIFLOW_PARALLELISM``            ``local_executor_parallelism``
``AIFLOW_BLOB_URL``               ``blob_manager`` as one fsspec URL
``AIFLOW_PICKLE_SECRET``          ``pickle_secret``
``AIFLOW_TIMEZONE``               ``timezone``
================================  =============================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from aiflow_core.errors import ConfigError
from aiflow_core.homefiles import pickle_secret, private_dir, write_private

CONFIG_FILE_NAME = "aiflow.yaml"

_DEFAULT_TEMPLATE = """\
# aiflow configuration. Environment variables (AIFLOW_DB_URL, ...) override these keys.
# uri of the SQL database holding metadata, events and state
metadata_backend_uri: sqlite:///{home}/aiflow.db
# directory of task and server logs
log_dir: {home}/logs
# executor that runs tasks: inline, thread or process
task_executor: process
# number of tasks the thread or process executor runs at once
local_executor_parallelism: 10
# seconds between heartbeats of a running task
task_heartbeat_interval: 10
# seconds without heartbeat after which a running task is failed
task_heartbeat_timeout: 60
# seconds between checks of task heartbeats
task_executor_heartbeat_check_interval: 10
# how long finished executions, their logs and events are kept (e.g. 30d, 12h)
history_retention: 30d
# time zone in which cron expressions are evaluated
timezone: UTC
# secret that signs stored pickles; empty: the one generated in $AIFLOW_HOME/pickle_secret (owner-only).
# Every engine and client sharing the database needs the same secret.
pickle_secret:
# where workflow snapshots and task files are stored
blob_manager:
  blob_manager_class: aiflow_storage.blob.LocalBlobManager
  blob_manager_config:
    root_directory: {home}/blob
"""


def aiflow_home(env: Mapping[str, str] | None = None) -> Path:
    """Return ``$AIFLOW_HOME`` (default ``~/aiflow``), expanded."""
    env = os.environ if env is None else env
    return Path(env.get("AIFLOW_HOME") or "~/aiflow").expanduser()


def default_config_text(home: Path) -> str:
    """Return the text of a fresh ``aiflow.yaml`` for ``home``."""
    return _DEFAULT_TEMPLATE.format(home=home)


def init_config(home: Path | None = None) -> tuple[Path, bool]:
    """Write the default config file (owner-only) unless one exists; return (path, created).

    The pickle secret of ``home`` is generated too when missing.
    """
    home = aiflow_home() if home is None else home
    path = home / CONFIG_FILE_NAME
    private_dir(home)
    pickle_secret(home)
    if path.exists():
        return path, False
    write_private(path, default_config_text(home))
    return path, True


@attrs.frozen(kw_only=True)
class AIFlowConfig:
    """The resolved configuration of one engine or client."""

    home: Path
    metadata_backend_uri: str
    log_dir: Path
    task_executor: str = "process"
    local_executor_parallelism: int = 10
    task_heartbeat_interval: float = 10.0
    task_heartbeat_timeout: float = 60.0
    task_executor_heartbeat_check_interval: float = 10.0
    history_retention: str = "30d"
    timezone: str = "UTC"
    pickle_secret: str | None = None
    blob_manager: Any = None
    source: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as plain values (paths as strings)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            out[field.name] = str(value) if isinstance(value, Path) else value
        return out


_INT_KEYS = ("local_executor_parallelism",)
_FLOAT_KEYS = (
    "task_heartbeat_interval",
    "task_heartbeat_timeout",
    "task_executor_heartbeat_check_interval",
)
_ENV_KEYS = {
    "AIFLOW_DB_URL": "metadata_backend_uri",
    "AIFLOW_TASK_EXECUTOR": "task_executor",
    "AIFLOW_PARALLELISM": "local_executor_parallelism",
    "AIFLOW_BLOB_URL": "blob_manager",
    "AIFLOW_PICKLE_SECRET": "pickle_secret",
    "AIFLOW_TIMEZONE": "timezone",
}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping, got {type(data).__name__}")
    return data


def load_config(
    path: Path | str | None = None, env: Mapping[str, str] | None = None
) -> AIFlowConfig:
    """Load the configuration from ``path`` (default ``$AIFLOW_HOME/aiflow.yaml``).

    A missing file is not an error: the defaults apply. Environment variables
    override file keys.
    """
    env = os.environ if env is None else env
    home = aiflow_home(env)
    file = Path(path) if path is not None else home / CONFIG_FILE_NAME
    raw: dict[str, Any] = _read_file(file) if file.exists() else {}
    if path is not None and not file.exists():
        raise ConfigError(f"config file {str(file)!r} does not exist")
    for var, key in _ENV_KEYS.items():
        if env.get(var):
            raw[key] = env[var]
    values: dict[str, Any] = {
        "home": home,
        "metadata_backend_uri": raw.get("metadata_backend_uri") or f"sqlite:///{home}/aiflow.db",
        "log_dir": Path(str(raw.get("log_dir") or home / "logs")).expanduser(),
        "source": file if file.exists() else None,
    }
    for key in ("task_executor", "history_retention", "timezone", "pickle_secret", "blob_manager"):
        if raw.get(key) not in (None, ""):
            values[key] = raw[key]
    for key in _INT_KEYS + _FLOAT_KEYS:
        if raw.get(key) in (None, ""):
            continue
        kind = int if key in _INT_KEYS else float
        try:
            values[key] = kind(raw[key])
        except (TypeError, ValueError):
            raise ConfigError(
                f"config key {key!r} must be a number, got {raw[key]!r}"
            ) from None
    if values.get("pickle_secret") is not None:
        values["pickle_secret"] = str(values["pickle_secret"])
    if values.get("blob_manager") is None:
        values["blob_manager"] = {
            "blob_manager_class": "aiflow_storage.blob.LocalBlobManager",
            "blob_manager_config": {"root_directory": str(home / "blob")},
        }
    return AIFlowConfig(**values)
