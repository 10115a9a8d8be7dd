"""``aiflow ui``: the web UI and REST API on the database, served by uvicorn (extra ``web``).

Reading needs no token on a loopback address (the default, 127.0.0.1);
buttons and other acting calls need the token, which ``--token`` or
``AIFLOW_WEB_TOKEN`` gives, else the one kept owner-only in
``$AIFLOW_HOME/aiflow_web.token`` (made on first use). The command prints the
link that signs the browser in.
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path
from typing import Any

from aiflow_core.cli.parser import command

TOKEN_FILE_NAME = "aiflow_web.token"
TOKEN_ENV = "AIFLOW_WEB_TOKEN"


def web_token(home: Path, given: str | None = None) -> str:
    """``given``, else ``$AIFLOW_WEB_TOKEN``, else the token kept in ``home`` (made owner-only when missing)."""
    if given:
        return given
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    path = home / TOKEN_FILE_NAME
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if not kept:
        from aiflow_core.homefiles import write_private

        kept = secrets.token_urlsafe(24)
        write_private(path, kept + "\n")
    return kept


def sign_in_link(host: str, port: int, token: str) -> str:
    """The link that opens the UI and stores the token in the browser."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def add_web_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Add ``--[prefix]host``, ``--[prefix]port`` and ``--[prefix]token``."""
    parser.add_argument(f"--{prefix}host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; any other needs the token for every call)")
    parser.add_argument(f"--{prefix}port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument(
        f"--{prefix}token", default=None,
        help=f"the token acting calls need (default: ${TOKEN_ENV}, else $AIFLOW_HOME/{TOKEN_FILE_NAME})",
    )


def _ui(args: argparse.Namespace, ctx: Any) -> int:
    from aiflow_core.web import create_app, serve

    token = web_token(ctx.client.home, args.token)
    app = create_app(ctx.client, token=token, host=args.host)
    ctx.note(f"aiflow UI on {ctx.database_label()}: open {sign_in_link(args.host, args.port, token)}")
    serve(app, args.host, args.port)
    return 0


def register(sub: Any) -> None:
    """Register ``aiflow ui``."""
    p = command(sub, "ui", _ui, "Serve the web UI and the REST API of the database (needs the 'web' extra).",
                "aiflow ui\naiflow ui --host 0.0.0.0 --port 8080 --token \"$(cat token)\"")
    add_web_options(p)
