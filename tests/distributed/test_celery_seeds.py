"""The seed's quickstart and tutorial on Celery workers, unchanged but for the executor; the worker holds no key."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from seeds.support import ExampleRunner
from seeds.test_quickstart import _run_quickstart
from seeds.test_tutorial import run_tutorial

from aiflow_core import Engine
from aiflow_core.executors.tasklog import blob_log_key, blob_log_prefix
from aiflow_core.model.status import TaskStatus, WorkflowStatus

from .conftest import Workers, celery_engine

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*penalty.*:FutureWarning"),
    pytest.mark.filterwarnings("ignore:Inconsistent values:UserWarning"),
    pytest.mark.filterwarnings("ignore:Precision is ill-defined"),
]


def test_quickstart_on_celery_workers(engine: Engine) -> None:
    _run_quickstart(ExampleRunner(engine))


@pytest.fixture
def sharing_workers(workers: Workers, tmp_path: Path) -> Iterator[Workers]:
    """Two workers on a queue of their own whose working copies are on one shared volume (one home), which
    find their broker in that home's ``aiflow.yaml``."""
    queue = f"aiflow-tutorial-{uuid.uuid4().hex[:8]}"
    group = Workers(broker=workers.broker, broker_url=workers.broker_url, queue=queue, blob=workers.blob,
                    root=tmp_path / "workers", concurrency=3, shared_home=tmp_path / "shared", broker_in_config=True)
    with group.started("t1", "t2"):
        yield group


def test_tutorial_on_celery_workers(sharing_workers: Workers, tmp_path: Path) -> None:
    # The tutorial's tasks hand each other files through their execution's working directory (models, the
    # prepared data, the predictions): on many machines that directory is on a volume they share.
    assert sharing_workers.shared_home is not None
    with celery_engine(tmp_path, sharing_workers) as engine:
        run_tutorial(ExampleRunner(engine), tmp_path, sharing_workers.shared_home / "working_dir")


def test_the_worker_has_no_database_url_and_the_log_is_read_from_the_blob_store(
    engine: Engine, workers: Workers, tmp_path: Path
) -> None:
    workflow_file = tmp_path / "probe.py"
    workflow_file.write_text(
        "import os\n"
        "from aiflow_core import Workflow, PythonOperator\n"
        "def probe():\n"
        "    print('home', os.environ['AIFLOW_HOME'])\n"
        "    print('db', os.environ.get('AIFLOW_DB_URL'))\n"
        "with Workflow(name='probe') as w:\n"
        "    PythonOperator(name='probe', python_callable=probe)\n"
    )
    engine.upload_workflows(str(workflow_file))
    wid = engine.start_workflow_execution("probe")
    assert engine.wait_for_workflow_execution(wid, timeout=60).status is WorkflowStatus.SUCCESS
    [run] = engine.list_task_executions(wid)
    text = engine.read_task_execution_log(run.id).text
    assert "db None" in text
    homes = {w.home for w in workers.members}
    assert any(f"home {home}" in text for home in homes), text
    # Another machine has no copy of the log beside it: it reads the one the worker uploaded.
    assert run.log_path is not None
    os.unlink(run.log_path)
    remote = engine.read_task_execution_log(run.id)
    assert "db None" in remote.text and remote.complete
    assert remote.path.endswith(f"/{wid}/{run.id}.log") and "task_logs/" in remote.path
    assert run.status is TaskStatus.SUCCESS


def test_history_retention_deletes_the_logs_workers_uploaded_with_their_executions(
    engine: Engine, tmp_path: Path
) -> None:
    workflow_file = tmp_path / "talk.py"
    workflow_file.write_text(
        "from aiflow_core import Workflow, PythonOperator\n"
        "with Workflow(name='talk') as w:\n"
        "    PythonOperator(name='talk', python_callable=lambda: print('said something'))\n"
    )
    engine.upload_workflows(str(workflow_file))
    old = engine.start_workflow_execution("talk")
    assert engine.wait_for_workflow_execution(old, timeout=60).status is WorkflowStatus.SUCCESS
    recent = engine.start_workflow_execution("talk")
    assert engine.wait_for_workflow_execution(recent, timeout=60).status is WorkflowStatus.SUCCESS
    ended = engine.get_workflow_execution(old)
    assert ended is not None and ended.end_date is not None and engine.retention.horizon is not None
    snapshot = engine.get_workflow_snapshot(ended.snapshot_id)
    assert snapshot is not None
    blob = engine._blob_manager()
    keys = {wid: blob_log_key(snapshot.signature, wid, engine.list_task_executions(wid)[0].id) for wid in (old, recent)}
    assert all(blob.exists(key) for key in keys.values())
    # Only the first execution ended before the horizon: retention prunes it, with the logs its workers uploaded.
    assert engine.retention.prune(ended.end_date + engine.retention.horizon + dt.timedelta(milliseconds=1)) >= 1
    assert engine.get_workflow_execution(old) is None
    assert not blob.exists(keys[old]) and not blob.exists(blob_log_prefix(snapshot.signature, old))
    assert blob.exists(keys[recent]) and engine.get_workflow_execution(recent) is not None
