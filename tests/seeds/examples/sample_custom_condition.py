# ruff: noqa
# mypy: ignore-errors
# Port of AIFlow's samples/custom_condition/custom_condition_example.py: the same
# workflow, condition and calls, with ``ai_flow`` renamed to ``aiflow_core``.
# Three producers send 'num_event' events carrying 0..9 records each second; the
# consumer starts once the records add up to 100, and its success stops the producers.
import random
import time

from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context
from aiflow_core.model.state import ValueState, ValueStateDescriptor
from aiflow_core.model.status import TaskStatus
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient, Event
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator


class Consumer:
    def __init__(self,
                 is_consumed: bool = False,
                 accumulator: int = 0):
        self.is_consumed = is_consumed
        self.accumulator = accumulator


class NumCondition(Condition):

    def is_met(self, event: Event, context: Context) -> bool:
        state: ValueState = context.get_state(ValueStateDescriptor(name='consumer'))
        consumer = state.value()
        if consumer is None:
            consumer = Consumer()
        consumer.accumulator += int(event.value)
        ready = consumer.accumulator >= 100 and not consumer.is_consumed
        if ready:
            consumer.is_consumed = True
        state.update(consumer)
        return ready


def random_produce():
    notification_client = \
        AIFlowNotificationClient(server_uri='localhost:50052')
    while True:
        num = random.randint(0, 9)
        notification_client.send_event(key='num_event', value=str(num))
        print(f"Produced {num} records")
        time.sleep(1)


with Workflow(name='condition_workflow') as workflow:
    task1 = PythonOperator(name='producer_1',
                           python_callable=random_produce)
    task2 = PythonOperator(name='producer_2',
                           python_callable=random_produce)
    task3 = PythonOperator(name='producer_3',
                           python_callable=random_produce)
    task4 = BashOperator(name='consumer',
                         bash_command='echo Got 100 records.')

    task4.action_on_condition(action=TaskAction.START,
                              condition=NumCondition(expect_event_keys=['num_event']))

    task1.action_on_task_status(action=TaskAction.STOP,
                                upstream_task_status_dict={task4: TaskStatus.SUCCESS})
    task2.action_on_task_status(action=TaskAction.STOP,
                                upstream_task_status_dict={task4: TaskStatus.SUCCESS})
    task3.action_on_task_status(action=TaskAction.STOP,
                                upstream_task_status_dict={task4: TaskStatus.SUCCESS})
