"""Client.read_task_execution_log: whole lines while a run is alive, the rest once it ends, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiflow_core import Engine, TaskStatus
from aiflow_core.errors import InvalidArgumentError, NotFoundError
from tests.cli.conftest import wait_for

FLOW = """
from aiflow_core.operators.bash import BashOperator
from aiflow_core.model.workflow import Workflow

with Workflow(name="logger") as w:
    BashOperator(name="talk",
                 bash_command="printf 'one\\\\nPARTIAL'; while [ ! -f {go} ]; do sleep 0.1; done; echo END")
"""


def test_a_running_tasks_log_is_read_in_whole_lines(tmp_path: Path) -> None:
    go = tmp_path / "go"
    (tmp_path / "flow.py").write_text(FLOW.format(go=str(go)))
    with Engine(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", blob=str(tmp_path / "blobs"),
                executor="thread") as engine:
        engine.upload_workflows(str(tmp_path / "flow.py"))
        execution = engine.start_workflow_execution("logger")
        run = wait_for(lambda: engine.list_task_executions(execution), what="the task run")[0]
        with pytest.raises(NotFoundError, match="task execution 99"):
            engine.read_task_execution_log(99)
        with pytest.raises(InvalidArgumentError, match="-1"):
            engine.read_task_execution_log(run.id, -1)

        wait_for(lambda: engine.read_task_execution_log(run.id).text.endswith("one\n"), what="the first line")
        alive = engine.read_task_execution_log(run.id)
        assert alive.text.endswith("\none\n") and "\nPARTIAL" not in alive.text and not alive.complete
        go.touch()
        assert engine.wait_for_workflow_execution(execution, timeout=60).status.value == "SUCCESS"
        rest = engine.read_task_execution_log(run.id, alive.next_offset)
        assert rest.text.startswith("PARTIALEND\n") and rest.complete and rest.offset == alive.next_offset
        assert engine.get_task_execution(run.id).status is TaskStatus.SUCCESS
        # A run that wrote nothing has no log file (it is made on the first write): its log is empty.
        Path(rest.path).unlink()
        empty = engine.read_task_execution_log(run.id)
        assert (empty.text, empty.complete, empty.next_offset) == ("", True, 0)
