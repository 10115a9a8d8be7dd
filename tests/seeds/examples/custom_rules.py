# ruff: noqa
# mypy: ignore-errors
# Concepts > Task Rules > "Custom Rules" (NumCondition), with ``ai_flow`` renamed to
# ``aiflow_core`` and ``notification_service.model.event`` to ``aiflow_core.model.event``.
# Changed: the producer sleeps 0.05 s between events instead of 1 s so the numbers
# reach 100 in about a second; it still produces forever.
import random
import time

from aiflow_core.model.event import Event
from aiflow_core.model.action import TaskAction
from aiflow_core.model.condition import Condition
from aiflow_core.model.context import Context
from aiflow_core.model.state import ValueState, ValueStateDescriptor
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator


class NumCondition(Condition):

    def is_met(self, event: Event, context: Context) -> bool:
        state: ValueState = context.get_state(ValueStateDescriptor(name='num_state'))
        num = 0 if state.value() is None else int(state.value())
        num += int(event.value)
        if num >= 100:
            return True
        else:
            state.update(num)
            return False


def random_produce():
    notification_client = \
        AIFlowNotificationClient(server_uri='localhost:50052')
    while True:
        num = random.randint(0, 9)
        notification_client.send_event(key='num_event', value=str(num))
        time.sleep(0.05)


with Workflow(name='condition_workflow') as workflow:
    task1 = PythonOperator(name='producer',
                           python_callable=random_produce)
    task2 = BashOperator(name='consumer',
                         bash_command='echo Got 100 records.')
    task2.action_on_condition(action=TaskAction.START,
                              condition=NumCondition(expect_event_keys=['num_event']))
