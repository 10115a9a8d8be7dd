"""The tutorial's online machine-learning workflow, on a small synthetic data set.

The data set has the tutorial's layout (``dataset/mnist_{train,evaluate,predict}.npz``
with keys ``x_train``/``y_train``) but a few hundred generated 8x8 samples of
three classes instead of MNIST. The workflow file is the tutorial's, with its
30 s pause between prepared batches shortened through ``DATA_PREPARE_INTERVAL``
so that two rounds happen quickly.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from aiflow_core.model.event import EventKind
from aiflow_core.model.meta import StartKind
from aiflow_core.model.status import TaskStatus, WorkflowStatus
from aiflow_core.ports import EventFilter

from .support import EXAMPLES, ExampleRunner, assert_rule_cause, status_key, wait_until

WORKFLOW = "online_machine_learning"

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*penalty.*:FutureWarning"),
    pytest.mark.filterwarnings("ignore:Inconsistent values:UserWarning"),
    pytest.mark.filterwarnings("ignore:Precision is ill-defined"),
]


def make_dataset(directory: Path, samples: int = 300) -> None:
    """Write the three data set files: 8x8 'images' of three separable classes."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    centers = rng.normal(scale=2.0, size=(3, 8, 8))
    for part in ("train", "evaluate", "predict"):
        labels = rng.integers(0, 3, size=samples)
        images = centers[labels] + rng.normal(size=(samples, 8, 8))
        np.savez(directory / f"mnist_{part}.npz", x_train=images, y_train=labels)


def prepare_project(root: Path, interval: int) -> Path:
    """Lay out the tutorial's project under ``root``; return the workflow file."""
    project = root / "online_ml_workflow"
    make_dataset(project / "dataset")
    source = (EXAMPLES / "online_ml_workflow.py").read_text(encoding="utf-8")
    source, count = re.subn(r"^DATA_PREPARE_INTERVAL = 30$", f"DATA_PREPARE_INTERVAL = {interval}",
                            source, flags=re.M)
    assert count == 1
    workflow_file = project / "online_ml_workflow.py"
    workflow_file.write_text(source, encoding="utf-8")
    # The tutorial's _prepare_working_dir checks, then creates its model directories;
    # pre_processing and predicting start together and may race on that. Shipping the
    # (empty) directories with the upload, next to the data set, avoids the race.
    for name in ("trained_models", "validated_models", "deployed_models"):
        (project / "tmp" / name).mkdir(parents=True)
    return workflow_file


def artifacts(project: Path) -> list[str]:
    """What the tutorial uploads with ``--files``: the data set, and the empty model directories."""
    return [str(project / "dataset"), str(project / "tmp")]


def execution_dir(working_root: Path, wid: int) -> Path:
    """The working copy of execution ``wid`` under ``working_root``: named by its id and its snapshot's digest."""
    parent = working_root / "default" / WORKFLOW
    return wait_until(lambda: next((p for p in parent.glob(f"{wid}*") if p.name.split("-")[0] == str(wid)), None),
                      f"the working copy of execution {wid} under {parent}")


def run_tutorial(runner: ExampleRunner, tmp_path: Path, working_root: Path) -> None:
    """Run the tutorial's project and check its history; ``working_root`` holds its tasks' working copies."""
    engine = runner.engine
    workflow_file = prepare_project(tmp_path, interval=2)
    project = workflow_file.parent
    runner.upload(workflow_file, artifacts=artifacts(project))
    wid = engine.start_workflow_execution(WORKFLOW)

    # Each execution runs the workflow file again from its own copy of the upload,
    # so the tutorial's tmp directory is inside the execution's working directory.
    working_dir = execution_dir(working_root, wid)
    result_path = working_dir / "tmp" / "predict_result"
    runner.wait_for_runs(wid, "validating", 2)
    runner.wait_for_runs(wid, "deploying", 1, TaskStatus.SUCCESS)
    wait_until(lambda: result_path.exists() and result_path.read_text(encoding="utf-8"),
               "the first prediction")
    execution = runner.stop_and_settle(wid)
    assert execution.status is WorkflowStatus.STOPPED

    # The two streaming tasks started with the execution and were stopped with it.
    for task in ("pre_processing", "predicting"):
        [run] = runner.runs(wid, task)
        assert run.cause.kind is StartKind.WORKFLOW_START
        assert run.status is TaskStatus.STOPPED, f"{task}: {run.status} {run.error}"

    # training: one run per data_prepared event the scheduler acted on, in order.
    prepared = {e.offset: e for e in engine.list_events(key="data_prepared")}
    training = runner.runs(wid, "training")
    assert [te.sequence_number for te in training] == list(range(1, len(training) + 1))
    assert len([te for te in training if te.status is TaskStatus.SUCCESS]) >= 2
    for te in training:
        assert_rule_cause(te, "data_prepared")
        event = prepared[te.cause.event_offset]
        assert event.sender == f"{WORKFLOW}.pre_processing" and event.workflow_execution_id == wid
    offsets = [te.cause.event_offset or 0 for te in training]
    assert offsets == sorted(set(offsets))

    # validating: after training succeeded, each run following its own training run.
    validating = runner.runs(wid, "validating")
    assert [te.status for te in validating[:2]] == [TaskStatus.SUCCESS, TaskStatus.SUCCESS]
    for run in validating:
        assert_rule_cause(run, status_key(WORKFLOW, "training"))
        upstream = [te for te in training if te.end_date and run.begin_date and te.end_date <= run.begin_date]
        assert upstream and upstream[-1].status is TaskStatus.SUCCESS

    # deploying: at most once per model_validated event sent before the stop (later ones no longer reach
    # the execution); it announces what it deployed.
    with engine.store.transaction(readonly=True) as tx:
        [stop] = tx.list_events(EventFilter(kinds=(EventKind.STOP_WORKFLOW,), workflow_execution_id=wid), None)
    validated = [e for e in engine.list_events(key="model_validated") if (e.offset or 0) < (stop.offset or 0)]
    # A model_validated event that comes while deploying still runs is ignored (START on an alive task).
    deploying = runner.runs(wid, "deploying")
    assert len(validated) >= 1 and 1 <= len(deploying) <= len(validated)
    offsets = [te.cause.event_offset for te in deploying]
    assert offsets == sorted(offsets) and set(offsets) <= {e.offset for e in validated}
    assert deploying[0].cause.event_offset == validated[0].offset
    for te in deploying:
        assert_rule_cause(te, "model_validated")
    deployed = [e.value for e in engine.list_events(key="model_deployed")]
    # A run cut short by the final stop may or may not have sent its event.
    succeeded = [te for te in deploying if te.status is TaskStatus.SUCCESS]
    assert len(succeeded) <= len(deployed) <= len(deploying)
    assert all(path and Path(path).parent == working_dir / "tmp" / "deployed_models" for path in deployed)

    # predicting: each line names a deployed model and holds its predictions.
    lines = result_path.read_text(encoding="utf-8").splitlines()
    named = [m.group(1) for m in (re.match(r"model \[(.+)\] predict result: \[", line) for line in lines) if m]
    assert named and set(named) <= set(deployed)

    # The data set went with the upload: each execution runs with a copy of it.
    copies = sorted(working_root.rglob("mnist_train.npz"))
    assert copies and all(c.read_bytes() == (project / "dataset" / "mnist_train.npz").read_bytes()
                          for c in copies)


def test_online_machine_learning_tutorial(runner: ExampleRunner, tmp_path: Path, aiflow_home: Path) -> None:
    run_tutorial(runner, tmp_path, aiflow_home / "working_dir")


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_tutorial_runs_from_the_uploaded_files(runner: ExampleRunner, tmp_path: Path) -> None:
    workflow_file = prepare_project(tmp_path, interval=30)
    project = workflow_file.parent
    runner.upload(workflow_file, artifacts=artifacts(project))
    shutil.rmtree(project)
    wid = runner.engine.start_workflow_execution(WORKFLOW)

    def outcome() -> TaskStatus | None:
        runs = {te.task_name: te.status for te in runner.runs(wid)}
        if runs.get("pre_processing") is TaskStatus.FAILED:
            return TaskStatus.FAILED
        status = runs.get("training")
        return status if status is not None and status.is_final else None

    status = wait_until(outcome, "training to run or pre_processing to fail")
    errors = {te.task_name: te.error for te in runner.runs(wid) if te.error}
    assert status is TaskStatus.SUCCESS, errors
