"""Who may call: reading is free on a loopback address, acting always needs the token.

The app is told the address it is bound to (``host``); on a loopback
address (127.0.0.0/8, ``::1``, ``localhost``) reading needs no token, on any
other every call needs it. Each request is also judged by the address the
server actually listens on (the ASGI ``server`` of the request), so an app
mounted in a host application that listens on all interfaces still asks for
the token. Calls that change something (every method but GET and HEAD) need
the token always.

The token comes as ``Authorization: Bearer TOKEN``, or for the web UI as the
``aiflow_token`` cookie that opening any page with ``?token=TOKEN`` sets
(HttpOnly, SameSite=Strict). An acting call authenticated by the cookie must
also carry the header ``X-AIFlow-Action: 1``, which a page of another site
cannot send without the browser asking this server first (CSRF).
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import HTTPException, Request

from aiflow_core.errors import ConfigError

COOKIE = "aiflow_token"
ACTION_HEADER = "x-aiflow-action"
_READING = ("GET", "HEAD", "OPTIONS")


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Guard:
    """Checks the token of each call (see the module's description)."""

    def __init__(self, token: str | None, host: str) -> None:
        if token is not None and (not isinstance(token, str) or len(token) < 16):
            raise ConfigError("the web token must be a string of at least 16 characters")
        if token is None and not is_loopback(host):
            raise ConfigError(
                f"bound to {host!r}, which is not a loopback address, the web app needs a token for every call; "
                "pass token=... (aiflow ui makes one unless --token or AIFLOW_WEB_TOKEN gives it)"
            )
        self.token = token
        self.host = host

    def private(self, request: Request) -> bool:
        """True when reading needs no token: bound to, and listening on, a loopback address."""
        server = request.scope.get("server")
        listening = server[0] if server else self.host
        return is_loopback(self.host) and is_loopback(listening)

    def valid(self, candidate: str | None) -> bool:
        """True if ``candidate`` is the token (compared in constant time)."""
        return (
            self.token is not None and candidate is not None
            and hmac.compare_digest(candidate.encode("utf-8"), self.token.encode("utf-8"))
        )

    def presented(self, request: Request) -> tuple[str | None, bool]:
        """The token the request carries and whether it came as the cookie."""
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, value = header.partition(" ")
            return (value.strip() if scheme.lower() == "bearer" else ""), False
        cookie = request.cookies.get(COOKIE)
        return cookie, cookie is not None

    def check(self, request: Request) -> None:
        """Raise 401 (no token) or 403 (wrong token, or a cookie call without its header) unless allowed."""
        acting = request.method not in _READING
        if not acting and self.private(request):
            return
        if self.token is None:
            raise HTTPException(
                401, "acting calls need a token, and this app has none; create it with token=... "
                "(aiflow ui and aiflow server start --ui make one)",
            )
        presented, by_cookie = self.presented(request)
        if presented is None:
            raise HTTPException(
                401, "this call needs the token: send 'Authorization: Bearer TOKEN' "
                "(or open the UI with ?token=TOKEN)", headers={"WWW-Authenticate": "Bearer"},
            )
        if not self.valid(presented):
            raise HTTPException(403, "the token is wrong")
        if acting and by_cookie and request.headers.get(ACTION_HEADER) != "1":
            raise HTTPException(403, f"an acting call authenticated by the cookie needs the header {ACTION_HEADER}: 1")
