# ruff: noqa
# mypy: ignore-errors
# Concepts > Events > "Listening Events", with ``ai_flow`` renamed to ``aiflow_core``.
# The documentation shows three fragments (the Counter processor, registering it,
# unregistering it); they are used verbatim inside the ``listen`` task below.
# Added to make them a runnable workflow: the ``listen`` task announces that it
# listens (event 'listener_ready'), the ``produce`` task then sends three
# 'expect_key' events, and ``listen`` reports its count (event 'counted').
import time
from typing import List

from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import ListenerProcessor, Event
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.operators.python import PythonOperator

EXPECTED = 3


class Counter(ListenerProcessor):
    def __init__(self):
        self.counter = 0

    def process(self, events: List[Event]):
        self.counter += len(events)


def listen():
    counter = Counter()
    client = AIFlowNotificationClient("localhost:50052")
    listener_id = client.register_listener(listener_processor=counter,
                                           event_keys=['expect_key',])
    client.send_event(key='listener_ready')
    while counter.counter < EXPECTED:
        time.sleep(0.05)
    client.unregister_listener(listener_id)
    client.send_event(key='counted', value=str(counter.counter))


def produce():
    client = AIFlowNotificationClient("localhost:50052")
    for i in range(EXPECTED):
        client.send_event(key='expect_key', value=str(i))


with Workflow(name='listening_workflow') as workflow:
    listen_task = PythonOperator(name='listen', python_callable=listen)
    produce_task = PythonOperator(name='produce', python_callable=produce)
    produce_task.action_on_event_received(action=TaskAction.START, event_key='listener_ready')
