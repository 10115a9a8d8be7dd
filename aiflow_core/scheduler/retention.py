"""History retention: pruning finished executions, their logs and state, old events and explanations.

Pruning runs in bounded batches (one short transaction each) so it never holds
the database for long. It never touches an execution that has not finished,
nor an event the scheduler has not processed yet.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiflow_core.executors.tasklog import BLOB_LOGS, blob_log_prefix
from aiflow_core.ports import Store

log = logging.getLogger("aiflow.retention")


class Retention:
    """Prunes history older than ``horizon``; ``horizon=None`` keeps everything.

    An execution's logs (under ``log_dir``), its working copy of the
    snapshot (under ``working_dir``) and the logs remote workers uploaded to
    the blob store (``blob`` makes the blob manager when first needed) go
    with it.
    """

    def __init__(
        self, *, store: Store, clock: object, log_dir: Path, horizon: dt.timedelta | None, checkpoint: str,
        working_dir: Path | None = None, interval: dt.timedelta = dt.timedelta(hours=1), batch: int = 100,
        blob: Callable[[], Any] | None = None,
    ) -> None:
        self.store = store
        self._blob_factory = blob
        self._blob: Any = None
        self.clock = clock
        self.log_dir = log_dir
        self.working_dir = working_dir
        self.horizon = horizon if horizon else None
        self.checkpoint = checkpoint
        self.interval = interval
        self.batch = batch
        self._next: dt.datetime | None = None

    def run_if_due(self) -> int:
        """Prune when the interval has passed since the last run; returns how many rows went."""
        if self.horizon is None:
            return 0
        now: dt.datetime = self.clock.now()  # type: ignore[attr-defined]
        if self._next is not None and now < self._next:
            return 0
        self._next = now + self.interval
        return self.prune(now)

    def prune(self, now: dt.datetime) -> int:
        """Delete what ended before ``now - horizon``; returns the number of executions, events and explanations
        deleted."""
        if self.horizon is None:
            return 0
        before = now - self.horizon
        total = 0
        while True:
            with self.store.transaction(readonly=True) as tx:
                executions = tx.list_finished_workflow_executions(before, self.batch)
                signatures: dict[int, str | None] = {}  # by snapshot: executions of one workflow share theirs
                for snapshot_id in {execution.snapshot_id for execution in executions}:
                    snapshot = tx.get_snapshot(snapshot_id)
                    signatures[snapshot_id] = None if snapshot is None else snapshot.signature
                digests = {execution.id: signatures[execution.snapshot_id] for execution in executions}
            if not self._delete_blob_logs(digests):
                break  # the rows stay, so that their uploaded logs go with them next time
            with self.store.transaction() as tx:
                for execution in executions:
                    tx.delete_workflow_execution(execution.id)
            for execution in executions:
                shutil.rmtree(self.log_dir / execution.namespace / execution.workflow_name / str(execution.id),
                              ignore_errors=True)
                if self.working_dir is not None:  # its working copy: ``<id>-<snapshot digest>`` (``<id>`` before)
                    copies = self.working_dir / execution.namespace / execution.workflow_name
                    for path in [copies / str(execution.id), *copies.glob(f"{execution.id}-*")]:
                        shutil.rmtree(path, ignore_errors=True)
            total += len(executions)
            if len(executions) < self.batch:
                break
        while True:
            with self.store.transaction() as tx:
                processed = tx.get_checkpoint(self.checkpoint)
                deleted = tx.delete_events_before(processed, before, self.batch * 10)
            total += deleted
            if deleted < self.batch * 10:
                break
        while True:
            with self.store.transaction() as tx:
                deleted = tx.delete_explanations_before(before, self.batch * 10)
            total += deleted
            if deleted < self.batch * 10:
                break
        if total:
            log.info("history retention pruned %d executions, events and explanations older than %s", total, before)
        return total

    def _delete_blob_logs(self, digests: dict[int, str | None]) -> bool:
        """Delete the task logs remote workers uploaded for executions to prune (execution id -> snapshot
        digest); False if the blob store failed. A blob store holding no task logs at all costs one look."""
        if self._blob_factory is None or not digests:
            return True
        try:
            if self._blob is None:
                self._blob = self._blob_factory()
            if not self._blob.exists(BLOB_LOGS):
                return True
            for execution_id, digest in digests.items():
                self._blob.delete(blob_log_prefix(digest, execution_id))
        except Exception:
            log.exception("history retention could not delete the task logs of %d executions from the blob store; "
                          "it keeps them and their executions until the next pruning", len(digests))
            return False
        return True
