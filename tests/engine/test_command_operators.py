"""Flink and Spark operators build their command lines and run them as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiflow_core import WorkflowStatus
from aiflow_core.errors import InvalidWorkflowError
from aiflow_core.testing import WorkflowTester

FAKE_TOOL = """#!/usr/bin/env python3
import json, os, sys
with open({record!r}, "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "env": os.environ.get("SPARK_HOME_HINT")}}) + "\\n")
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""

WORKFLOW = """
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.flink.flink_operator import FlinkOperator
from aiflow_core.operators.spark.spark_sql import SparkSqlOperator
from aiflow_core.operators.spark.spark_submit import SparkSubmitOperator

with Workflow(name="jobs") as w:
    flink = FlinkOperator(name="flink", application="job.jar", target="yarn-per-job", application_args=["--in", 1],
                          executable_path={tool!r}, command_options="-Dparallelism.default=2 --detached")
    pyflink = FlinkOperator(name="pyflink", application="job.py", application_mode=True,
                            kubernetes_cluster_id="c1", executable_path={tool!r})
    submit = SparkSubmitOperator(name="submit", application="app.py", application_args=["a"], master="local[2]",
                                 submit_options="--conf spark.x=1", k8s_namespace="ns",
                                 env_vars={{"SPARK_HOME_HINT": "yes"}}, executable_path={tool!r})
    sql = SparkSqlOperator(name="sql", sql="SELECT 1", master="local", executable_path={tool!r})
    submit.start_after(flink)
"""


def test_flink_and_spark_operators_run_their_command_lines(aiflow: WorkflowTester, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    tool = tmp_path / "fake_tool"
    tool.write_text(FAKE_TOOL.format(record=str(record)))
    tool.chmod(0o755)
    aiflow.upload_source(WORKFLOW.format(tool=str(tool)))
    execution = aiflow.start("jobs")
    assert aiflow.engine.get_workflow_execution(execution).status is WorkflowStatus.SUCCESS  # type: ignore[union-attr]
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    argvs = sorted(c["argv"] for c in calls)
    assert argvs == sorted(
        [
            ["run", "-t", "yarn-per-job", "-Dparallelism.default=2", "--detached", "job.jar", "--in", "1"],
            ["run-application", "-Dkubernetes.cluster-id=c1", "--python", "job.py"],
            ["--master", "local[2]", "--deploy-mode", "client", "--name", "submit", "--conf",
             "spark.kubernetes.namespace=ns", "--conf", "spark.x=1", "app.py", "a"],
            ["--master", "local", "--name", "sql", "-e", "SELECT 1"],
        ]
    )
    assert [c["env"] for c in calls if c["argv"][-1] == "a"] == ["yes"]
    assert f"{tool} run -t yarn-per-job" in aiflow.log(execution, "flink")


def test_command_operator_definition_errors(aiflow: WorkflowTester) -> None:
    with pytest.raises(InvalidWorkflowError, match="deploy_mode"):
        aiflow.upload_source(
            "from aiflow_core.model.workflow import Workflow\n"
            "from aiflow_core.operators.spark.spark_submit import SparkSubmitOperator\n"
            "with Workflow(name='bad') as w:\n"
            "    SparkSubmitOperator(name='s', application='a.py', deploy_mode='remote')\n"
        )
