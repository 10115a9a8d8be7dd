"""Task processes forked ahead of their attempts, so that an attempt does not wait for a fork.

A Celery worker process (see :mod:`aiflow_core.executors.celery_worker`)
starts, when it starts, a :class:`Zygote`: a quiet process that only forks
spares. A spare has already made its session, reset its signals, started the
watch on its parent and opened a log file, and waits for an assignment on a
pipe. Each spare runs exactly one attempt and then exits: a STOP (SIGTERM,
then SIGKILL, to the spare's process group) ends that task only, and no
process that received a signal ever runs another task.

The zygote is a fresh interpreter, not a fork of the worker process: it
imports only what a task needs (the module of its runner), not Celery, the
broker's connection or the worker's state, so it is about half the worker
process's size, and a fork and an exit cost in proportion (page tables,
pages copied on write, the unmapping at exit). It does nothing between
forks, so neither it nor its spares pay for copying pages the other writes,
and the worker asks for the next spare while the current task runs. After
each attempt the worker asks the zygote to load the attempt's workflow file
(``warm``), so that later spares inherit it and start the task's body at
once. The runner and the warmer are named by reference (module and name),
so they must be module-level functions.

The zygote talks with its worker process over a Unix socket of datagrams
(JSON requests; a spare's pipes travel as file descriptors). Assignments and
results are JSON on the spare's pipes; nothing received from the network is
ever unpickled.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiflow_core.errors import InvalidArgumentError, InvalidStateError
from aiflow_core.executors.worker import watch_parent
from aiflow_core.homefiles import open_private, private_dir

#: What a spare runs once assigned: the assignment in, the final status and error out.
Runner = Callable[[dict[str, Any]], "tuple[str, str | None]"]
#: What the zygote does with an assignment after it ran: load what later spares should inherit.
Warmer = Callable[[dict[str, Any]], None]

_MAX_REQUEST = 1 << 20
#: How many exit statuses of its spares a zygote keeps for its worker to ask about.
_KEPT_STATUSES = 64


class Spare:
    """A spare as its worker process sees it: its pid, the pipe to assign it and the pipe of its result."""

    def __init__(self, pid: int, assign_fd: int, result_fd: int) -> None:
        self.pid = pid
        self._assign_fd = assign_fd
        self.result_fd = result_fd

    def assign(self, assignment: dict[str, Any]) -> None:
        """Hand the spare its attempt; raises OSError when it is gone (it died waiting)."""
        data = json.dumps(assignment).encode()
        try:
            while data:
                data = data[os.write(self._assign_fd, data):]
        finally:
            os.close(self._assign_fd)

    def discard(self) -> None:
        """Give up an unassigned spare: it exits when its assignment pipe closes."""
        for fd in (self._assign_fd, self.result_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class Zygote:
    """The process that forks the spares of one worker process; see the module docstring."""

    def __init__(self, log_dir: Path, run: Runner, warm: Warmer) -> None:
        private_dir(log_dir)
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            setup = {"log_dir": str(log_dir), "run": _reference(run), "warm": _reference(warm), "path": sys.path,
                     "fd": theirs.fileno()}
            # Started, not forked: the zygote's requests are answered once it has imported its runner (the first
            # spare waits for that).
            self._process = subprocess.Popen([sys.executable, "-c", _ZYGOTE_ENTRY, json.dumps(setup)],
                                             pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self.pid = self._process.pid
        self.owner = os.getpid()
        self._asked = 0  # spares asked for and not yet received
        self._received: list[Spare] = []
        # Requests and their answers pair up in order: one caller at a time (a worker's thread pool shares it).
        self._lock = threading.RLock()

    def ask(self) -> None:
        """Ask for a spare now (it is forked while the caller goes on); :meth:`spare` receives it."""
        with self._lock:
            self._send({"op": "spare"})
            self._asked += 1

    def spare(self) -> Spare:
        """A spare: one asked for earlier, or one forked now."""
        with self._lock:
            if self._received:
                return self._received.pop(0)
            if not self._asked:
                self.ask()
            return self._receive()

    def _receive(self) -> Spare:
        message, fds, _, _ = socket.recv_fds(self._sock, _MAX_REQUEST, 2)
        self._asked -= 1
        if not message or len(fds) != 2:
            raise InvalidStateError(f"the zygote {self.pid} of this worker process ended")
        return Spare(int(json.loads(message)["pid"]), fds[0], fds[1])

    def warm(self, assignment: dict[str, Any]) -> None:
        """Have the zygote load what ``assignment`` needs, for the spares it forks later."""
        with self._lock:
            self._send({"op": "warm", "assignment": assignment})

    def status(self, pid: int) -> int:
        """The wait status of the spare ``pid``, which has ended (its result pipe closed)."""
        with self._lock:
            while self._asked:  # answers come in order: keep the spares asked for first
                self._received.append(self._receive())
            self._send({"op": "status", "pid": pid})
            return int(json.loads(self._sock.recv(_MAX_REQUEST))["status"])

    def _send(self, request: dict[str, Any]) -> None:
        self._sock.send(json.dumps(request).encode())

    def close(self) -> None:
        """End the zygote (it exits when its socket closes); spares running go on."""
        self._sock.close()


def _reference(function: Callable[..., Any]) -> str:
    """``module:name`` of a module-level function, which the zygote imports."""
    reference = f"{function.__module__}:{function.__qualname__}"
    if "<" in function.__qualname__ or function.__module__ == "__main__":
        raise InvalidArgumentError(f"a zygote's runner and warmer are module-level functions of an importable "
                                   f"module, not {reference}")
    return reference


def _resolve(reference: str) -> Any:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


# What the zygote's interpreter runs: its signals first (a Ctrl-C to the worker's group while it imports must not
# end it), then the worker process's import path, then :func:`zygote_main`.
_ZYGOTE_ENTRY = (
    "import json, signal, sys\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "setup = json.loads(sys.argv[1])\n"
    "sys.path[:] = setup['path']\n"
    "from aiflow_core.executors.spare import zygote_main\n"
    "zygote_main(setup)\n"
)


def zygote_main(setup: dict[str, Any]) -> None:  # pragma: no cover - runs in the zygote, which ends with os._exit
    """The zygote's own process: serve the worker process's requests until it is gone; never returns.

    Only the loss of its worker process (its socket closing) ends the zygote: a signal to the worker's group
    leaves it, as it leaves the worker process, to finish the tasks running."""
    code = 1
    try:
        sock = socket.socket(fileno=int(setup["fd"]))
        log_dir = Path(setup["log_dir"])
        run, warm = _resolve(setup["run"]), _resolve(setup["warm"])
        gc.collect()
        statuses: collections.OrderedDict[int, int] = collections.OrderedDict()
        while request := sock.recv(_MAX_REQUEST):
            _reap(statuses)
            message = json.loads(request)
            if message["op"] == "spare":
                _fork_spare(sock, log_dir, run)
            elif message["op"] == "warm":
                with contextlib.suppress(Exception):
                    warm(message["assignment"])
            elif message["op"] == "status":
                pid = int(message["pid"])
                if pid not in statuses:
                    with contextlib.suppress(ChildProcessError):
                        statuses[pid] = os.waitpid(pid, 0)[1]
                sock.send(json.dumps({"status": statuses.pop(pid, 0)}).encode())
        code = 0
    except BaseException:
        traceback.print_exc()  # to the worker's log: why its zygote ended (its next attempt starts another)
    finally:
        os._exit(code)


def _reap(statuses: collections.OrderedDict[int, int]) -> None:  # pragma: no cover - in the zygote
    """Collect the spares that ended, keeping their last few statuses."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        statuses[pid] = status
        while len(statuses) > _KEPT_STATUSES:
            statuses.popitem(last=False)


def _fork_spare(sock: socket.socket, log_dir: Path, run: Runner) -> None:  # pragma: no cover - in the zygote
    assign_r, assign_w = os.pipe()
    result_r, result_w = os.pipe()
    zygote = os.getpid()
    # The spare's collector then leaves what it inherited alone (fewer copied pages); the zygote makes no garbage
    # worth collecting.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        os.close(assign_w)
        os.close(result_r)
        sock.close()
        _spare_main(assign_r, result_w, log_dir, zygote, run)
    os.close(assign_r)
    os.close(result_w)
    try:
        socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [assign_w, result_r])
    finally:
        os.close(assign_w)
        os.close(result_r)


def _spare_main(assign_r: int, result_w: int, log_dir: Path, parent: int,
                run: Runner) -> None:  # pragma: no cover - runs in the forked spare, which ends with os._exit
    """The spare's own process: waits for its assignment, runs it, writes the result line; never returns."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
        spare_log = log_dir / f".spare-{os.getpid()}.log"
        log_fd = open_private(spare_log, os.O_WRONLY | os.O_APPEND | os.O_TRUNC)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        chunks = []
        while chunk := os.read(assign_r, 65536):
            chunks.append(chunk)
        if not chunks:  # given up, or its zygote ended
            spare_log.unlink()
            code = 0
            return
        assignment = json.loads(b"".join(chunks))
        os.rename(spare_log, assignment["log_path"])
        status, error = run(assignment)
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(result_w, json.dumps({"status": status, "error": error}).encode() + b"\n")
        code = 0
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(result_w, json.dumps({"status": "FAILED", "error": f"{type(exc).__name__}: {exc}"}).encode()
                     + b"\n")
    finally:
        os._exit(code)


#: This worker process's zygote (a forked child has none of its own).
_ZYGOTE: Zygote | None = None
_ZYGOTE_LOCK = threading.Lock()


def zygote(log_dir: Path, run: Runner, warm: Warmer) -> Zygote:
    """This process's zygote, started now if it has none."""
    global _ZYGOTE
    with _ZYGOTE_LOCK:
        if _ZYGOTE is None or _ZYGOTE.owner != os.getpid():
            _ZYGOTE = Zygote(log_dir, run, warm)
        return _ZYGOTE


def take_spare(log_dir: Path, run: Runner, warm: Warmer) -> Spare:
    """A spare for this process's next attempt; a zygote that ended is replaced once."""
    global _ZYGOTE
    current = zygote(log_dir, run, warm)
    try:
        return current.spare()
    except (OSError, ValueError, InvalidStateError):
        current.close()
        with _ZYGOTE_LOCK:
            if _ZYGOTE is current:
                _ZYGOTE = None
        return zygote(log_dir, run, warm).spare()
