"""``aiflow event send|list|count|listen``: the event log (the original notification commands)."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import time
from typing import Any

from aiflow_core.cli.parser import add_output, command, group, json_object, positive_int
from aiflow_core.model.clock import local_to_utc

COLUMNS = ("offset", "namespace", "key", "value", "sender", "kind", "workflow_execution_id", "create_time")
_POLL_SECONDS = 0.2


def iso_time(text: str) -> dt.datetime:
    """Parse an ISO 8601 time (``2024-05-01T12:00:00+02:00``; a time without offset is local time)."""
    try:
        value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time like 2024-05-01T12:00:00+00:00"
        ) from None
    return local_to_utc(value)


def _filters(p: argparse.ArgumentParser, namespace_help: str, sender: bool = True) -> None:
    p.add_argument("key", nargs="?", default=None, help="event key (default: every key)")
    p.add_argument("-n", "--namespace", default=None, help=namespace_help)
    p.add_argument("--begin-offset", type=int, default=None, help="only events after this offset")
    p.add_argument("--begin-time", type=iso_time, default=None, help="only events from this ISO 8601 time on")
    if sender:
        p.add_argument("--sender", default=None, help="only events from this sender")


def _send(args: argparse.Namespace, ctx: Any) -> int:
    event = ctx.client.send_event(
        args.key, args.value, namespace=args.namespace, sender=args.sender, context=args.context,
        workflow_execution_id=args.workflow_execution_id,
    )
    ctx.emit_one(event)
    return 0


def _list(args: argparse.Namespace, ctx: Any) -> int:
    events = ctx.client.list_events(
        args.key, namespace=args.namespace, begin_offset=args.begin_offset, begin_time=args.begin_time,
        sender=args.sender, limit=args.limit, include_internal=args.include_status,
    )
    ctx.emit_list(events, COLUMNS)
    return 0


def _count(args: argparse.Namespace, ctx: Any) -> int:
    count = ctx.client.count_events(
        args.key, namespace=args.namespace, begin_offset=args.begin_offset, begin_time=args.begin_time,
        sender=args.sender,
    )
    ctx.write(str(count))
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _listen(args: argparse.Namespace, ctx: Any) -> int:
    import json

    from aiflow_core.cli.output import to_data

    signal.signal(signal.SIGTERM, _interrupt)
    client = ctx.client
    if args.begin_offset is not None:
        offset = args.begin_offset
    elif args.begin_time is not None:
        offset = 0
    else:
        offset = client.latest_offset()
    try:
        while True:
            events = client.list_events(
                args.key, namespace=args.namespace, begin_offset=offset, begin_time=args.begin_time,
                sender=args.sender, limit=500,
            )
            for event in events:
                data = to_data(event)
                if args.output == "json":
                    ctx.write(json.dumps(data, ensure_ascii=False))
                else:
                    ctx.write("\t".join("" if data.get(c) is None else str(data.get(c)) for c in COLUMNS))
                offset = max(offset, event.offset or offset)
            if not events:
                time.sleep(_POLL_SECONDS)
    except KeyboardInterrupt:
        return 0


def register(sub: Any) -> None:
    """Register the ``event`` group."""
    ev = group(sub, "event", "Send, list, count and listen to events.")
    p = command(ev, "send", _send, "Send an event.",
                "aiflow event send key 'This is a custom message.' --namespace default --sender cli", output=True)
    p.add_argument("key", help="event key")
    p.add_argument("value", nargs="?", default=None, help="event value (a string)")
    p.add_argument("-n", "--namespace", default="default", help="namespace of the event (default: default)")
    p.add_argument("--sender", default=None, help="sender of the event")
    p.add_argument("--context", type=json_object, default=None, help="context of the event as a JSON object")
    p.add_argument("--workflow-execution-id", type=positive_int, default=None,
                   help="only this workflow execution's task rules see the event")
    p = command(ev, "list", _list, "List events.",
                "aiflow event list key --namespace default --begin-time 2024-05-01T00:00:00Z -o json", output=True)
    _filters(p, "namespace of the events (default: every namespace)")
    p.add_argument("--limit", type=int, default=None, help="at most this many events")
    p.add_argument("--include-status", action="store_true", help="also list task status changes")
    p = command(ev, "count", _count, "Count events.", "aiflow event count key --begin-offset 10")
    _filters(p, "namespace of the events (default: every namespace)")
    p = command(ev, "listen", _listen,
                "Print events as they arrive until interrupted (Ctrl-C); by default only new ones.",
                "aiflow event listen key --namespace default -o json")
    _filters(p, "namespace of the events (default: every namespace)")
    add_output(p, ("plain", "json"))
