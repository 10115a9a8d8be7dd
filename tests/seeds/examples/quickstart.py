# ruff: noqa
# mypy: ignore-errors
# Quickstart example of the AIFlow documentation ("Defining a Workflow"),
# with ``ai_flow`` renamed to ``aiflow_core``.
# Changed: ``time.sleep(5)`` -> ``time.sleep(1)`` to keep the test short; the
# order of events (task3 sleeps, then sends the event) is unchanged.
import time
from aiflow_core.model.action import TaskAction
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator
from aiflow_core.model.workflow import Workflow
EVENT_KEY = "key"


def func():
    time.sleep(1)
    notification_client = AIFlowNotificationClient("localhost:50052")
    print(f"Sending event with key: {EVENT_KEY}")
    notification_client.send_event(key=EVENT_KEY,
                                   value='This is a custom message.')


with Workflow(name='quickstart_workflow') as w1:
    task1 = BashOperator(name='task1', bash_command='echo I am the 1st task.')
    task2 = BashOperator(name='task2', bash_command='echo I am the 2nd task.')
    task3 = PythonOperator(name='task3', python_callable=func)
    task4 = BashOperator(name='task4', bash_command='echo I am the 4th task.')
    task3.start_after([task1, task2])
    task4.action_on_event_received(action=TaskAction.START, event_key=EVENT_KEY)
