"""Files between tasks: the configured blob store, seen from inside a running task."""

from __future__ import annotations

from typing import Any

from aiflow_core.runtime.context import current_runtime, runtime_or_none


def active_blob_spec() -> Any:
    """The blob configuration of the running task's engine, or None outside a task."""
    runtime = runtime_or_none()
    return None if runtime is None else runtime.blob_spec


def task_blob() -> Any:
    """The blob store of the running task's engine, confined to the workflow's namespace.

    Returns an ``aiflow_storage.blob.NamespacedBlob`` with ``upload(path,
    name=None)``, ``download(name_or_uri, local_dir)`` and ``list(prefix="")``:
    one task uploads a file, another of the same namespace downloads it. In a
    worker process, which holds no blob credentials, the same calls go to the
    engine over the attempt's channel (an
    :class:`~aiflow_core.runtime.attempt_blob.AttemptBlob`).
    """
    from aiflow_core.runtime.attempt_blob import CHANNEL_BLOB_SPEC, AttemptBlob
    from aiflow_storage.blob import NamespacedBlob, create_blob_manager

    runtime = current_runtime()
    spec = runtime.blob_spec
    if spec == CHANNEL_BLOB_SPEC:
        return AttemptBlob(runtime.client)
    if spec is None:
        from aiflow_core.config import load_config

        spec = load_config().blob_manager
    return NamespacedBlob(create_blob_manager(spec), runtime.namespace)
