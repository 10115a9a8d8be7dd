# ruff: noqa
# mypy: ignore-errors
# Concepts > Task Rules > "Single Event Rules", with ``ai_flow`` renamed to ``aiflow_core``.
# Changed: ``time.sleep(5)`` -> ``time.sleep(1)`` to keep the test short.
import time
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator


def func():
    time.sleep(1)
    print('I am the 1st task')
    notification_client = AIFlowNotificationClient("localhost:50052")
    notification_client.send_event(key="key",
                                   value="")


with Workflow(name='quickstart_workflow') as workflow:
    task1 = PythonOperator(name='task1', python_callable=func)
    task2 = BashOperator(name='task2', bash_command='echo I am the 2nd task.')
    task2.action_on_event_received(action=TaskAction.START, event_key="key")
