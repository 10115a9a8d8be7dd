"""A bare Celery application with one no-op task: the baseline of bench_celery.

The no-op counts itself in Redis (``INCR``) so that the benchmark sees when a
fan-out is done without a result backend. Same reliability options as aiflow's
application (late acknowledgement, one message prefetched per process).
"""

from __future__ import annotations

import os

import redis
from celery import Celery

BROKER = os.environ.get("AIFLOW_CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
COUNTER = os.environ.get("BENCH_COUNTER", "aiflow-bench-noop")

app = Celery("bench_noop", broker=BROKER)
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                task_ignore_result=True, task_serializer="json", accept_content=["json"],
                worker_hijack_root_logger=False)
_client: redis.Redis | None = None


@app.task(name="bench.noop")
def noop() -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(BROKER)
    _client.incr(COUNTER)
