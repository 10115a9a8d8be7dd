# ruff: noqa
# mypy: ignore-errors
# Port of AIFlow's samples/event_trigger_workflow/event_trigger_workflow.py: the same
# workflows and calls, with ``ai_flow`` renamed to ``aiflow_core``. Running it uploads
# both workflows, adds a trigger that starts event_trigger_workflow_2 on the event
# 'trigger_workflow', and starts event_trigger_workflow_1, whose task sends it.
from aiflow_core import ops
from aiflow_core.model.internal.conditions import SingleEventCondition
from aiflow_core.model.rule import WorkflowRule
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient
from aiflow_core.operators.bash import BashOperator
from aiflow_core.operators.python import PythonOperator


def send_event():
    print("Sending event...")
    client = AIFlowNotificationClient(server_uri='localhost:50052')
    client.send_event(key='trigger_workflow', value=None)


with Workflow(name='event_trigger_workflow_1') as w1:
    event_task = PythonOperator(name='event_task',
                                python_callable=send_event)

with Workflow(name='event_trigger_workflow_2') as w2:
    task1 = BashOperator(name='task1', bash_command='echo I am 1st task.')


if __name__ == "__main__":
    ops.upload_workflows(__file__)
    trigger_rule = WorkflowRule(SingleEventCondition(expect_event_key="trigger_workflow"))
    ops.add_workflow_trigger(rule=trigger_rule, workflow_name='event_trigger_workflow_2')
    ops.start_workflow_execution('event_trigger_workflow_1')
