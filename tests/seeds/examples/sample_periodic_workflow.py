# ruff: noqa
# mypy: ignore-errors
# Port of AIFlow's samples/periodic/periodic_workflow.py: the same workflows and
# calls, with ``ai_flow`` renamed to ``aiflow_core``. Each workflow is bound to a
# schedule that starts it every minute (one by cron, one by interval); running the
# file again adds no second schedule.
from aiflow_core import ops
from aiflow_core.operators.bash import BashOperator
from aiflow_core.model.workflow import Workflow

with Workflow(name='periodic_workflow_by_cron') as w1:
    task = BashOperator(name='task', bash_command='echo Hello World!')


with Workflow(name='periodic_workflow_by_interval') as w2:
    task = BashOperator(name='task', bash_command='echo Hello World!')


if __name__ == "__main__":
    ops.upload_workflows(__file__)
    if not ops.list_workflow_schedules("periodic_workflow_by_cron"):
        ops.add_workflow_schedule(expression="cron@*/1 * * * *",
                                  workflow_name="periodic_workflow_by_cron")
    if not ops.list_workflow_schedules("periodic_workflow_by_interval"):
        ops.add_workflow_schedule(expression="interval@0 0 1 0",
                                  workflow_name="periodic_workflow_by_interval")
