# ruff: noqa
# mypy: ignore-errors
# A port of AIFlow's samples/online_machine_learning/online_ml_workflow.py: the same
# imports (``ai_flow`` renamed to ``aiflow_core``), tasks, rules, events, files and
# 30-second data preparation loop. It expects dataset/mnist_{train,evaluate,predict}.npz
# next to it (the test makes a small synthetic set with that layout).
import logging
import os
import shutil
import time
from typing import List

import numpy as np
from joblib import dump, load
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from aiflow_core import ops
from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import AIFlowNotificationClient, Event, ListenerProcessor
from aiflow_core.operators.python import PythonOperator

NOTIFICATION_SERVER_URI = "localhost:50052"

HERE = os.path.dirname(__file__)
DATASET = os.path.join(HERE, "dataset", "mnist_{}.npz")
WORK = os.path.join(HERE, "tmp")
TRAINED = os.path.join(WORK, "trained_models")
VALIDATED = os.path.join(WORK, "validated_models")
DEPLOYED = os.path.join(WORK, "deployed_models")


def _make_dirs():
    for directory in (TRAINED, VALIDATED, DEPLOYED):
        if not os.path.isdir(directory):
            os.makedirs(directory)


def _newest(directory):
    names = sorted(os.listdir(directory))
    return os.path.join(directory, names[-1]) if names else None


def _load(part):
    with np.load(DATASET.format(part)) as data:
        images, labels = data["x_train"], data["y_train"]
    order = check_random_state(0).permutation(images.shape[0])
    flat = images[order].reshape((images.shape[0], -1))
    return StandardScaler().fit_transform(flat), labels[order]


def preprocess():
    _make_dirs()
    client = AIFlowNotificationClient(NOTIFICATION_SERVER_URI)
    try:
        while True:
            features, labels = _load("train")
            np.save(os.path.join(WORK, "x_train"), features)
            np.save(os.path.join(WORK, "y_train"), labels)
            client.send_event(key="data_prepared", value=None)
            time.sleep(30)
    finally:
        client.close()


def train():
    _make_dirs()
    model = LogisticRegression(C=50.0 / 5000, penalty="l1", solver="saga", tol=0.1)
    model.fit(np.load(os.path.join(WORK, "x_train.npy")), np.load(os.path.join(WORK, "y_train.npy")))
    dump(model, os.path.join(TRAINED, time.strftime("%Y%m%d%H%M%S", time.localtime())))


def validate():
    _make_dirs()
    features, labels = _load("evaluate")
    candidate = _newest(TRAINED)
    score = np.mean(cross_val_score(load(candidate), features, labels, scoring="precision_macro"))
    client = AIFlowNotificationClient(NOTIFICATION_SERVER_URI)
    try:
        current = _newest(DEPLOYED)
        if current is not None:
            old = np.mean(cross_val_score(load(current), features, labels, scoring="precision_macro"))
            if score <= old:
                logging.info("new model scores %s, not better than %s: ignored", score, old)
                return
        logging.info("model %s passes validation with %s", candidate, score)
        shutil.copy(candidate, VALIDATED)
        client.send_event(key="model_validated", value=None)
    finally:
        client.close()


def deploy():
    _make_dirs()
    deployed = shutil.copy(_newest(VALIDATED), DEPLOYED)
    client = AIFlowNotificationClient(NOTIFICATION_SERVER_URI)
    try:
        client.send_event(key="model_deployed", value=deployed)
    finally:
        client.close()


class ModelLoader(ListenerProcessor):
    def __init__(self):
        self.current_model = None

    def process(self, events: List[Event]):
        for event in events:
            self.current_model = event.value


def predict():
    _make_dirs()
    features, _ = _load("predict")
    loader = ModelLoader()
    used = loader.current_model
    client = AIFlowNotificationClient(NOTIFICATION_SERVER_URI)
    try:
        client.register_listener(listener_processor=loader, event_keys=["model_deployed"])
        while True:
            if used != loader.current_model:
                used = loader.current_model
                result = load(used).predict(features)
                with open(os.path.join(WORK, "predict_result"), "a") as out:
                    out.write(f"model [{used}] predict result: {result}\n")
            time.sleep(5)
    finally:
        client.close()


with Workflow(name="online_machine_learning") as workflow:
    preprocess_task = PythonOperator(name="pre_processing", python_callable=preprocess)
    train_task = PythonOperator(name="training", python_callable=train)
    validate_task = PythonOperator(name="validating", python_callable=validate)
    deploy_task = PythonOperator(name="deploying", python_callable=deploy)
    predict_task = PythonOperator(name="predicting", python_callable=predict)

    train_task.action_on_event_received(action=TaskAction.START, event_key="data_prepared")
    validate_task.start_after(train_task)
    deploy_task.action_on_event_received(action=TaskAction.START, event_key="model_validated")


if __name__ == "__main__":
    ops.upload_workflows(workflow_file_path=__file__, artifacts=[os.path.join(HERE, "dataset")])
    ops.start_workflow_execution("online_machine_learning")
