"""Executors found by name through the ``aiflow.executors`` entry points, built-in and third-party."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aiflow_core import Engine
from aiflow_core.config import load_config
from aiflow_core.errors import ConfigError
from aiflow_core.executor_names import ENTRY_POINT_GROUP, registered_executors
from aiflow_core.executors import create_executor
from aiflow_core.executors.process import ProcessExecutor
from aiflow_core.executors.thread import ThreadExecutor
from aiflow_core.model.status import WorkflowStatus

PLUGIN = '''
from aiflow_core.executors.thread import ThreadExecutor


class CountingExecutor(ThreadExecutor):
    """A third-party executor: the thread executor, counting what it is given."""

    name = "counting"
    submitted = []

    def submit(self, job):
        CountingExecutor.submitted.append(job.task_name)
        super().submit(job)
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> type:
    """A distribution ``aiflow-counting`` installed into a directory on sys.path, with its dist-info."""
    site = tmp_path / "site"
    (site / "aiflow_counting").mkdir(parents=True)
    (site / "aiflow_counting" / "__init__.py").write_text(PLUGIN)
    info = site / "aiflow_counting-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aiflow-counting\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ncounting = aiflow_counting:CountingExecutor\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "aiflow_counting", raising=False)
    import aiflow_counting  # type: ignore[import-not-found]

    return aiflow_counting.CountingExecutor  # type: ignore[no-any-return]


def test_built_in_names_are_registered() -> None:
    names = registered_executors()
    for name in ("inline", "thread", "process", "local", "celery"):
        assert name in names
    assert isinstance(create_executor("thread"), ThreadExecutor)
    assert isinstance(create_executor("PROCESS", parallelism=2), ProcessExecutor)


def test_a_third_party_executor_plugs_in_by_entry_point(plugin: type, tmp_path: Path) -> None:
    assert registered_executors()["counting"] == "aiflow_counting:CountingExecutor"
    (tmp_path / "flow.py").write_text(
        "from aiflow_core import Workflow, BashOperator\n"
        "with Workflow(name='plugged') as w:\n"
        "    BashOperator(name='hello', bash_command='echo hello')\n"
    )
    with Engine(f"sqlite:///{tmp_path / 'aiflow.db'}", executor="counting") as engine:
        assert type(engine.executor).__name__ == "CountingExecutor"
        engine.upload_workflows(str(tmp_path / "flow.py"))
        wid = engine.start_workflow_execution("plugged")
        assert engine.wait_for_workflow_execution(wid, timeout=60).status is WorkflowStatus.SUCCESS
    assert plugin.submitted == ["hello"]  # type: ignore[attr-defined]


def test_the_config_accepts_a_registered_name(plugin: type, aiflow_home: Path) -> None:
    (aiflow_home / "aiflow.yaml").write_text("task_executor: counting\n")
    assert load_config().task_executor == "counting"
    (aiflow_home / "aiflow.yaml").write_text("task_executor: countin\n")
    with pytest.raises(ConfigError, match="did you mean 'counting'"):
        load_config()


def test_celery_without_its_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "celery" or m.startswith(("celery.", "aiflow_core.executors.celery"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "celery", None)  # what an environment without the extra imports
    with pytest.raises(ConfigError) as raised:
        create_executor("celery")
    message = str(raised.value)
    assert "pip install 'aiflow-engine[celery]'" in message and "'celery'" in message


def test_dotted_paths_still_work_and_bad_ones_are_named() -> None:
    assert isinstance(create_executor("aiflow_core.executors.thread.ThreadExecutor"), ThreadExecutor)
    with pytest.raises(ConfigError, match="no_such_module"):
        create_executor("no_such_module.Executor")


def test_aiflow_worker_without_the_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aiflow_core.cli.main import main

    for name in [m for m in sys.modules if m == "celery" or m.startswith(("celery.", "aiflow_core.executors.celery"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "celery", None)
    assert main(["worker", "--queues", "a,b"]) == 1
    assert "pip install 'aiflow-engine[celery]'" in capsys.readouterr().err
