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
``AIFLOW_EXPLANATIONS``           ``explanations``
``AIFLOW_LOG_FORMAT``             ``log_format``
``AIFLOW_CELERY_BROKER_URL``      ``celery_broker_url``
``AIFLOW_CELERY_QUEUE``           ``celery_queue``
``AIFLOW_CELERY_RESULT_EXPIRES``  ``celery_result_expires``
``AIFLOW_CHANNEL_ADDRESS``        ``channel_address``
``AIFLOW_CHANNEL_URL``            ``channel_url``
================================  =============================
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from aiflow_core.errors import ConfigError, InvalidArgumentError, InvalidExpressionError
from aiflow_core.executor_names import executor_path
from aiflow_core.homefiles import pickle_secret, private_dir, write_private
from aiflow_core.logs import LogFormat
from aiflow_core.model.durations import parse_horizon, positive_seconds
from aiflow_core.model.explanation import ExplainLevel
from aiflow_core.model.expressions import time_zone
from aiflow_core.model.task_config import check_queue

log = logging.getLogger("aiflow.config")

CONFIG_FILE_NAME = "aiflow.yaml"
#: The Celery executor's defaults: broker, queue of tasks that name none, seconds results are kept.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "aiflow"
DEFAULT_RESULT_EXPIRES = 3600.0
#: Where the engine's attempt channel listens for Celery workers (port 0: any free port).
DEFAULT_CHANNEL_ADDRESS = "127.0.0.1:0"

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
# seconds of the database's clock a scheduler lease lasts; the leader renews it every third of that, and
# another engine takes over this long after the leader stopped renewing
scheduler_lease_ttl: 10
# seconds a workflow file may take to load (run) when it is uploaded
workflow_load_timeout: 60
# how long finished executions, their logs and events are kept (e.g. 30d, 12h)
history_retention: 30d
# what the scheduler records of its rule evaluations, for `aiflow explain`: off, decisions or full
explanations: decisions
# how servers (aiflow server start) write their own log lines: text, or json (one object per line)
log_format: text
# time zone in which cron expressions are evaluated
timezone: UTC
# secret that signs stored pickles; empty: the one generated in $AIFLOW_HOME/pickle_secret (owner-only).
# Every engine and client sharing the database needs the same secret.
pickle_secret:
# the celery executor (task_executor: celery): broker of the Celery messages (engine and workers), queue of the
# tasks that name none, and seconds a result backend keeps results
celery_broker_url: redis://127.0.0.1:6379/0
celery_queue: aiflow
celery_result_expires: 3600
# host:port the engine's attempt channel binds to for Celery workers (0: any free port), and the URL workers
# call when they reach it by another name (empty: http://<bound address>)
channel_address: 127.0.0.1:0
channel_url:
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


#: Keys of AIFlow's server configuration that mean nothing here; a file holding them still loads.
IGNORED_SEED_KEYS = frozenset({
    "server_port", "rpc_port", "internal_rpc_port", "rest_port", "state_backend_uri",
    "sql_alchemy_pool_enabled", "sql_alchemy_pool_size", "sql_alchemy_max_overflow",
    "notification_server_uri", "k8s_executor_config", "pod_template_file", "image_repository",
    "image_tag", "namespace", "in_cluster", "kube_config_file",
})


def _text(key: str, value: object, where: str) -> str:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
    return str(value)


def _parallelism(key: str, value: object, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{where} must be a whole number of tasks of at least 1, got {value!r}; e.g. 10"
        )
    return value


def _seconds(key: str, value: object, where: str) -> float:
    return positive_seconds(where, value, ConfigError)


def _executor(key: str, value: object, where: str) -> str:
    name = _text(key, value, where)
    executor_path(name, where)
    return name


def _retention(key: str, value: object, where: str) -> object:
    try:
        parse_horizon(value)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{where} is not a duration: {exc}; e.g. {key}: 30d, or off to keep everything") from None
    return value


def _explanations(key: str, value: object, where: str) -> str:
    text = "off" if value is False else str(value).strip().lower()  # YAML reads a bare off as false
    try:
        return ExplainLevel(text).value
    except ValueError:
        choices = ", ".join(level.value for level in ExplainLevel)
        raise ConfigError(f"{where} must be one of {choices}, got {value!r}; e.g. {key}: decisions") from None


def _log_format(key: str, value: object, where: str) -> str:
    try:
        return LogFormat(str(value).strip().lower()).value
    except ValueError:
        choices = ", ".join(fmt.value for fmt in LogFormat)
        raise ConfigError(f"{where} must be one of {choices}, got {value!r}; e.g. {key}: json") from None


def _timezone(key: str, value: object, where: str) -> str:
    try:
        time_zone(value)  # type: ignore[arg-type]
    except (InvalidArgumentError, InvalidExpressionError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return str(value)


def _secret(key: str, value: object, where: str) -> str | None:
    return None if value is None else str(value)


def _blob(key: str, value: object, where: str) -> Any:
    if value is not None and not isinstance(value, (str, dict)):
        raise ConfigError(
            f"{where} must be a mapping {{blob_manager_class, blob_manager_config}} or an fsspec URL, got {value!r}"
        )
    return value


def _path(key: str, value: object, where: str) -> Path:
    return Path(_text(key, value, where)).expanduser()


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")


def _broker_url(key: str, value: object, where: str) -> str:
    if not isinstance(value, str) or not _URL.match(value.strip()):
        shown = masked_url(value) if isinstance(value, str) else repr(value)
        raise ConfigError(f"{where} must be a broker URL such as {DEFAULT_BROKER_URL} or "
                          f"amqp://guest:guest@127.0.0.1:5672//, got {shown!r}")
    return value.strip()


def _queue(key: str, value: object, where: str) -> str:
    try:
        return check_queue(value, where)
    except InvalidArgumentError as exc:
        raise ConfigError(f"{exc}; e.g. {key}: {DEFAULT_QUEUE}") from None


def parse_address(address: object, where: str = "channel address") -> tuple[str, int]:
    """``host:port`` (port 0 or absent: an ephemeral one) as a pair; raises ConfigError naming ``where``."""
    text = str(address).strip() if isinstance(address, str) else ""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, "0"
    if not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"{where} must be host:port, e.g. {DEFAULT_CHANNEL_ADDRESS} (0: any free port), "
                          f"got {address!r}")
    return host.strip("[]"), int(port_text)


def _address(key: str, value: object, where: str) -> str:
    parse_address(value, where)
    return str(value).strip()


def _channel_url(key: str, value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s:]+(:\d+)?/?$", value.strip()):
        raise ConfigError(f"{where} must be http(s)://host[:port], e.g. http://engine.internal:8793, got {value!r}")
    return value.strip()


_CHECKS = {
    "metadata_backend_uri": _text,
    "log_dir": _path,
    "task_executor": _executor,
    "local_executor_parallelism": _parallelism,
    "task_heartbeat_interval": _seconds,
    "task_heartbeat_timeout": _seconds,
    "task_executor_heartbeat_check_interval": _seconds,
    "scheduler_lease_ttl": _seconds,
    "workflow_load_timeout": _seconds,
    "history_retention": _retention,
    "explanations": _explanations,
    "log_format": _log_format,
    "timezone": _timezone,
    "pickle_secret": _secret,
    "blob_manager": _blob,
    "celery_broker_url": _broker_url,
    "celery_queue": _queue,
    "celery_result_expires": _seconds,
    "channel_address": _address,
    "channel_url": _channel_url,
}
#: The keys of ``aiflow.yaml``.
KNOWN_KEYS = tuple(_CHECKS)


def check_setting(key: str, value: object, where: str | None = None) -> Any:
    """Return the value of setting ``key`` converted (numbers from strings), or raise :class:`ConfigError`.

    The error names the setting as ``where`` (default ``config key 'KEY'``), the bad value and the fix.
    """
    return _CHECKS[key](key, value, where or f"config key {key!r}")


def check_argument(name: str, value: object, kind: Any, expected: str) -> None:
    """Refuse ``value`` for the argument ``name`` unless it is ``None`` or a ``kind``; ``expected`` says what fits."""
    if value is not None and not isinstance(value, kind):
        raise ConfigError(f"argument {name}={value!r} is not {expected}; pass {expected} or leave it out")


@attrs.frozen(kw_only=True)
class AIFlowConfig:
    """The resolved configuration of one engine or client; every value is checked when it is built."""

    home: Path
    metadata_backend_uri: str
    log_dir: Path
    task_executor: str = "process"
    local_executor_parallelism: int = 10
    task_heartbeat_interval: float = 10.0
    task_heartbeat_timeout: float = 60.0
    task_executor_heartbeat_check_interval: float = 10.0
    scheduler_lease_ttl: float = 10.0
    workflow_load_timeout: float = 60.0
    history_retention: Any = "30d"
    explanations: str = "decisions"
    log_format: str = "text"
    timezone: str = "UTC"
    pickle_secret: str | None = None
    blob_manager: Any = None
    celery_broker_url: str = DEFAULT_BROKER_URL
    celery_queue: str = DEFAULT_QUEUE
    celery_result_expires: float = DEFAULT_RESULT_EXPIRES
    channel_address: str = DEFAULT_CHANNEL_ADDRESS
    channel_url: str | None = None
    source: Path | None = None

    def __attrs_post_init__(self) -> None:
        for key in KNOWN_KEYS:
            object.__setattr__(self, key, check_setting(key, getattr(self, key)))
        if self.task_heartbeat_timeout <= self.task_heartbeat_interval:
            raise ConfigError(
                f"config key 'task_heartbeat_timeout' ({self.task_heartbeat_timeout:g} s) must be longer than "
                f"'task_heartbeat_interval' ({self.task_heartbeat_interval:g} s), or healthy tasks fail; "
                "e.g. 60 and 10"
            )

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as plain values (paths as strings)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            out[field.name] = str(value) if isinstance(value, Path) else value
        return out


_ENV_KEYS = {
    "AIFLOW_DB_URL": "metadata_backend_uri",
    "AIFLOW_TASK_EXECUTOR": "task_executor",
    "AIFLOW_PARALLELISM": "local_executor_parallelism",
    "AIFLOW_BLOB_URL": "blob_manager",
    "AIFLOW_PICKLE_SECRET": "pickle_secret",
    "AIFLOW_TIMEZONE": "timezone",
    "AIFLOW_EXPLANATIONS": "explanations",
    "AIFLOW_LOG_FORMAT": "log_format",
    "AIFLOW_CELERY_BROKER_URL": "celery_broker_url",
    "AIFLOW_CELERY_QUEUE": "celery_queue",
    "AIFLOW_CELERY_RESULT_EXPIRES": "celery_result_expires",
    "AIFLOW_CHANNEL_ADDRESS": "channel_address",
    "AIFLOW_CHANNEL_URL": "channel_url",
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
    if path is not None and not file.exists():
        raise ConfigError(f"config file {str(file)!r} does not exist")
    raw = _read_file(file) if file.exists() else {}
    _check_keys(raw, file)
    origin = {key: f"config key {key!r} in {str(file)!r}" for key in raw}
    for var, key in _ENV_KEYS.items():
        if env.get(var):
            raw[key] = env[var]
            origin[key] = f"environment variable {var} (config key {key!r})"
    values: dict[str, Any] = {
        "home": home,
        "metadata_backend_uri": f"sqlite:///{home}/aiflow.db",
        "log_dir": home / "logs",
        "source": file if file.exists() else None,
        "blob_manager": {
            "blob_manager_class": "aiflow_storage.blob.LocalBlobManager",
            "blob_manager_config": {"root_directory": str(home / "blob")},
        },
    }
    for key in KNOWN_KEYS:
        if raw.get(key) not in (None, ""):
            values[key] = check_setting(key, raw[key], origin[key])
    return AIFlowConfig(**values)


def _check_keys(raw: dict[str, Any], file: Path) -> None:
    """Refuse keys aiflow does not know, suggesting the nearest known one; AIFlow's old server keys pass."""
    for key in raw:
        if key in KNOWN_KEYS:
            continue
        if key in IGNORED_SEED_KEYS:
            log.info("config file %s: key %r of AIFlow's server means nothing here; ignored", file, key)
            continue
        close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(KNOWN_KEYS)}"
        raise ConfigError(f"config file {str(file)!r} has an unknown key {key!r}; {hint}")
