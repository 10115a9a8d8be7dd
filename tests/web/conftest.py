"""Fixtures of the web tests: an engine with the test workflow, served by a real uvicorn server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")

from aiflow_core.engine import Engine
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.model.rule import WorkflowRule
from tests.cli.conftest import wait_for

TOKEN = "t0ken-for-the-web-tests-0123456789"
WORKFLOW_FILE = Path(__file__).with_name("web_workflows.py")


class Site:
    """An engine with ``web_flow`` uploaded, a schedule and a trigger, and the app served on ``url``."""

    def __init__(self, engine: Engine, url: str, gates: Path) -> None:
        self.engine = engine
        self.url = url
        self.gates = gates

    def open_gate(self) -> None:
        """Let every waiting gate task finish."""
        (self.gates / "gate").write_text("open")

    def close_gate(self) -> None:
        """Make later gate tasks wait again."""
        (self.gates / "gate").unlink(missing_ok=True)

    def wait(self, check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
        """Poll ``check`` until it returns something true."""
        return wait_for(check, timeout, what, interval=0.05)

    def run_status(self, execution_id: int, task: str) -> str | None:
        """The status of the latest run of ``task`` in the execution."""
        runs = [r for r in self.engine.list_task_executions(execution_id) if r.task_name == task]
        return runs[-1].status.value if runs else None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from aiflow_core.web import create_app
    from aiflow_core.web.server import BackgroundServer

    root = tmp_path_factory.mktemp("web-site")
    home = root / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIFLOW_HOME", str(home))
        patch.setenv("AIFLOW_WEB_TEST_GATE", str(root / "gate"))  # read where the task's module is imported
        engine = Engine(db_url=f"sqlite:///{root / 'web.db'}", executor="thread")
        engine.upload_workflows(str(WORKFLOW_FILE))
        engine.add_workflow_schedule("interval@1 0 0 0", "web_flow")
        engine.add_workflow_trigger(WorkflowRule(SingleEventCondition("start_web_flow")), "web_flow")
        engine.start()
        server = BackgroundServer(create_app(engine, token=TOKEN), "127.0.0.1", 0).start()
        try:
            yield Site(engine, server.url, root)
        finally:
            (root / "gate").write_text("open")
            server.stop()
            engine.close()
