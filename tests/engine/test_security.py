"""Tasks hold no keys; stored pickles need the secret; files under $AIFLOW_HOME are owner-only; logs mask secrets."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aiflow_core import Engine, TaskStatus, WorkflowStatus, serialization
from aiflow_core.errors import IntegrityError
from aiflow_core.homefiles import SECRET_FILE_NAME, pickle_secret
from aiflow_storage.blob import S3BlobManager
from aiflow_storage.sql import SqlStore
from aiflow_storage.sql.schema import snapshots
from tests.blob import conftest as blob_fixtures
from tests.blob.conftest import S3_KEY_ID, S3_SECRET, s3_config
from tests.cli.conftest import cli_env
from tests.conftest import POSTGRES_URL, _fresh, require_server


def _run(argv: list[str], home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with this home under a permissive umask (022), so only explicit modes can make files private."""
    script = "import os, subprocess, sys; os.umask(0o022); sys.exit(subprocess.call(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", script, *argv], env=cli_env(AIFLOW_HOME=str(home)), capture_output=True,
        text=True, timeout=timeout, check=False,
    )


def _not_owner_only(home: Path) -> list[str]:
    wrong = []
    for root, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            path = Path(root, name)
            mode = stat.S_IMODE(path.lstat().st_mode)
            if not path.is_symlink() and mode & 0o077:
                wrong.append(f"{path.relative_to(home)} {oct(mode)}")
    return wrong


def test_everything_created_under_the_home_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    aiflow = [sys.executable, "-m", "aiflow_core.cli.main"]
    assert _run([*aiflow, "config", "init"], home).returncode == 0
    quickstart = _run([sys.executable, "-m", "aiflow_core.quickstart"], home)
    assert quickstart.returncode == 0, quickstart.stdout + quickstart.stderr
    assert "SUCCESS" in quickstart.stdout
    started = _run([*aiflow, "server", "start", "-d", "--executor", "process"], home)
    assert started.returncode == 0, started.stderr
    try:
        assert (home / "aiflow_server.pid").exists()
    finally:
        stopped = _run([*aiflow, "server", "stop"], home)
        assert stopped.returncode == 0, stopped.stderr
    created = {str(p.relative_to(home)) for p in home.rglob("*")}
    assert {"aiflow.yaml", "pickle_secret", "aiflow.db", "logs", "blob", "working_dir", "snapshots"} <= created
    assert any(name.endswith(".log") and name.startswith("logs/default/quickstart") for name in created)
    assert "logs/server.log" in created
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert _not_owner_only(home) == []


PASSWORD = "pg-Pw-7f3a9c"  # the local server trusts every connection, so any password works

PROBE = '''
import json, os
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.model.action import TaskAction
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def probe():
    home = os.environ.get("AIFLOW_HOME") or {home!r}
    own = os.path.realpath(os.getcwd())
    files = {{}}
    for root, _, names in os.walk(home):
        for name in names:
            path = os.path.realpath(os.path.join(root, name))
            if path.startswith(own + os.sep):
                continue  # the task's own working copy
            try:
                with open(path, "rb") as f:
                    files[os.path.relpath(path, home)] = f.read().decode("latin-1")
            except OSError:
                pass
    sent = AIFlowNotificationClient().send_event("probed", "yes")
    with open({out!r}, "w") as out:
        json.dump({{"env": dict(os.environ), "files": files, "offset": sent.offset}}, out)

def leak():
    # reversed, so the workflow file itself does not hold them
    raise RuntimeError(f"cannot connect with password {{{password!r}[::-1]}} or secret {{{secret!r}[::-1]}}")

with Workflow(name="probe") as w:
    probe_task = PythonOperator(name="probe", python_callable=probe)
    leak_task = PythonOperator(name="leak", python_callable=leak)
    # The probe looks once the leaking task has ended, so its log is among what it reads.
    probe_task.action_on_task_status(TaskAction.START, {{leak_task: TaskStatus.FAILED}})
'''


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_task_finds_neither_the_database_password_nor_the_pickle_secret(
    executor: str, tmp_path: Path, aiflow_home: Path, server_databases: dict[str, str]
) -> None:
    require_server(POSTGRES_URL, "PostgreSQL")
    url = make_url(_fresh(server_databases["postgres"])).set(password=PASSWORD).render_as_string(hide_password=False)
    out = tmp_path / "probe.json"
    secret = pickle_secret(aiflow_home)
    workflow = tmp_path / "probe.py"
    workflow.write_text(PROBE.format(home=str(aiflow_home), out=str(out), password=PASSWORD[::-1], secret=secret[::-1]))
    with Engine(db_url=url, executor=executor) as engine:
        engine.upload_workflows(str(workflow))
        execution = engine.wait_for_workflow_execution(engine.start_workflow_execution("probe"), timeout=60)
        runs = {te.task_name: te for te in engine.list_task_executions(execution.id)}
        leak_log = engine.read_task_execution_log(runs["leak"].id, 0)
        [probed] = engine.list_events(key="probed")
    assert runs["probe"].status is TaskStatus.SUCCESS and runs["leak"].status is TaskStatus.FAILED
    seen = json.loads(out.read_text())
    assert probed.offset == seen["offset"] and probed.workflow_execution_id == execution.id
    assert probed.sender == "probe.probe"  # the engine scoped the task's event to its attempt
    for name, value in seen["env"].items():
        assert PASSWORD not in value and secret not in value, name
    for name, content in seen["files"].items():
        assert PASSWORD not in content, name
        # A task runs as the engine's OS user, so owner-only modes do not hide the secret file from it
        # (see docs/embedding.md); nothing else under the home holds the secret.
        assert secret not in content or name == SECRET_FILE_NAME, name
    assert stat.S_IMODE((aiflow_home / SECRET_FILE_NAME).stat().st_mode) == 0o600
    # The error the engine records is masked on every executor.
    assert PASSWORD not in (runs["leak"].error or "") and secret not in (runs["leak"].error or "")
    assert "***" in (runs["leak"].error or "")
    # The traceback in the log is masked: by the engine's process as it writes (thread), or by the
    # engine once the worker process, which is not given the secrets, has ended the run (process).
    assert "RuntimeError: cannot connect with password *** or secret ***" in leak_log.text
    assert PASSWORD not in leak_log.text and secret not in leak_log.text
    assert "logs/default/probe/1/leak-1.log" in seen["files"]


BLOB_PROBE = '''
import json, os
from pathlib import Path
from aiflow_core.model.action import TaskAction
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator
from aiflow_core.runtime.blob import task_blob

def probe():
    home = os.environ["AIFLOW_HOME"]
    files = {{}}
    for root in (home, "/proc/self"):
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as f:
                        files[path] = f.read(1 << 20).decode("latin-1")
                except OSError:
                    pass
            if folder.startswith("/proc"):
                break  # /proc/self's files, not its tasks' trees
    work = Path({work!r})
    (work / "artifact" / "sub").mkdir(parents=True)
    (work / "artifact" / "model.txt").write_text("weights v2")
    (work / "artifact" / "sub" / "vocab.txt").write_text("a b c")
    uri = task_blob().upload(work / "artifact", name="models/artifact")
    local = task_blob().download("models/artifact", work / "copy")
    with open({out!r}, "w") as out:
        json.dump({{"env": dict(os.environ), "files": files, "uri": uri, "listed": task_blob().list("models"),
                   "downloaded": sorted(str(p.relative_to(local)) for p in local.rglob("*.txt")),
                   "text": (local / "sub" / "vocab.txt").read_text()}}, out)

def leak():
    raise RuntimeError(f"cannot reach the bucket with key {{{secret!r}[::-1]}}")

with Workflow(name="blobprobe") as w:
    probe_task = PythonOperator(name="probe", python_callable=probe)
    leak_task = PythonOperator(name="leak", python_callable=leak)
    probe_task.action_on_task_status(TaskAction.START, {{leak_task: TaskStatus.FAILED}})
'''


moto_endpoint = blob_fixtures.moto_endpoint  # the blob tests' S3 server, shared


@pytest.fixture(scope="module")
def s3_with_keys(moto_endpoint: str) -> dict[str, object]:
    """A blob configuration of the moto S3 server, holding its access keys."""
    return {"blob_manager_class": "aiflow_storage.blob.S3BlobManager",
            "blob_manager_config": s3_config(moto_endpoint, "keys-probe")}


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_task_reaches_the_blob_store_without_its_keys(
    executor: str, tmp_path: Path, aiflow_home: Path, s3_with_keys: dict[str, object]
) -> None:
    out = tmp_path / "probe.json"
    workflow = tmp_path / "blobprobe.py"
    workflow.write_text(BLOB_PROBE.format(out=str(out), work=str(tmp_path / "work"), secret=S3_SECRET[::-1]))
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", blob=s3_with_keys, executor=executor) as engine:
        engine.upload_workflows(str(workflow))
        execution = engine.wait_for_workflow_execution(engine.start_workflow_execution("blobprobe"), timeout=60)
        runs = {te.task_name: te for te in engine.list_task_executions(execution.id)}
        leak_log = engine.read_task_execution_log(runs["leak"].id, 0)
        stored = S3BlobManager(s3_with_keys["blob_manager_config"])  # type: ignore[arg-type]
        listed = stored.list("namespaces/default/files/models")
    assert runs["probe"].status is TaskStatus.SUCCESS, runs["probe"].error
    seen = json.loads(out.read_text())
    keys = (S3_SECRET, S3_KEY_ID)
    for name, value in seen["env"].items():
        assert not any(key in value for key in keys), name
    assert any(name.endswith("/environ") for name in seen["files"])  # the probe could read its own process
    for name, content in seen["files"].items():
        assert not any(key in content for key in keys), name
    # The task still wrote and read its artifacts, in its namespace of the engine's store.
    assert listed == ["namespaces/default/files/models/artifact/model.txt",
                      "namespaces/default/files/models/artifact/sub/vocab.txt"]
    assert seen["uri"].startswith("s3://") and seen["listed"] == ["models/artifact/model.txt",
                                                                  "models/artifact/sub/vocab.txt"]
    assert seen["downloaded"] == ["model.txt", "sub/vocab.txt"] and seen["text"] == "a b c"
    # The blob key in a traceback is masked in the log and the recorded error.
    assert "RuntimeError: cannot reach the bucket with key ***" in leak_log.text
    assert S3_SECRET not in leak_log.text and S3_SECRET not in (runs["leak"].error or "")


def test_the_attempt_channel_keeps_blob_calls_in_the_tasks_namespace(tmp_path: Path) -> None:
    from aiflow_core.runtime.attempt_blob import pack, serve_blob
    from aiflow_storage.blob import NamespacedBlob, UnsafePathError, create_blob_manager

    other = tmp_path / "other.txt"
    other.write_text("not for tasks")
    blob = NamespacedBlob(create_blob_manager(str(tmp_path / "root")), "default")
    with pytest.raises(UnsafePathError):
        serve_blob(blob, "blob_download", {"name": str(other)})
    with pytest.raises(UnsafePathError):
        serve_blob(blob, "blob_download", {"name": "../../snapshots/x"})
    tree = pack(other)
    with pytest.raises(UnsafePathError):
        serve_blob(blob, "blob_upload", {"name": None, "tree": {**tree, "name": "../escape.txt"}})
    with pytest.raises(UnsafePathError):
        serve_blob(blob, "blob_upload", {"name": None, "tree": {"name": "d", "directory": True,
                                                                 "files": {"../../escape.txt": b"x"}}})
    assert not (tmp_path / "root" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


UNSIGNED = '''
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name="target") as w:
    BashOperator(name="a", bash_command="echo a")
'''


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path(self.marker).write_text, ("ran",))


def test_a_pickle_written_into_the_database_without_the_secret_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Payload(str(marker)))
    unsigned = serialization.MAGIC + bytes([serialization.VERSION]) + hashlib.sha256(payload).digest() + payload
    forged = serialization.MAGIC + bytes([serialization.VERSION]) + hmac.new(
        b"guessed", payload, hashlib.sha256).digest() + payload
    url = f"sqlite:///{tmp_path / 'aiflow.db'}"
    workflow = tmp_path / "target.py"
    workflow.write_text(UNSIGNED)
    for frame in (unsigned, forged):
        with pytest.raises(IntegrityError, match="pickle secret") as refused:
            serialization.loads(frame)
        assert isinstance(refused.value, ValueError)
    with Engine(db_url=url, executor="thread") as engine:
        engine.upload_workflows(str(workflow))
        store = SqlStore(url)
        with store.engine.begin() as conn:
            conn.execute(sa.update(snapshots).values(workflow_object=unsigned))
        store.close()
        execution_id = engine.start_workflow_execution("target")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not marker.exists():
            time.sleep(0.1)
        execution = engine.get_workflow_execution(execution_id)
    assert not marker.exists()
    assert execution is not None and execution.status is not WorkflowStatus.SUCCESS
