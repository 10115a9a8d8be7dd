"""A small in-memory server speaking the WebHDFS REST protocol, for tests.

It implements the operations fsspec's ``webhdfs`` filesystem uses:
GETFILESTATUS, LISTSTATUS, MKDIRS, CREATE and APPEND (answered by a 307
redirect to a "data node" URL on the same server, as a name node does),
OPEN (also redirected), RENAME and DELETE. Every request must carry
``user.name``; users outside ``allowed_users`` get AccessControlException.
It is not HDFS: there are no blocks, replicas or permissions beyond that.
"""

from __future__ import annotations

import json
import posixpath
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

PREFIX = "/webhdfs/v1"
DATA_PREFIX = "/datanode"


class _Tree:
    def __init__(self) -> None:
        self.files: dict[str, bytearray] = {}
        self.dirs: set[str] = {"/"}
        self.lock = threading.Lock()

    def mkdirs(self, path: str) -> None:
        while path not in self.dirs:
            self.dirs.add(path)
            path = posixpath.dirname(path)

    def status(self, path: str, suffix: str) -> dict[str, object] | None:
        base = {
            "pathSuffix": suffix,
            "modificationTime": int(time.time() * 1000),
            "accessTime": 0,
            "owner": "hdfs",
            "group": "supergroup",
            "permission": "755",
            "replication": 1,
            "blockSize": 134217728,
        }
        if path in self.files:
            return {**base, "type": "FILE", "length": len(self.files[path])}
        if path in self.dirs:
            return {**base, "type": "DIRECTORY", "length": 0}
        return None

    def children(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        names = {
            p[len(prefix) :].split("/")[0]
            for p in [*self.files, *self.dirs]
            if p.startswith(prefix) and p != prefix
        }
        return sorted(names)


class _Handler(BaseHTTPRequestHandler):
    server: WebHDFSServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _send(
        self,
        code: int,
        body: bytes = b"",
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, payload: object) -> None:
        self._send(code, json.dumps(payload).encode())

    def _error(self, code: int, exception: str, message: str) -> None:
        self._json(
            code,
            {
                "RemoteException": {
                    "exception": exception,
                    "message": message,
                    "javaClassName": f"org.apache.hadoop.{exception}",
                }
            },
        )

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        data = self._body()
        op = query.get("op", "").upper()
        user = query.get("user.name")
        if user is None:
            return self._error(401, "SecurityException", "user.name is required")
        if user not in self.server.allowed_users:
            return self._error(403, "AccessControlException", f"Permission denied: user={user}")
        if parts.path.startswith(DATA_PREFIX):
            return self._data(method, op, unquote(parts.path[len(DATA_PREFIX) :]), query, data)
        if not parts.path.startswith(PREFIX):
            return self._error(404, "FileNotFoundException", parts.path)
        path = "/" + unquote(parts.path[len(PREFIX) :]).strip("/")
        self._name(method, op, posixpath.normpath(path), query)

    def _redirect(self, op: str, path: str, query: dict[str, str]) -> None:
        args = "&".join(f"{k}={quote(v)}" for k, v in {**query, "op": op}.items())
        host, port = self.server.server_address[:2]
        location = f"http://{host}:{port}{DATA_PREFIX}{quote(path)}?{args}"
        self._send(307, headers={"Location": location})

    def _name(self, method: str, op: str, path: str, query: dict[str, str]) -> None:
        tree = self.server.tree
        with tree.lock:
            status = tree.status(path, "")
            if op == "GETFILESTATUS" and method == "GET":
                if status is None:
                    return self._error(404, "FileNotFoundException", f"File does not exist: {path}")
                return self._json(200, {"FileStatus": status})
            if op == "LISTSTATUS" and method == "GET":
                if status is None:
                    return self._error(404, "FileNotFoundException", f"File does not exist: {path}")
                if status["type"] == "FILE":
                    entries = [status]
                else:
                    entries = [tree.status(posixpath.join(path, c), c) for c in tree.children(path)]
                return self._json(200, {"FileStatuses": {"FileStatus": entries}})
            if op == "MKDIRS" and method == "PUT":
                if path in tree.files:
                    return self._error(403, "FileAlreadyExistsException", path)
                tree.mkdirs(path)
                return self._json(200, {"boolean": True})
            if op in ("CREATE", "APPEND", "OPEN"):
                if op == "APPEND" and path not in tree.files:
                    return self._error(404, "FileNotFoundException", path)
                if op == "OPEN" and path not in tree.files:
                    return self._error(404, "FileNotFoundException", path)
                return self._redirect(op, path, query)
            if op == "RENAME" and method == "PUT":
                dest = posixpath.normpath(query.get("destination", ""))
                if status is None or not dest.startswith("/"):
                    return self._json(200, {"boolean": False})
                tree.mkdirs(posixpath.dirname(dest))
                for table in (tree.files,):
                    for key in [k for k in table if k == path or k.startswith(path + "/")]:
                        table[dest + key[len(path) :]] = table.pop(key)
                for key in [d for d in tree.dirs if d == path or d.startswith(path + "/")]:
                    tree.dirs.discard(key)
                    tree.dirs.add(dest + key[len(path) :])
                return self._json(200, {"boolean": True})
            if op == "DELETE" and method == "DELETE":
                if status is None:
                    return self._json(200, {"boolean": False})
                if tree.children(path) and query.get("recursive") != "true":
                    return self._error(403, "PathIsNotEmptyDirectoryException", path)
                for key in [k for k in tree.files if k == path or k.startswith(path + "/")]:
                    del tree.files[key]
                tree.dirs = {d for d in tree.dirs if not (d == path or d.startswith(path + "/"))}
                tree.dirs.add("/")
                return self._json(200, {"boolean": True})
        self._error(400, "UnsupportedOperationException", f"{method} {op}")

    def _data(self, method: str, op: str, path: str, query: dict[str, str], data: bytes) -> None:
        tree = self.server.tree
        with tree.lock:
            if op == "CREATE" and method == "PUT":
                if path in tree.dirs:
                    return self._error(403, "FileAlreadyExistsException", path)
                tree.mkdirs(posixpath.dirname(path))
                tree.files[path] = bytearray(data)
                return self._send(201)
            if op == "APPEND" and method == "POST":
                tree.files[path].extend(data)
                return self._send(200)
            if op == "OPEN" and method == "GET":
                content = tree.files.get(path)
                if content is None:
                    return self._error(404, "FileNotFoundException", path)
                offset = int(query.get("offset") or 0)
                length = int(query.get("length") or len(content))
                return self._send(
                    200, bytes(content[offset : offset + length]), "application/octet-stream"
                )
        self._error(400, "UnsupportedOperationException", f"{method} {op}")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class WebHDFSServer(ThreadingHTTPServer):
    """Serve an in-memory tree over WebHDFS on ``127.0.0.1`` (port 0 picks a free one)."""

    daemon_threads = True

    def __init__(self, port: int = 0, allowed_users: tuple[str, ...] = ("hdfs",)) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.tree = _Tree()
        self.allowed_users = set(allowed_users)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The ``http://127.0.0.1:<port>`` address to give as ``hdfs_url``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> WebHDFSServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
