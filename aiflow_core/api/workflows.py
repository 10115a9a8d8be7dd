"""Client operations on namespaces, workflows and workflow snapshots."""

from __future__ import annotations

import functools
import types
from pathlib import Path
from typing import Any

from aiflow_core import serialization
from aiflow_core.api.base import ClientBase, check_id, check_limit_offset
from aiflow_core.errors import InvalidArgumentError, InvalidStateError, InvalidWorkflowError, NotFoundError
from aiflow_core.loader import imported_from, load_workflows, local_modules
from aiflow_core.model.meta import NamespaceMeta, WorkflowMeta, WorkflowSnapshotMeta
from aiflow_core.model.names import check_name
from aiflow_core.model.status import WorkflowStatus

_ALIVE = [WorkflowStatus.INIT, WorkflowStatus.RUNNING]


class WorkflowOps(ClientBase):
    """Namespaces, workflows and their snapshots."""

    # -- namespaces --
    def add_namespace(self, name: str, properties: dict[str, Any] | None = None) -> NamespaceMeta:
        """Create a namespace; raises AlreadyExistsError if it exists."""
        check_name("namespace", name)
        if properties is not None and not isinstance(properties, dict):
            raise InvalidArgumentError(f"namespace properties must be a dict, got {properties!r}")
        with self._tx() as tx:
            return tx.add_namespace(name, dict(properties or {}))

    def get_namespace(self, name: str) -> NamespaceMeta | None:
        """Return the namespace, or None."""
        with self._tx(readonly=True) as tx:
            return tx.get_namespace(name)

    def list_namespace(self, limit: int | None = None, offset: int | None = None) -> list[NamespaceMeta]:
        """Return the namespaces ordered by name."""
        check_limit_offset(limit, offset)
        with self._tx(readonly=True) as tx:
            return tx.list_namespaces(limit, offset)

    list_namespaces = list_namespace

    def update_namespace(self, name: str, properties: dict[str, Any]) -> NamespaceMeta:
        """Replace the properties of a namespace."""
        if not isinstance(properties, dict):
            raise InvalidArgumentError(f"namespace properties must be a dict, got {properties!r}")
        with self._tx() as tx:
            updated = tx.update_namespace(name, properties)
        if updated is None:
            raise NotFoundError("namespace", name)
        return updated

    def delete_namespace(self, name: str, force: bool = False) -> None:
        """Delete a namespace; refused while it holds workflows unless ``force``.

        With ``force`` its workflows are deleted too (refused while one of them
        has a running execution). The ``default`` namespace cannot be deleted.
        """
        if name == "default":
            raise InvalidStateError("the 'default' namespace cannot be deleted")
        with self._tx() as tx:
            self._namespace_exists(tx, name)
            workflows = tx.list_workflows(name, None, None)
            if workflows and not force:
                raise InvalidStateError(
                    f"namespace {name!r} holds {len(workflows)} workflow(s) "
                    f"({', '.join(w.name for w in workflows[:5])}); delete them first or pass force=True"
                )
            for workflow in workflows:
                self._delete_workflow(tx, workflow)
            tx.delete_namespace(name)

    # -- workflows --
    @functools.cached_property
    def _snapshots(self) -> Any:
        from aiflow_storage.blob import SnapshotStore, create_blob_manager

        return SnapshotStore(create_blob_manager(self.blob_spec), self.home / "snapshots")

    def upload_workflows(self, workflow_file_path: str, artifacts: list[str] | None = None) -> list[WorkflowMeta]:
        """Upload every workflow defined in a file, with the files it needs.

        The file runs once here; each workflow is stored as a new snapshot (the
        file plus ``artifacts``, content-addressed in the blob store, and the
        pickled workflow). The modules and packages beside the file that it
        imports (see :func:`~aiflow_core.loader.local_modules`) are shipped
        with it unless ``artifacts`` holds a file of the same name, so tasks
        can import them wherever they run. Running executions keep the
        snapshot they began with.
        """
        from aiflow_storage.blob import pack_snapshot

        if artifacts is not None and (isinstance(artifacts, str) or not isinstance(artifacts, list)):
            raise InvalidArgumentError(f"artifacts must be a list of paths, got {artifacts!r}")
        for artifact in artifacts or []:
            if not Path(artifact).exists():
                raise NotFoundError("artifact", str(artifact), "check the path")
        workflows = load_workflows(workflow_file_path, self.config.workflow_load_timeout)
        modules = local_modules(workflow_file_path)
        shipped = [*(artifacts or []), *map(str, local_modules(workflow_file_path, artifacts or []))]
        content = Path(workflow_file_path).read_text(encoding="utf-8")
        with self._tx(readonly=True) as tx:
            for workflow in workflows:
                self._namespace_exists(tx, workflow.namespace)
        frames = {w.name: _pickled(w, workflow_file_path, imported_from(modules)) for w in workflows}
        with pack_snapshot(workflow_file_path, shipped) as archive:
            uri = self._snapshots.upload(archive)
            digest = archive.digest
        now = self.now()
        stored: list[WorkflowMeta] = []
        with self._tx() as tx:
            for workflow in workflows:
                meta = tx.put_workflow(workflow.namespace, workflow.name, content, now)
                tx.add_snapshot(meta.id, uri, digest, frames[workflow.name], now)
                refreshed = tx.get_workflow_by_id(meta.id)
                assert refreshed is not None
                stored.append(refreshed)
        return stored

    def get_workflow(self, workflow_name: str, namespace: str = "default") -> WorkflowMeta | None:
        """Return the workflow, or None."""
        with self._tx(readonly=True) as tx:
            return tx.get_workflow(namespace, workflow_name)

    def list_workflows(
        self, namespace: str = "default", limit: int | None = None, offset: int | None = None
    ) -> list[WorkflowMeta]:
        """Return the workflows of a namespace, oldest first (re-uploading keeps a workflow's place)."""
        check_limit_offset(limit, offset)
        with self._tx(readonly=True) as tx:
            self._namespace_exists(tx, namespace)
            return tx.list_workflows(namespace, limit, offset)

    def disable_workflow(self, workflow_name: str, namespace: str = "default") -> None:
        """Start nothing new for the workflow; running executions go on."""
        with self._tx() as tx:
            tx.set_workflow_enabled(self._workflow(tx, workflow_name, namespace).id, False, self.now())

    def enable_workflow(self, workflow_name: str, namespace: str = "default") -> None:
        """Allow the workflow to start again."""
        with self._tx() as tx:
            tx.set_workflow_enabled(self._workflow(tx, workflow_name, namespace).id, True, self.now())

    def delete_workflow(self, workflow_name: str, namespace: str = "default") -> None:
        """Delete the workflow with its executions, schedules, triggers, snapshots and state.

        Refused while one of its executions is alive.
        """
        with self._tx() as tx:
            self._delete_workflow(tx, self._workflow(tx, workflow_name, namespace))

    @staticmethod
    def _delete_workflow(tx: Any, workflow: WorkflowMeta) -> None:
        alive = tx.list_workflow_executions(workflow.id, statuses=_ALIVE)
        if alive:
            raise InvalidStateError(
                f"workflow {workflow.namespace}.{workflow.name} has {len(alive)} execution(s) still "
                f"running (ids {[e.id for e in alive][:10]}); stop them first"
            )
        tx.delete_workflow(workflow.id)

    def get_workflow_definition(self, workflow_name: str, namespace: str = "default") -> Any:
        """Return the :class:`~aiflow_core.model.workflow.Workflow` of the workflow's latest snapshot."""
        with self._tx(readonly=True) as tx:
            workflow = self._workflow(tx, workflow_name, namespace)
            frame = tx.get_snapshot_object(workflow.snapshot_id) if workflow.snapshot_id is not None else None
        if frame is None:
            raise NotFoundError("workflow snapshot", f"{namespace}.{workflow_name}", "upload the workflow again")
        return serialization.loads(frame)

    # -- snapshots --
    def get_workflow_snapshot(self, snapshot_id: int) -> WorkflowSnapshotMeta | None:
        """Return the snapshot, or None."""
        with self._tx(readonly=True) as tx:
            return tx.get_snapshot(check_id("snapshot", snapshot_id))

    def list_workflow_snapshots(
        self, workflow_name: str, namespace: str = "default", limit: int | None = None, offset: int | None = None
    ) -> list[WorkflowSnapshotMeta]:
        """Return the snapshots of a workflow, oldest first (as AIFlow pages them)."""
        check_limit_offset(limit, offset)
        with self._tx(readonly=True) as tx:
            return tx.list_snapshots(self._workflow(tx, workflow_name, namespace).id, limit, offset)

    def delete_workflow_snapshot(self, snapshot_id: int) -> None:
        """Delete a snapshot; refused while an execution uses it."""
        with self._tx() as tx:
            if tx.get_snapshot(check_id("snapshot", snapshot_id)) is None:
                raise NotFoundError("workflow snapshot", snapshot_id)
            if not tx.delete_snapshot(snapshot_id):
                raise InvalidStateError(f"workflow snapshot {snapshot_id} is used by an execution")

    def delete_workflow_snapshots(self, workflow_name: str, namespace: str = "default") -> None:
        """Delete every snapshot of a workflow that no execution uses."""
        with self._tx() as tx:
            workflow = self._workflow(tx, workflow_name, namespace)
            for snapshot in tx.list_snapshots(workflow.id, None, None):
                tx.delete_snapshot(snapshot.id)


def _pickled(workflow: Any, path: str, by_value: list[types.ModuleType]) -> bytes:
    """Pickle a workflow for storage; a task holding an unpicklable object names the workflow.

    Functions and classes of ``by_value`` (the local modules the file imports)
    are stored by value, so the scheduler loads the workflow without them.
    """
    try:
        return serialization.dumps(workflow, by_value)
    except Exception as exc:
        raise InvalidWorkflowError(
            f"workflow {workflow.name!r} of {str(path)!r} cannot be stored: {type(exc).__name__}: {exc}; "
            "tasks must not hold locks, sockets, open files or other objects that cannot be pickled"
        ) from exc
