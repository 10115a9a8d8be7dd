"""Spares forked ahead by a zygote: one attempt per process, in a session of its own, ended by a signal alone."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from aiflow_core.executors import spare as spares
from aiflow_core.executors.spare import Zygote


def _run(assignment: dict[str, Any]) -> tuple[str, str | None]:
    """What a spare runs in these tests: prints, notes its process, then does what the assignment says."""
    print("hello from", os.getpid(), flush=True)
    Path(assignment["note"]).write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0),
                                                    "sid": os.getsid(0), "loaded": sorted(_LOADED)}))
    if assignment.get("sleep"):
        time.sleep(assignment["sleep"])
    return "SUCCESS", None


_LOADED: set[str] = set()


def _warm(assignment: dict[str, Any]) -> None:
    _LOADED.add(assignment["name"])


def _result(fd: int, timeout: float = 30.0) -> bytes:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
    os.close(fd)
    return b"".join(chunks)


@pytest.fixture
def zygote(tmp_path: Path) -> Any:
    made = Zygote(tmp_path / "logs", _run, _warm)
    yield made
    made.close()
    os.waitpid(made.pid, 0)  # it exits once its socket closes


def test_each_attempt_gets_a_fresh_process_in_its_own_session(zygote: Zygote, tmp_path: Path) -> None:
    seen = []
    for index in range(3):
        spare = zygote.spare()
        log_path = tmp_path / f"{index}.log"
        spare.assign({"note": str(tmp_path / f"{index}.json"), "log_path": str(log_path), "name": f"w{index}"})
        zygote.warm({"name": f"w{index}"})
        zygote.ask()
        assert json.loads(_result(spare.result_fd)) == {"status": "SUCCESS", "error": None}
        note = json.loads((tmp_path / f"{index}.json").read_text())
        assert note["pid"] == spare.pid
        assert note["pgid"] == note["sid"] == spare.pid  # its own session: a STOP's signal reaches it alone
        assert note["pid"] not in (os.getpid(), zygote.pid)
        assert log_path.read_text() == f"hello from {spare.pid}\n"  # its output went to the attempt's log
        # What the zygote loaded after the earlier attempts, this spare inherited (it was forked after).
        assert note["loaded"] == [f"w{earlier}" for earlier in range(index)]
        seen.append(spare.pid)
    assert len(set(seen)) == 3


def test_a_signal_ends_only_its_spare_and_the_zygote_reports_how(zygote: Zygote, tmp_path: Path) -> None:
    spare = zygote.spare()
    spare.assign({"note": str(tmp_path / "n.json"), "log_path": str(tmp_path / "a.log"), "sleep": 60, "name": "a"})
    deadline = time.monotonic() + 30
    while not (tmp_path / "n.json").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(spare.pid, signal.SIGTERM)
    assert _result(spare.result_fd) == b""  # ended without a result
    status = zygote.status(spare.pid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
    # The zygote lives on and forks the next attempt's spare.
    after = zygote.spare()
    after.assign({"note": str(tmp_path / "m.json"), "log_path": str(tmp_path / "b.log"), "name": "b"})
    assert json.loads(_result(after.result_fd))["status"] == "SUCCESS"
    assert after.pid != spare.pid


def test_a_zygote_that_died_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spares, "_ZYGOTE", None)
    first = spares.zygote(tmp_path / "logs", _run, _warm)
    os.kill(first.pid, signal.SIGKILL)
    os.waitpid(first.pid, 0)
    spare = spares.take_spare(tmp_path / "logs", _run, _warm)
    assert spares.zygote(tmp_path / "logs", _run, _warm) is not first
    spare.assign({"note": str(tmp_path / "n.json"), "log_path": str(tmp_path / "c.log"), "name": "c"})
    assert json.loads(_result(spare.result_fd))["status"] == "SUCCESS"
    second = spares.zygote(tmp_path / "logs", _run, _warm)
    second.close()
    os.waitpid(second.pid, 0)
