"""Running workflow files: what one run leaves behind does not reach the next."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from aiflow_core.errors import WorkflowLoadError
from aiflow_core.loader import load_workflows

DECLARES = """
from aiflow_core import PythonOperator, Workflow

def noop(context):
    pass

with Workflow(name="{name}") as w:
    PythonOperator(name="task", python_callable=noop)
"""


def _file(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    return path


def test_a_file_that_overran_its_time_does_not_hold_up_later_files(tmp_path: Path) -> None:
    endless = _file(tmp_path, "endless", "while True:\n    pass\n")
    with pytest.raises(WorkflowLoadError, match="did not finish loading"):
        load_workflows(endless, timeout=0.3)
    for index in range(3):
        good = _file(tmp_path, f"good{index}", DECLARES.format(name=f"wf{index}"))
        assert [w.name for w in load_workflows(good, timeout=30)] == [f"wf{index}"]


def test_a_workflow_block_left_open_by_one_file_is_not_the_next_files(tmp_path: Path) -> None:
    left_open = _file(tmp_path, "left_open", DECLARES.format(name="open") + "Workflow(name='dangling').__enter__()\n")
    assert [w.name for w in load_workflows(left_open)] == ["open"]
    for index in range(5):  # every file runs after it, on whichever thread runs files
        good = _file(tmp_path, f"after{index}", DECLARES.format(name=f"after{index}"))
        assert [w.name for w in load_workflows(good)] == [f"after{index}"]


def _load_in_child(path: str, results: Any) -> None:
    try:
        results.put([w.name for w in load_workflows(path, timeout=10)])
    except BaseException as exc:  # reported to the parent
        results.put(repr(exc))


def test_a_forked_child_loads_files_although_the_parents_waiting_threads_were_not_copied(tmp_path: Path) -> None:
    first = _file(tmp_path, "first", DECLARES.format(name="first"))
    assert [w.name for w in load_workflows(first)] == ["first"]  # leaves a thread waiting in this process
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_load_in_child, args=(str(_file(tmp_path, "child", DECLARES.format(name="child"))),
                                                          results))
    child.start()
    try:
        assert results.get(timeout=60) == ["child"]
    finally:
        child.join(10)
