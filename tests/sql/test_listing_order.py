"""Paged listings of the ops API come in AIFlow's order: oldest first, so offset/limit page as AIFlow's do.

AIFlow's metadata manager lists rows in the order they were added (no ORDER
BY, an auto-increment id) and applies ``limit`` then ``offset``. Names here
are chosen so that creation order differs from name order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiflow_core import Engine, WorkflowRule
from aiflow_core.model.internal.conditions import SingleEventCondition

WORKFLOW = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.python import PythonOperator

def work():
    return 1

with Workflow(name="{name}") as w:
    t3 = PythonOperator(name="t3", python_callable=work)
    t1 = PythonOperator(name="t1", python_callable=work)
    t2 = PythonOperator(name="t2", python_callable=work)
    t1.start_after(t3)
    t2.start_after(t1)
"""


def _assert_pages(listing: Callable[..., Sequence[Any]], expected: Sequence[Any], key: Callable[[Any], Any]) -> None:
    """Every (limit, offset) page is the matching slice of ``expected`` (AIFlow's order)."""
    assert [key(x) for x in listing()] == list(expected)
    for limit in (1, 2, 3):
        for offset in range(len(expected) + 1):
            page = [key(x) for x in listing(limit=limit, offset=offset)]
            assert page == list(expected[offset:offset + limit]), (limit, offset)
    for offset in (1, 2):
        assert [key(x) for x in listing(offset=offset)] == list(expected[offset:])


def _upload(engine: Engine, tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.py"
    path.write_text(WORKFLOW.format(name=name))
    [workflow] = engine.upload_workflows(str(path))
    snapshot_id = workflow.snapshot_id
    assert snapshot_id is not None
    return snapshot_id


def test_every_listing_pages_oldest_first(db_url: str, tmp_path: Path) -> None:
    with Engine(db_url=db_url, blob=str(tmp_path / "blob"), executor="inline") as engine:
        snapshots = [_upload(engine, tmp_path, name) for name in ("zeta", "alpha", "mid")]
        snapshots += [_upload(engine, tmp_path, "zeta") for _ in range(3)]
        zeta_snapshots = [snapshots[0], *snapshots[3:]]
        _assert_pages(lambda **kw: engine.list_workflow_snapshots("zeta", **kw), zeta_snapshots, lambda s: s.id)
        # Uploading again keeps a workflow's place.
        _assert_pages(engine.list_workflows, ["zeta", "alpha", "mid"], lambda w: w.name)

        executions = [engine.start_workflow_execution("zeta") for _ in range(4)]
        _assert_pages(lambda **kw: engine.list_workflow_executions("zeta", **kw), executions, lambda e: e.id)

        for execution in executions:
            engine.wait_for_workflow_execution(execution, timeout=120)
        runs = engine.list_task_executions(executions[0])
        assert [r.task_name for r in runs] == ["t3", "t1", "t2"]
        assert [r.id for r in runs] == sorted(r.id for r in runs)
        _assert_pages(lambda **kw: engine.list_task_executions(executions[0], **kw), ["t3", "t1", "t2"],
                      lambda r: r.task_name)

        expressions = ["cron@30 * * * *", "interval@0 2 0 0", "cron@0 1 * * *", "interval@1 0 0 0"]
        schedules = [engine.add_workflow_schedule(e, "zeta").id for e in expressions]
        _assert_pages(lambda **kw: engine.list_workflow_schedules("zeta", **kw), schedules, lambda s: s.id)
        _assert_pages(lambda **kw: engine.list_workflow_schedules("zeta", **kw), expressions, lambda s: s.expression)

        keys = ["key_c", "key_a", "key_b"]
        triggers = [engine.add_workflow_trigger(WorkflowRule(SingleEventCondition(k)), "zeta").id for k in keys]
        _assert_pages(lambda **kw: engine.list_workflow_triggers("zeta", **kw), triggers, lambda t: t.id)
