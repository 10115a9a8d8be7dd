"""``aiflow worker``: a Celery worker running aiflow's task attempts (extra ``celery``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from aiflow_core.cli.parser import UsageError, command, positive_int


def _queues(text: str) -> list[str]:
    from aiflow_core.errors import InvalidArgumentError
    from aiflow_core.model.task_config import check_queue

    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError(f"--queues needs at least one queue name, got {text!r}")
    try:
        return [check_queue(name, "--queues") for name in names]
    except InvalidArgumentError as exc:
        raise UsageError(str(exc)) from None


def _worker(args: argparse.Namespace, ctx: Any) -> int:
    queues = _queues(args.queues) if args.queues else None
    if args.broker:
        os.environ["AIFLOW_CELERY_BROKER_URL"] = args.broker
    from aiflow_core.config import masked_url
    from aiflow_core.executors.celery_app import CelerySettings

    settings = CelerySettings.load()
    from aiflow_core.executors.celery_worker import app

    argv = ["worker", "--queues", ",".join(queues or [settings.queue]), "--concurrency", str(args.concurrency),
            "--loglevel", args.loglevel, "--pool", "prefork"]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    ctx.note(f"aiflow worker on {masked_url(settings.broker_url)}, queues {','.join(queues or [settings.queue])}, "
             f"{args.concurrency} task(s) at once")
    app.worker_main(argv)
    return 0


def register(sub: Any) -> None:
    """Register ``aiflow worker``."""
    p = command(sub, "worker", _worker,
                "Run a Celery worker for the celery executor: it takes task attempts from the given queues and "
                "runs each in a process of its own; it needs the broker and the blob store, not the database.",
                "aiflow worker --queues aiflow,gpu --concurrency 4")
    p.add_argument("--queues", "-Q", default=None,
                   help="comma-separated queues to take tasks from (default: celery_queue of the config, aiflow)")
    p.add_argument("--concurrency", "-c", type=positive_int, default=os.cpu_count() or 1,
                   help="how many task attempts run at once (default: the number of CPUs)")
    p.add_argument("--broker", default=None, help="broker URL (default: celery_broker_url of the config, "
                   "redis://127.0.0.1:6379/0)")
    p.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"],
                   help="the worker's log level")
    p.add_argument("--hostname", "-n", default=None, help="the worker's node name (Celery's --hostname)")
