# ruff: noqa
# mypy: ignore-errors
# Concepts > Task Rules > "Status Rules" (action_on_task_status), with ``ai_flow``
# renamed to ``aiflow_core``.
# Changed: task_1 sleeps 1 s instead of 10 and task_2 2 s instead of 20 to keep the
# test short; both still end long before task_3's 100 s, so task_3 is stopped
# when both have succeeded, as the documentation describes.
from aiflow_core.model.action import TaskAction
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.operators.bash import BashOperator

with Workflow(name='my_workflow') as workflow:
    task1 = BashOperator(name='task_1',
                         bash_command='sleep 1')
    task2 = BashOperator(name='task_2',
                         bash_command='sleep 2')
    task3 = BashOperator(name='task_3',
                         bash_command='sleep 100')
    task3.action_on_task_status(action=TaskAction.STOP,
                                upstream_task_status_dict={
                                    task1: TaskStatus.SUCCESS,
                                    task2: TaskStatus.SUCCESS
                                })
