# ruff: noqa
# mypy: ignore-errors
# Port of AIFlow's samples/flink_operator/flink_run_example.py: the same workflow and
# calls, with ``ai_flow`` renamed to ``aiflow_core``. Runs the ``flink`` found on
# PATH or under $FLINK_HOME/bin.
from aiflow_core.common.env import expand_env_var
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.flink.flink_operator import FlinkOperator


with Workflow(name='flink_workflow') as workflow:
    batch_jar = expand_env_var('${FLINK_HOME}/examples/batch/WordCount.jar')
    streaming_jar = expand_env_var('${FLINK_HOME}/examples/streaming/TopSpeedWindowing.jar')

    batch_task = FlinkOperator(name='flink-batch-task',
                               target='yarn-per-job',
                               application=batch_jar)
    streaming_task = FlinkOperator(name='flink-streaming-task',
                                   target='yarn-per-job',
                                   application=streaming_jar)

    streaming_task.start_after([batch_task, ])
