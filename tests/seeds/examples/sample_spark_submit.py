# ruff: noqa
# mypy: ignore-errors
# Port of AIFlow's samples/spark_operator/spark_submit_example.py: the same workflow
# and calls, with ``ai_flow`` renamed to ``aiflow_core``. Runs the ``spark-submit``
# found on PATH or under $SPARK_HOME/bin.
from aiflow_core.common.env import expand_env_var
from aiflow_core.operators.spark.spark_submit import SparkSubmitOperator
from aiflow_core.model.workflow import Workflow


with Workflow(name='spark_workflow') as workflow:
    application_path = expand_env_var('${SPARK_HOME}/examples/jars/spark-examples_2.12-3.2.1.jar')
    task = SparkSubmitOperator(name='spark-submit-example-task',
                               application=application_path,
                               application_args=['100'],
                               master='local[2]',
                               application_name='spark_operator_example',
                               submit_options='--class org.apache.spark.examples.SparkPi')
