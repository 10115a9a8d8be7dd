"""The seed's quickstart on Celery workers, unchanged but for the executor; and the worker holds no key."""

from __future__ import annotations

import os
from pathlib import Path

from seeds.support import ExampleRunner
from seeds.test_quickstart import _run_quickstart

from aiflow_core import Engine
from aiflow_core.model.status import TaskStatus, WorkflowStatus

from .conftest import Workers


def test_quickstart_on_celery_workers(engine: Engine) -> None:
    _run_quickstart(ExampleRunner(engine))


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
