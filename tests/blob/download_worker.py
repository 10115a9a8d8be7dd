"""A worker process for the concurrent download tests.

Usage: python download_worker.py MANAGER_CLASS CONFIG_JSON URI LOCAL_DIR SHA256 ROUNDS GO_FILE

Waits for GO_FILE (so that every worker starts at once), then downloads URI
into LOCAL_DIR ROUNDS times, checking after each download that the returned
file holds the whole blob. Prints ``ok`` or the first error and exits 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time

from aiflow_storage.blob import BlobManagerFactory


def main() -> int:
    class_name, config, uri, local_dir, digest, rounds, go_file = sys.argv[1:8]
    blob = BlobManagerFactory.create_blob_manager(class_name, json.loads(config))
    while not os.path.exists(go_file):
        time.sleep(0.001)
    for _ in range(int(rounds)):
        try:
            path = blob.download(uri, local_dir)
            with open(path, "rb") as copy:
                got = hashlib.sha256(copy.read()).hexdigest()
        except Exception as exc:
            print(f"{type(exc).__name__}: {exc}", flush=True)
            return 1
        if got != digest:
            print(f"{path} holds sha256 {got}, expected {digest}", flush=True)
            return 1
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
