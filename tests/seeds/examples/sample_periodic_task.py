# ruff: noqa
# mypy: ignore-errors
# Port of AIFlow's samples/periodic/periodic_task.py: the same workflow and calls,
# with ``ai_flow`` renamed to ``aiflow_core``. task_1 runs every minute by cron and
# task_3 every minute by interval; task_2 and task_4 follow each of their runs.
from aiflow_core import ops
from aiflow_core.operators.bash import BashOperator
from aiflow_core.model.workflow import Workflow

with Workflow(name='periodic_task_example') as workflow:
    task1 = BashOperator(name='task_1',
                         bash_command='echo I am the 1st task',
                         periodic_expression='cron@*/1 * * * *')
    task2 = BashOperator(name='task_2',
                         bash_command='echo I am the 2nd task')
    task2.start_after([task1, ])

    task3 = BashOperator(name='task_3',
                         bash_command='echo I am the 3rd task',
                         periodic_expression='interval@0 0 1 0')
    task4 = BashOperator(name='task_4',
                         bash_command='echo I am the 4th task')
    task4.start_after([task3, ])


if __name__ == "__main__":
    ops.upload_workflows(__file__)
    ops.start_workflow_execution("periodic_task_example")
