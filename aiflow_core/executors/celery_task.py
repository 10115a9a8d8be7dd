"""What the spares of a Celery worker run: the task of one assignment, from its execution's working copy.

This module is all a worker's zygote imports (see
:mod:`aiflow_core.executors.spare`): what the task side needs and nothing of
Celery or of the worker's supervision (:mod:`aiflow_core.executors.celery_worker`),
so that the zygote, and every spare it forks, stays small. What the spares use
is imported here, once: a spare would import (and compile) it anew each time.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Any

from aiflow_core.errors import WorkflowLoadError
from aiflow_core.executors.base import TaskJob, run_task
from aiflow_core.executors.definitions import TaskDefinitions
from aiflow_core.executors.remote import RemoteAttemptClient, RemoteChannel
from aiflow_core.executors.worker import blob_secrets_mask
from aiflow_core.operators.bash import OWN_GROUP_ENV
from aiflow_core.runtime.context import TaskRuntime

#: The operators of the workflow files this process loaded (the spares a zygote forks inherit them).
_DEFINITIONS = TaskDefinitions()


@functools.lru_cache(maxsize=1)
def blob_spec() -> Any:
    """The worker's blob configuration (its own ``aiflow.yaml`` or ``AIFLOW_BLOB_URL``), read once."""
    from aiflow_core.config import load_config

    return load_config().blob_manager


@functools.lru_cache(maxsize=1)
def _mask() -> Any:
    """What masks the worker's blob credentials in task logs, made once."""
    return blob_secrets_mask(blob_spec())


def _job(assignment: dict[str, Any]) -> TaskJob:
    return TaskJob(**assignment["job"], working_dir=assignment["working_dir"],
                   workflow_file=assignment["workflow_file"], log_path=assignment["log_path"])


def _operator(job: TaskJob) -> Any:
    """The operator of ``job``'s task, from its working copy's workflow file (loaded once per file and
    process; a spare inherits what its zygote loaded). Nothing pickled is ever taken from the network: a
    worker runs only code of snapshots in the blob store, verified by their SHA-256."""

    def no_file() -> Any:
        raise WorkflowLoadError(
            f"the snapshot of workflow {job.workflow_name!r} holds no workflow file: the celery executor "
            "runs workflows uploaded from a file (upload_workflows)"
        )

    return _DEFINITIONS.operator(job, no_file)


def warm(assignment: dict[str, Any]) -> None:  # pragma: no cover - runs in the zygote
    """Load what the spares forked later inherit: the blob configuration and its mask, and the workflow file
    of ``assignment`` (an empty one: nothing more)."""
    _mask()
    if assignment:
        _operator(_job(assignment))


def run_assignment(assignment: dict[str, Any]) -> tuple[str, str | None]:  # pragma: no cover - in the spare
    """Run the task an assignment names, in the spare that took it (see :mod:`aiflow_core.executors.spare`)."""
    os.environ[OWN_GROUP_ENV] = "1"
    job = _job(assignment)
    try:
        operator = _operator(job)
    except Exception:
        failure = traceback.format_exc()
        sys.stderr.write("*** the task could not be prepared\n" + failure)
        last = failure.strip().splitlines()[-1] if failure.strip() else "unknown error"
        return "FAILED", f"task could not be prepared: {last}"
    if job.working_dir and os.path.isdir(job.working_dir):
        os.chdir(job.working_dir)
        sys.path.insert(0, job.working_dir)
    channel = RemoteChannel(assignment["channel"], assignment["token"])
    runtime = TaskRuntime(
        namespace=job.namespace, workflow_name=job.workflow_name,
        workflow_execution_id=job.workflow_execution_id, task_name=job.task_name,
        task_execution_id=job.task_execution_id, sequence_number=job.sequence_number,
        client_factory=functools.partial(RemoteAttemptClient, channel), wake=lambda: None, blob_spec=blob_spec(),
        mask=_mask(),
    )
    status, error = run_task(job, operator, runtime, isolated=True)
    return status.value, error
