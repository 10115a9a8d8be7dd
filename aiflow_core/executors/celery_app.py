"""The Celery application both ends of the Celery executor build: settings, queues, reliability options.

Settings come from arguments or the environment of the engine and of the
workers (the same names on both):

=================================  ==========================================  =========================
``AIFLOW_CELERY_BROKER_URL``       the broker (``redis://...`` or ``amqp://...``)  ``redis://127.0.0.1:6379/0``
``AIFLOW_CELERY_QUEUE``            the queue of tasks that name none           ``aiflow``
``AIFLOW_CELERY_RESULT_EXPIRES``   seconds a result backend keeps results      ``3600``
=================================  ==========================================  =========================

Messages are acknowledged late (after the attempt ended) and rejected back to
the queue when the worker process running them is lost
(``task_acks_late``, ``task_reject_on_worker_lost``); each worker process
prefetches one message. A message delivered again (a lost worker, Redis's
visibility timeout for a long task, a broker reconnection) runs nothing twice:
its worker asks the engine first and drops it unless the attempt still waits
for a worker (see :mod:`aiflow_core.executors.endpoint`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from aiflow_core.errors import ConfigError, InvalidArgumentError, install_hint
from aiflow_core.model.task_config import check_queue

#: The name of aiflow's Celery task (one message = one task attempt).
TASK_NAME = "aiflow.run_attempt"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "aiflow"


@attrs.frozen(kw_only=True)
class CelerySettings:
    """Where the Celery messages of aiflow go: broker, default queue, result expiry (seconds)."""

    broker_url: str = DEFAULT_BROKER_URL
    queue: str = DEFAULT_QUEUE
    result_expires: float = 3600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **given: Any) -> CelerySettings:
        """Settings from ``given`` arguments (None: not given), else the environment, else the defaults."""
        env = os.environ if env is None else env
        broker = given.get("broker_url") or env.get("AIFLOW_CELERY_BROKER_URL") or DEFAULT_BROKER_URL
        if not isinstance(broker, str) or "://" not in broker:
            raise ConfigError(f"broker_url must be a URL such as {DEFAULT_BROKER_URL}, got {broker!r}")
        try:
            queue = check_queue(given.get("queue") or env.get("AIFLOW_CELERY_QUEUE") or DEFAULT_QUEUE, "Celery")
        except InvalidArgumentError as exc:
            raise ConfigError(str(exc)) from None
        expires = given.get("result_expires")
        if expires is None:
            expires = env.get("AIFLOW_CELERY_RESULT_EXPIRES") or 3600.0
        try:
            seconds = float(expires)
        except (TypeError, ValueError):
            seconds = -1.0
        if seconds <= 0:
            raise ConfigError(f"result_expires must be a number of seconds above zero, got {expires!r}")
        return cls(broker_url=broker, queue=queue, result_expires=seconds)


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
