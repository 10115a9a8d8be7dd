"""The bad-input catalogue: one row per bad input, each refused at the earliest point with a typed error.

Every row gives a bad input through the public API (configuration files and
environment, ``Engine``/``Client`` arguments, definitions, workflow files,
archives), the error type expected and fragments of its message that name the
bad value or key. After each row the engine sharing the module still holds
what was stored before and still runs an execution to the end.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tarfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from aiflow_core import (
    BashOperator,
    Client,
    Condition,
    Engine,
    PythonOperator,
    TaskAction,
    TaskRule,
    TaskStatusCondition,
    Workflow,
    WorkflowStatus,
)
from aiflow_core.config import AIFlowConfig, load_config
from aiflow_core.errors import (
    ConfigError,
    InvalidArgumentError,
    InvalidExpressionError,
    InvalidWorkflowError,
    NotFoundError,
    WorkflowLoadError,
)
from aiflow_core.loader import MAX_WORKFLOW_FILE_SIZE
from aiflow_core.model.event import Event
from aiflow_core.model.names import MAX_TASK_NAME_LENGTH
from aiflow_core.testing.memory import MemoryStore
from aiflow_storage.blob import InvalidArchiveError, UnsafePathError
from aiflow_storage.blob.snapshot import MAX_SNAPSHOT_SIZE, extract_archive

BASE = """
from aiflow_core import PythonOperator, Workflow

def work():
    return 42

with Workflow(name="base") as w:
    PythonOperator(name="work", python_callable=work)
"""


class Bench:
    """One stepped engine for the whole table, with a finished execution and an event stored before any row."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.engine = Engine(f"sqlite:///{directory / 'aiflow.db'}", executor="inline", config=self.config())
        self.engine.upload_workflows(str(self.write("base", BASE)))
        self.first = self.engine.start_workflow_execution("base")
        assert self.engine.wait_for_workflow_execution(self.first, timeout=30).status is WorkflowStatus.SUCCESS
        self.event = self.engine.send_event("before", "kept")

    def config(self, **changes: Any) -> AIFlowConfig:
        """A configuration under this bench's directory, with ``changes``."""
        return attrs.evolve(load_config(env={"AIFLOW_HOME": str(self.directory)}), **changes)

    def write(self, name: str, source: str) -> Path:
        """Write a workflow file and return its path."""
        path = self.directory / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def upload(self, name: str, source: str, timeout: float | None = None) -> object:
        """Write a workflow file and upload it (through an engine loading within ``timeout`` s if given)."""
        path = str(self.write(name, source))
        if timeout is None:
            return self.engine.upload_workflows(path)
        engine = Engine(self.engine.db_url, executor="inline", config=self.config(workflow_load_timeout=timeout))
        try:
            return engine.upload_workflows(path)
        finally:
            engine.close()

    def yaml(self, text: str, **env: str) -> AIFlowConfig:
        """Load ``text`` as an ``aiflow.yaml`` with the environment ``env``."""
        path = self.directory / "yaml" / "aiflow.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_config(path, env={"AIFLOW_HOME": str(self.directory), **env})

    def healthy(self) -> None:
        """What was stored before is still there, and a new execution still runs to the end."""
        engine = self.engine
        first = engine.get_workflow_execution(self.first)
        assert first is not None and first.status is WorkflowStatus.SUCCESS
        assert self.event.offset in [e.offset for e in engine.list_events("before")]
        again = engine.start_workflow_execution("base")
        assert engine.wait_for_workflow_execution(again, timeout=30).status is WorkflowStatus.SUCCESS


@attrs.frozen(kw_only=True)
class Row:
    """One bad input: what ``call`` gives, the error it must raise, and what its message must name."""

    id: str
    call: Callable[[Bench], object]
    error: type[Exception]
    names: tuple[str, ...]


def _in_workflow(make: Callable[[], object]) -> Callable[[Bench], object]:
    """Run ``make`` inside a fresh workflow's ``with`` block."""

    def call(_: Bench) -> object:
        with Workflow(name="definitions"):
            return make()

    return call


def _task(**kwargs: Any) -> Callable[[Bench], object]:
    return _in_workflow(lambda: BashOperator(name="t", bash_command="true", **kwargs))


def _engine(**kwargs: Any) -> Callable[[Bench], object]:
    def call(bench: Bench) -> object:
        return Engine(f"sqlite:///{bench.directory / 'other.db'}", **{"executor": "inline", **kwargs})

    return call


def _client(**kwargs: Any) -> Callable[[Bench], object]:
    def call(bench: Bench) -> object:
        return Client(**{"db_url": f"sqlite:///{bench.directory / 'other.db'}", **kwargs})

    return call


def _yaml(text: str, **env: str) -> Callable[[Bench], object]:
    return lambda bench: bench.yaml(text, **env)


def _config(**changes: Any) -> Callable[[Bench], object]:
    return lambda bench: bench.config(**changes)


def _file(source: str, timeout: float | None = None) -> Callable[[Bench], object]:
    return lambda bench: bench.upload("bad_file", source, timeout)


def _archive(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _extract(members: list[tuple[str, bytes]], max_size: int = MAX_SNAPSHOT_SIZE) -> Callable[[Bench], object]:
    def call(bench: Bench) -> object:
        archive = bench.directory / "bad.tar.gz"
        archive.write_bytes(_archive(members))
        dest = bench.directory / f"extract-{len(list(bench.directory.glob('extract-*')))}"
        dest.mkdir()
        return extract_archive(archive, dest, max_size=max_size)

    return call


def _upload_with_artifacts(artifacts: Callable[[Path], list[str]]) -> Callable[[Bench], object]:
    def call(bench: Bench) -> object:
        return bench.engine.upload_workflows(str(bench.write("with_artifacts", BASE)), artifacts(bench.directory))

    return call


def _huge_artifact(directory: Path) -> list[str]:
    path = directory / "huge.bin"
    with open(path, "wb") as sparse:
        sparse.truncate(MAX_SNAPSHOT_SIZE + 1)  # a sparse file: its size counts, no byte is written
    return [str(path)]


def _same_base_names(directory: Path) -> list[str]:
    for sub in ("a", "b"):
        (directory / sub).mkdir(exist_ok=True)
        (directory / sub / "data.txt").write_text(sub)
    return [str(directory / "a" / "data.txt"), str(directory / "b" / "data.txt")]


class _Answer(Condition):
    """A user condition answering ``answer`` (evaluated by the rule, as the scheduler does)."""

    def __init__(self, answer: object) -> None:
        super().__init__(["go"])
        self.answer = answer

    def is_met(self, event: Any, context: Any) -> Any:
        return self.answer


def _rule_on(answer: object) -> Callable[[Bench], object]:
    return lambda _: TaskRule(_Answer(answer), TaskAction.START).trigger(Event("go", "v"), None)  # type: ignore[arg-type]


LONG_TASK = "t" * (MAX_TASK_NAME_LENGTH + 1)
ROWS = [
    # -- the configuration file and environment --
    Row(id="unknown-key-near-a-known-one", call=_yaml("task_exector: thread\n"), error=ConfigError,
        names=("'task_exector'", "'task_executor'")),
    Row(id="unknown-key", call=_yaml("colour: blue\n"), error=ConfigError, names=("'colour'", "known keys")),
    Row(id="unknown-time-zone", call=_yaml("timezone: Mars/Olympus\n"), error=ConfigError,
        names=("'timezone'", "Mars/Olympus")),
    Row(id="parallelism-zero", call=_yaml("local_executor_parallelism: 0\n"), error=ConfigError,
        names=("'local_executor_parallelism'", "got 0")),
    Row(id="parallelism-negative", call=_yaml("local_executor_parallelism: -3\n"), error=ConfigError,
        names=("'local_executor_parallelism'", "-3")),
    Row(id="parallelism-word", call=_yaml("local_executor_parallelism: ten\n"), error=ConfigError,
        names=("'local_executor_parallelism'", "'ten'")),
    Row(id="parallelism-fraction", call=_yaml("local_executor_parallelism: 2.5\n"), error=ConfigError,
        names=("'local_executor_parallelism'", "2.5")),
    Row(id="heartbeat-interval-zero", call=_yaml("task_heartbeat_interval: 0\n"), error=ConfigError,
        names=("'task_heartbeat_interval'", "above zero")),
    Row(id="heartbeat-interval-negative", call=_yaml("task_heartbeat_interval: -1\n"), error=ConfigError,
        names=("'task_heartbeat_interval'", "-1")),
    Row(id="heartbeat-interval-word", call=_yaml("task_heartbeat_interval: often\n"), error=ConfigError,
        names=("'task_heartbeat_interval'", "'often'")),
    Row(id="heartbeat-timeout-zero", call=_yaml("task_heartbeat_timeout: 0\n"), error=ConfigError,
        names=("'task_heartbeat_timeout'", "above zero")),
    Row(id="heartbeat-timeout-negative", call=_yaml("task_heartbeat_timeout: -1\n"), error=ConfigError,
        names=("'task_heartbeat_timeout'", "-1")),
    Row(id="heartbeat-timeout-below-interval",
        call=_yaml("task_heartbeat_interval: 10\ntask_heartbeat_timeout: 5\n"), error=ConfigError,
        names=("'task_heartbeat_timeout'", "'task_heartbeat_interval'", "5 s")),
    Row(id="heartbeat-check-interval-zero", call=_yaml("task_executor_heartbeat_check_interval: 0\n"),
        error=ConfigError, names=("'task_executor_heartbeat_check_interval'",)),
    Row(id="heartbeat-check-interval-negative", call=_yaml("task_executor_heartbeat_check_interval: -10\n"),
        error=ConfigError, names=("'task_executor_heartbeat_check_interval'", "-10")),
    Row(id="load-timeout-zero", call=_yaml("workflow_load_timeout: 0\n"), error=ConfigError,
        names=("'workflow_load_timeout'",)),
    Row(id="retention-not-a-duration", call=_yaml("history_retention: forever\n"), error=ConfigError,
        names=("'history_retention'", "'forever'")),
    Row(id="explanations-unknown-level", call=_yaml("explanations: verbose\n"), error=ConfigError,
        names=("'explanations'", "'verbose'", "off, decisions, full")),
    Row(id="env-explanations-unknown-level", call=_yaml("", AIFLOW_EXPLANATIONS="all"), error=ConfigError,
        names=("AIFLOW_EXPLANATIONS", "'all'")),
    Row(id="executor-misspelt", call=_yaml("task_executor: thred\n"), error=ConfigError,
        names=("'task_executor'", "'thred'", "'thread'")),
    Row(id="executor-number", call=_yaml("task_executor: 42\n"), error=ConfigError, names=("'task_executor'", "42")),
    Row(id="blob-manager-list", call=_yaml("blob_manager: [1, 2]\n"), error=ConfigError,
        names=("'blob_manager'", "[1, 2]")),
    Row(id="database-uri-number", call=_yaml("metadata_backend_uri: 5\n"), error=ConfigError,
        names=("'metadata_backend_uri'", "5")),
    Row(id="log-dir-number", call=_yaml("log_dir: 12\n"), error=ConfigError, names=("'log_dir'", "12")),
    Row(id="file-not-a-mapping", call=_yaml("- a\n- b\n"), error=ConfigError, names=("aiflow.yaml", "mapping")),
    Row(id="file-not-yaml", call=_yaml("key: [unclosed\n"), error=ConfigError, names=("aiflow.yaml", "YAML")),
    Row(id="env-parallelism-word", call=_yaml("", AIFLOW_PARALLELISM="ten"), error=ConfigError,
        names=("AIFLOW_PARALLELISM", "'ten'")),
    Row(id="env-unknown-time-zone", call=_yaml("", AIFLOW_TIMEZONE="Nowhere/City"), error=ConfigError,
        names=("AIFLOW_TIMEZONE", "Nowhere/City")),
    Row(id="env-executor-misspelt", call=_yaml("", AIFLOW_TASK_EXECUTOR="proces"), error=ConfigError,
        names=("AIFLOW_TASK_EXECUTOR", "'process'")),
    Row(id="celery-broker-not-a-url", call=_yaml("celery_broker_url: localhost:6379\n"), error=ConfigError,
        names=("'celery_broker_url'", "'localhost:6379'", "redis://")),
    Row(id="env-celery-broker-masked", call=_yaml("", AIFLOW_CELERY_BROKER_URL="redis://:hunter2@ host/0"),
        error=ConfigError, names=("AIFLOW_CELERY_BROKER_URL", "'celery_broker_url'", ":***@")),
    Row(id="celery-queue-spaces", call=_yaml("celery_queue: my queue\n"), error=ConfigError,
        names=("'celery_queue'", "'my queue'")),
    Row(id="env-celery-queue-empty-name", call=_yaml("", AIFLOW_CELERY_QUEUE="a/b"), error=ConfigError,
        names=("AIFLOW_CELERY_QUEUE", "'a/b'")),
    Row(id="celery-result-expires-zero", call=_yaml("celery_result_expires: 0\n"), error=ConfigError,
        names=("'celery_result_expires'", "above zero")),
    Row(id="env-celery-result-expires-word", call=_yaml("", AIFLOW_CELERY_RESULT_EXPIRES="soon"), error=ConfigError,
        names=("AIFLOW_CELERY_RESULT_EXPIRES", "'soon'")),
    Row(id="channel-address-no-port", call=_yaml("channel_address: 'engine:http'\n"), error=ConfigError,
        names=("'channel_address'", "'engine:http'", "host:port")),
    Row(id="env-channel-address-port-too-big", call=_yaml("", AIFLOW_CHANNEL_ADDRESS="0.0.0.0:70000"),
        error=ConfigError, names=("AIFLOW_CHANNEL_ADDRESS", "'0.0.0.0:70000'")),
    Row(id="channel-url-not-http", call=_yaml("channel_url: ftp://engine:21\n"), error=ConfigError,
        names=("'channel_url'", "'ftp://engine:21'", "http(s)://host[:port]")),
    Row(id="config-object-heartbeat-negative", call=_config(task_heartbeat_interval=-1), error=ConfigError,
        names=("'task_heartbeat_interval'", "-1")),
    Row(id="config-object-time-zone", call=_config(timezone="Europe/Atlantis"), error=ConfigError,
        names=("'timezone'", "Europe/Atlantis")),
    # -- Engine and Client arguments --
    Row(id="engine-parallelism-zero", call=_engine(parallelism=0), error=ConfigError, names=("parallelism", "0")),
    Row(id="engine-parallelism-word", call=_engine(parallelism="ten"), error=ConfigError,
        names=("parallelism", "'ten'")),
    Row(id="engine-parallelism-bool", call=_engine(parallelism=True), error=ConfigError,
        names=("parallelism", "True")),
    Row(id="engine-executor-function", call=_engine(executor="os.getcwd"), error=ConfigError,
        names=("'os.getcwd'", "not an Executor")),
    Row(id="engine-executor-misspelt", call=_engine(executor="thred"), error=ConfigError,
        names=("'thred'", "'thread'")),
    Row(id="engine-executor-number", call=_engine(executor=42), error=ConfigError, names=("42",)),
    Row(id="engine-executor-missing-module", call=_engine(executor="no_such_module.Executor"), error=ConfigError,
        names=("'no_such_module.Executor'",)),
    Row(id="engine-poll-interval-zero", call=_engine(poll_interval=0), error=ConfigError,
        names=("poll_interval", "0")),
    Row(id="engine-poll-interval-negative", call=_engine(poll_interval=-0.5), error=ConfigError,
        names=("poll_interval", "-0.5")),
    Row(id="engine-batch-size-zero", call=_engine(batch_size=0), error=ConfigError, names=("batch_size=0",)),
    Row(id="engine-retention", call=_engine(history_retention="forever"), error=ConfigError,
        names=("history_retention='forever'",)),
    Row(id="engine-explanations", call=_engine(explanations="some"), error=ConfigError,
        names=("argument explanations", "'some'", "off, decisions, full")),
    Row(id="engine-clock", call=_engine(clock="now"), error=ConfigError, names=("clock='now'",)),
    Row(id="engine-log-dir", call=_engine(log_dir=3), error=ConfigError, names=("log_dir=3",)),
    Row(id="client-db-url-number", call=_client(db_url=5), error=ConfigError, names=("db_url=5",)),
    Row(id="client-config-dict", call=_client(config={}), error=ConfigError, names=("config={}",)),
    Row(id="client-store-string", call=_client(store="memory"), error=ConfigError, names=("store='memory'",)),
    Row(id="client-upgrade-string", call=_client(upgrade="yes"), error=ConfigError, names=("upgrade='yes'",)),
    Row(id="client-bad-url", call=_client(db_url="nosuchdb://db/x"), error=ConfigError, names=("nosuchdb",)),
    Row(id="engine-process-executor-on-memory-store",
        call=lambda bench: Engine(store=MemoryStore(), executor="process", config=bench.config()),
        error=ConfigError, names=("'process'",)),
    # -- definitions --
    Row(id="task-name-201", call=_in_workflow(lambda: BashOperator(name=LONG_TASK, bash_command="true")),
        error=InvalidArgumentError, names=(LONG_TASK, f"{MAX_TASK_NAME_LENGTH + 1} characters")),
    Row(id="task-name-251", call=_in_workflow(lambda: BashOperator(name="t" * 251, bash_command="true")),
        error=InvalidArgumentError, names=("t" * 251, "251 characters")),
    Row(id="task-name-255", call=_in_workflow(lambda: BashOperator(name="t" * 255, bash_command="true")),
        error=InvalidArgumentError, names=("t" * 255, "log file")),
    Row(id="workflow-name-256", call=lambda _: Workflow(name="w" * 256), error=InvalidArgumentError,
        names=("w" * 256, "256 characters")),
    Row(id="namespace-name-space", call=lambda _: Workflow(name="w", namespace="a b"), error=InvalidArgumentError,
        names=("'a b'",)),
    Row(id="keep-open-string", call=lambda _: Workflow(name="w", keep_open="yes"), error=InvalidArgumentError,
        names=("'yes'",)),
    Row(id="execution-timeout-zero", call=_task(execution_timeout=0), error=InvalidArgumentError,
        names=("execution_timeout", "got 0", "'t'")),
    Row(id="execution-timeout-negative", call=_task(execution_timeout=-1), error=InvalidArgumentError,
        names=("execution_timeout", "-1")),
    Row(id="execution-timeout-zero-timedelta", call=_task(execution_timeout=dt.timedelta(0)),
        error=InvalidArgumentError, names=("execution_timeout", "timedelta(0)")),
    Row(id="execution-timeout-nan", call=_task(execution_timeout=float("nan")), error=InvalidArgumentError,
        names=("execution_timeout", "nan")),
    Row(id="execution-timeout-string", call=_task(execution_timeout="10"), error=InvalidArgumentError,
        names=("execution_timeout", "'10'")),
    Row(id="retry-delay-negative", call=_task(retry_delay=-1), error=InvalidArgumentError,
        names=("retry_delay", "-1")),
    Row(id="max-retry-delay-negative", call=_task(max_retry_delay=-5), error=InvalidArgumentError,
        names=("max_retry_delay", "-5")),
    Row(id="retries-negative", call=_task(retries=-1), error=InvalidArgumentError, names=("retries", "-1")),
    Row(id="retries-fraction", call=_task(retries=1.5), error=InvalidArgumentError, names=("retries", "1.5")),
    Row(id="periodic-expression", call=_task(periodic_expression="every hour"), error=InvalidExpressionError,
        names=("every hour",)),
    Row(id="rule-action", call=lambda _: TaskRule(_Answer(True), "JUMP"), error=InvalidArgumentError,
        names=("'JUMP'",)),
    Row(id="condition-keys-string", call=lambda _: Condition("key"), error=InvalidArgumentError, names=("'key'",)),
    Row(id="status-condition-status", call=lambda _: TaskStatusCondition("w", "t", expect_status="DONE"),
        error=InvalidArgumentError, names=("'DONE'",)),
    Row(id="python-callable-none", call=_in_workflow(lambda: PythonOperator(name="p", python_callable=None)),
        error=InvalidWorkflowError, names=("None",)),
    # -- conditions answering something other than True or False --
    Row(id="condition-returns-string", call=_rule_on("no"), error=TypeError, names=("'no'", "_Answer", "'go'")),
    Row(id="condition-returns-none", call=_rule_on(None), error=TypeError, names=("None", "True or False")),
    Row(id="condition-returns-int", call=_rule_on(1), error=TypeError, names=("1 (int)",)),
    # -- workflow files --
    Row(id="file-calls-sys-exit", call=_file("import sys\nsys.exit()\n"), error=WorkflowLoadError,
        names=("bad_file.py", "sys.exit(None)")),
    Row(id="file-calls-sys-exit-with-code", call=_file("import sys\nsys.exit(3)\n"), error=WorkflowLoadError,
        names=("bad_file.py", "sys.exit(3)")),
    Row(id="file-raises-system-exit", call=_file("raise SystemExit('bye')\n"), error=WorkflowLoadError,
        names=("bad_file.py", "'bye'")),
    Row(id="file-never-finishes", call=_file("while True:\n    pass\n", timeout=0.5), error=WorkflowLoadError,
        names=("bad_file.py", "0.5 s", "workflow_load_timeout")),
    Row(id="file-blocks-in-sleep", call=_file("import time\ntime.sleep(2)\n", timeout=0.5), error=WorkflowLoadError,
        names=("bad_file.py", "did not finish loading")),
    Row(id="file-too-large", call=_file("X = 1\n" + "#" * MAX_WORKFLOW_FILE_SIZE + "\n"), error=WorkflowLoadError,
        names=("bad_file.py", str(MAX_WORKFLOW_FILE_SIZE))),
    Row(id="file-syntax-error", call=_file("with Workflow(name='x') as w\n"), error=WorkflowLoadError,
        names=("bad_file.py", "SyntaxError")),
    Row(id="file-workflow-name-twice",
        call=_file("from aiflow_core import Workflow\nwith Workflow(name='x') as a:\n    pass\n"
                   "with Workflow(name='x') as b:\n    pass\n"),
        error=WorkflowLoadError, names=("bad_file.py", "['x']")),
    Row(id="file-task-name-too-long",
        call=_file(f"from aiflow_core import BashOperator, Workflow\nwith Workflow(name='x') as w:\n"
                   f"    BashOperator(name='{'n' * 240}', bash_command='true')\n"),
        error=InvalidArgumentError, names=("n" * 240, "240 characters")),
    Row(id="file-execution-timeout-zero",
        call=_file("from aiflow_core import BashOperator, Workflow\nwith Workflow(name='x') as w:\n"
                   "    BashOperator(name='t', bash_command='true', execution_timeout=0)\n"),
        error=InvalidArgumentError, names=("execution_timeout", "'t'")),
    Row(id="artifact-missing", call=_upload_with_artifacts(lambda d: [str(d / "nope.bin")]), error=NotFoundError,
        names=("nope.bin",)),
    Row(id="artifacts-string", call=_upload_with_artifacts(lambda d: str(d)), error=InvalidArgumentError,  # type: ignore[arg-type,return-value]
        names=("artifacts",)),
    # -- snapshots and archives --
    Row(id="upload-over-the-snapshot-limit", call=_upload_with_artifacts(_huge_artifact), error=InvalidArchiveError,
        names=("huge.bin", str(MAX_SNAPSHOT_SIZE))),
    Row(id="artifacts-sharing-a-name", call=_upload_with_artifacts(_same_base_names), error=InvalidArchiveError,
        names=("'data.txt'",)),
    Row(id="archive-member-twice", call=_extract([("flow.py", b"a"), ("flow.py", b"b")]), error=InvalidArchiveError,
        names=("'flow.py'", "twice")),
    Row(id="archive-over-the-size-limit", call=_extract([("big.bin", b"x" * 2048)], max_size=1024),
        error=InvalidArchiveError, names=("2048 bytes", "1024")),
    Row(id="archive-member-escapes", call=_extract([("../escape.py", b"x")]), error=UnsafePathError,
        names=("'../escape.py'",)),
    Row(id="archive-member-absolute", call=_extract([("/etc/evil", b"x")]), error=UnsafePathError,
        names=("'/etc/evil'",)),
]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    directory = tmp_path_factory.mktemp("catalogue")
    saved = {key: os.environ.pop(key) for key in list(os.environ) if key.startswith("AIFLOW_")}
    os.environ["AIFLOW_HOME"] = str(directory)  # engines and clients built without a config read it here
    try:
        bench = Bench(directory)
        yield bench
        bench.engine.close()
    finally:
        del os.environ["AIFLOW_HOME"]
        os.environ.update(saved)


def test_the_catalogue_holds_at_least_eighty_cases() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS)
    assert len(ROWS) >= 80


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_bad_input(bench: Bench, row: Row) -> None:
    with pytest.raises(row.error) as info:
        row.call(bench)
    message = str(info.value)
    for name in row.names:
        assert name in message, f"{message!r} does not name {name!r}"
    bench.healthy()
