"""Files between tasks through the blob store, and the seed's blob snippet inside a task."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus, WorkflowStatus

WORKFLOW = """
import os
from pathlib import Path
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator
from aiflow_core.runtime.blob import task_blob

def produce(out):
    path = Path(out, "model.txt")
    path.write_text("weights v1")
    task_blob().upload(path, name="models/model.txt")

def consume(out):
    local = task_blob().download("models/model.txt", out)
    assert Path(local).read_text() == "weights v1"
    assert task_blob().list("models") == ["models/model.txt"]

def seed_snippet(out):
    from aiflow_core.context.project_context import current_project_config
    from aiflow_core.workflow.workflow import WorkflowPropertyKeys
    from aiflow_core.plugin_interface.blob_manager_interface import BlobConfig, BlobManagerFactory

    Path(out, "file").write_text("from the seed snippet")
    blob_config = BlobConfig(current_project_config().get(WorkflowPropertyKeys.BLOB))
    blob_manager = BlobManagerFactory.create_blob_manager(blob_config.blob_manager_class(),
                                                          blob_config.blob_manager_config())
    uri = blob_manager.upload(local_file_path=os.path.join(out, "file"))
    Path(out, "uri").write_text(uri)

with Workflow(name="files") as w:
    producer = PythonOperator(name="producer", python_callable=produce, op_args=[{out!r}])
    consumer = PythonOperator(name="consumer", python_callable=consume, op_args=[{out!r}])
    snippet = PythonOperator(name="snippet", python_callable=seed_snippet, op_args=[{out!r}])
    consumer.start_after(producer)
"""


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_tasks_share_files_through_the_engines_blob_store(tmp_path: Path, executor: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "wf.py").write_text(WORKFLOW.format(out=str(out)))
    blob_root = tmp_path / "blob-root"
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", blob=str(blob_root), executor=executor) as engine:
        engine.upload_workflows(str(tmp_path / "wf.py"))
        execution = engine.start_workflow_execution("files")
        final = engine.wait_for_workflow_execution(execution, timeout=60)
        errors = {t.task_name: t.error for t in engine.list_task_executions(execution)}
        assert final.status is WorkflowStatus.SUCCESS, errors
        assert {t.status for t in engine.list_task_executions(execution)} == {TaskStatus.SUCCESS}
    assert (blob_root / "namespaces" / "default" / "files" / "models" / "model.txt").read_text() == "weights v1"
    uri = (out / "uri").read_text()
    assert str(blob_root) in uri
