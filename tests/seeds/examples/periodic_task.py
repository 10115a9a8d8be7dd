# ruff: noqa
# mypy: ignore-errors
# Concepts > Tasks > "Periodic Task", with ``ai_flow`` renamed to ``aiflow_core``.
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name='periodic_task_example') as workflow:
    task1 = BashOperator(name='task_1',
                         bash_command='echo I am the 1st task',
                         periodic_expression='cron@*/1 * * * *')
    task2 = BashOperator(name='task_2',
                         bash_command='echo I am the 2nd task',
                         periodic_expression='interval@0 0 1 0')
    task3 = BashOperator(name='task_3',
                         bash_command='echo I am the 3rd task')
    task3.start_after([task1, ])
