"""A worker process for the snapshot cache tests.

Usage: python snapshot_worker.py MODE CACHE ROOT COUNT_FILE URI DIGEST [GO_FILE]

MODE is ``materialize`` (print the tree's path), ``kill-during-extract``
(a watcher thread SIGKILLs the process as soon as the first extracted file
appears) or ``kill-during-download`` (the plugin dies half-way through the
fetch). With GO_FILE, the worker waits for that file before starting, so
several workers start at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

from counting import PROTOCOL, CountingPersistence

from aiflow_storage.blob import FsspecBlobManager, SnapshotStore, register_persistence_plugin


def _kill_when_extracting(cache: Path, digest: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for tmp in cache.glob(f".tmp-{digest}-*"):
            tree = tmp / "tree"
            try:
                if tree.is_dir() and any(tree.iterdir()):
                    os.kill(os.getpid(), signal.SIGKILL)
            except FileNotFoundError:
                pass
        time.sleep(0.0005)


def main() -> None:
    mode, cache, root, count_file, uri, digest = sys.argv[1:7]
    go_file = sys.argv[7] if len(sys.argv) > 7 else None
    register_persistence_plugin(f"{PROTOCOL}://", CountingPersistence)
    options = {"count_file": count_file, "die_during_get": mode == "kill-during-download"}
    blob = FsspecBlobManager({"url": f"{PROTOCOL}://{root}", "storage_options": options})
    store = SnapshotStore(blob, Path(cache))
    if go_file:
        while not os.path.exists(go_file):
            time.sleep(0.001)
    if mode == "kill-during-extract":
        threading.Thread(
            target=_kill_when_extracting, args=(Path(cache), digest), daemon=True
        ).start()
    print(store.materialize(uri, digest), flush=True)


if __name__ == "__main__":
    main()
