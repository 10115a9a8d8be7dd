"""The Celery application both ends of the Celery executor build: settings, queues, reliability options.

Settings come from arguments, else the configuration of the engine's or the
worker's ``$AIFLOW_HOME`` (keys ``celery_broker_url``, ``celery_queue``,
``celery_result_expires`` of ``aiflow.yaml``, overridden by the environment
variables ``AIFLOW_CELERY_BROKER_URL``, ``AIFLOW_CELERY_QUEUE`` and
``AIFLOW_CELERY_RESULT_EXPIRES``; see :mod:`aiflow_core.config`).

Messages are acknowledged late (after the attempt ended) and rejected back to
the queue when the worker process running them is lost
(``task_acks_late``, ``task_reject_on_worker_lost``); each worker process
prefetches one message. A message delivered again (a lost worker, Redis's
visibility timeout for a long task, a broker reconnection) runs nothing twice:
its worker asks the engine first and drops it unless the attempt still waits
for a worker (see :mod:`aiflow_core.executors.endpoint`).
"""

from __future__ import annotations

from typing import Any

import attrs

from aiflow_core.config import (
    DEFAULT_BROKER_URL,
    DEFAULT_QUEUE,
    DEFAULT_RESULT_EXPIRES,
    AIFlowConfig,
    check_setting,
    load_config,
)
from aiflow_core.errors import ConfigError, install_hint

#: The name of aiflow's Celery task (one message = one task attempt).
TASK_NAME = "aiflow.run_attempt"


@attrs.frozen(kw_only=True)
class CelerySettings:
    """Where the Celery messages of aiflow go: broker, default queue, result expiry (seconds)."""

    broker_url: str = DEFAULT_BROKER_URL
    queue: str = DEFAULT_QUEUE
    result_expires: float = DEFAULT_RESULT_EXPIRES

    @classmethod
    def load(cls, config: AIFlowConfig | None = None, **given: Any) -> CelerySettings:
        """Settings from ``given`` arguments (None: not given), else ``config`` (default: the configuration of
        ``$AIFLOW_HOME`` and the environment); a bad argument raises :class:`ConfigError` naming it."""
        config = load_config() if config is None else config
        values = {}
        for name, key in (("broker_url", "celery_broker_url"), ("queue", "celery_queue"),
                          ("result_expires", "celery_result_expires")):
            value = given.get(name)
            values[name] = getattr(config, key) if value is None else check_setting(key, value, f"argument {name}")
        return cls(**values)


def make_app(settings: CelerySettings) -> Any:
    """A Celery application for ``settings`` with aiflow's reliability options."""
    try:
        from celery import Celery
    except ImportError:
        raise ConfigError(f"the Celery executor needs the 'celery' extra: {install_hint('celery')}") from None
    app = Celery("aiflow", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue,
        task_ignore_result=True,
        result_expires=settings.result_expires,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # A running attempt talks to its engine, not to the broker: a broker reconnection must not kill it.
        # The message delivered again meanwhile is dropped, as its attempt was claimed.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # Publishing gives up quickly when the broker is unreachable: the attempt fails with the reason.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2,
                                   "interval_max": 0.5},
        broker_transport_options={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2,
                                  "interval_max": 0.5, "socket_connect_timeout": 3, "socket_timeout": 10},
        worker_hijack_root_logger=False,
    )
    return app
