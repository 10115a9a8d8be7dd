# ruff: noqa
# mypy: ignore-errors
# Concepts > Events > "Sending Events", with ``ai_flow`` renamed to ``aiflow_core``.
from aiflow_core.model.action import TaskAction
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator
from aiflow_core.model.workflow import Workflow


def func():
    notification_client = AIFlowNotificationClient("localhost:50052")
    notification_client.send_event(key="key",
                                   value='This is a custom message.')


with Workflow(name='workflow') as workflow:
    task1 = PythonOperator(name='task1', python_callable=func)
    task2 = BashOperator(name='task2', bash_command='echo I am the 2nd task.')
    task2.action_on_event_received(action=TaskAction.START, event_key="key")
