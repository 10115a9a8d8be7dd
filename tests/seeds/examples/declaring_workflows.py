# ruff: noqa
# mypy: ignore-errors
# Concepts > Workflows > "Declaring Workflows", with ``ai_flow`` renamed to ``aiflow_core``.
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name='workflow_name') as workflow:
    task1 = BashOperator(name='task_1',
                         bash_command='echo I am the 1st task')
    task2 = BashOperator(name='task_2',
                         bash_command='echo I am the 2nd task')
    task2.start_after([task1, ])
