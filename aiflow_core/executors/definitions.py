"""Where a task's operator comes from when it runs.

As on the original AIFlow workers, the workflow file is run again from the
execution's working directory (made from its snapshot), so module-level
values such as ``os.path.dirname(__file__)`` point into that directory and the
task sees the artifacts uploaded with it. Without a working copy the pickled
workflow stored at upload is used.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable

from aiflow_core.errors import NotFoundError
from aiflow_core.executors.base import TaskJob
from aiflow_core.loader import load_workflows
from aiflow_core.model.operator import Operator
from aiflow_core.model.workflow import Workflow


class TaskDefinitions:
    """Loads each execution's working copy of a workflow file once and hands out its operators."""

    #: How many working copies stay loaded; the oldest is dropped first.
    MAX_FILES = 64

    def __init__(self) -> None:
        self._files: OrderedDict[str, dict[str, Workflow]] = OrderedDict()
        self._lock = threading.Lock()

    def operator(self, job: TaskJob, stored: Callable[[], Workflow]) -> Operator:
        """The operator of ``job``'s task; ``stored`` returns the pickled workflow when there is no file."""
        workflow = self._from_file(job.workflow_file, job.workflow_name) if job.workflow_file else None
        if workflow is None:
            workflow = stored()
        task = workflow.tasks.get(job.task_name)
        if task is None:
            raise NotFoundError("task", job.task_name, f"workflow {job.workflow_name!r} has {sorted(workflow.tasks)}")
        return task

    def _from_file(self, path: str, workflow_name: str) -> Workflow | None:
        if not os.path.isfile(path):
            return None
        with self._lock:
            workflows = self._files.get(path)
            if workflows is None:
                workflows = {w.name: w for w in load_workflows(path)}
                self._files[path] = workflows
                while len(self._files) > self.MAX_FILES:
                    self._files.popitem(last=False)
            else:
                self._files.move_to_end(path)
        return workflows.get(workflow_name)
