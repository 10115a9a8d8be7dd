import logging
import os
import shutil
import time

import numpy as np
from joblib import dump, load
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from aiflow_core.model.action import TaskAction
from aiflow_core.model.workflow import Workflow
from aiflow_core.notification.notification_client import (
    AIFlowNotificationClient,
    Event,
    ListenerProcessor,
)
from aiflow_core.operators.python import PythonOperator

# Seconds between two batches of prepared data.
DATA_PREPARE_INTERVAL = 30

current_dir = os.path.dirname(__file__)
dataset_path = os.path.join(current_dir, "dataset", "mnist_{}.npz")
working_dir = os.path.join(current_dir, "tmp")
trained_model_dir = os.path.join(working_dir, "trained_models")
validated_model_dir = os.path.join(working_dir, "validated_models")
deployed_model_dir = os.path.join(working_dir, "deployed_models")


def _prepare_working_dir():
    for path in [trained_model_dir, validated_model_dir, deployed_model_dir]:
        os.makedirs(path, exist_ok=True)


def _get_latest_model(model_dir):
    """The newest model file of a directory (names are timestamps), or None."""
    file_list = sorted(os.listdir(model_dir), reverse=True)
    return os.path.join(model_dir, file_list[0]) if file_list else None


def _preprocess_data(dataset_uri):
    with np.load(dataset_uri) as f:
        x_data, y_data = f["x_train"], f["y_train"]
    random_state = check_random_state(0)
    permutation = random_state.permutation(x_data.shape[0])
    x_train = x_data[permutation]
    y_train = y_data[permutation]
    reshaped_x_train = x_train.reshape((x_train.shape[0], -1))
    scaler_x_train = StandardScaler().fit_transform(reshaped_x_train)
    return scaler_x_train, y_train


def preprocess():
    _prepare_working_dir()
    train_dataset = dataset_path.format("train")
    event_sender = AIFlowNotificationClient()
    try:
        while True:
            x_train, y_train = _preprocess_data(train_dataset)
            np.save(os.path.join(working_dir, "x_train"), x_train)
            np.save(os.path.join(working_dir, "y_train"), y_train)
            event_sender.send_event(key="data_prepared", value=None)
            time.sleep(DATA_PREPARE_INTERVAL)
    finally:
        event_sender.close()


def train():
    _prepare_working_dir()
    clf = LogisticRegression(C=50.0 / 5000, penalty="l1", solver="saga", tol=0.1)
    x_train = np.load(os.path.join(working_dir, "x_train.npy"))
    y_train = np.load(os.path.join(working_dir, "y_train.npy"))
    clf.fit(x_train, y_train)
    model_path = os.path.join(trained_model_dir, time.strftime("%Y%m%d%H%M%S", time.localtime()))
    dump(clf, model_path)


def validate():
    _prepare_working_dir()
    x_validate, y_validate = _preprocess_data(dataset_path.format("evaluate"))
    to_be_validated = _get_latest_model(trained_model_dir)
    scores = cross_val_score(load(to_be_validated), x_validate, y_validate, scoring="precision_macro")
    event_sender = AIFlowNotificationClient()
    try:
        deployed_model = _get_latest_model(deployed_model_dir)
        if deployed_model is None:
            logging.info(f"Generate the 1st model with score: {scores}")
        else:
            old_scores = cross_val_score(
                load(deployed_model), x_validate, y_validate, scoring="precision_macro"
            )
            if np.mean(scores) <= np.mean(old_scores):
                logging.info(f"New model with score {scores} is not better than {old_scores}, ignored.")
                return
            logging.info(f"A new model with score: {scores} passes validation")
        shutil.copy(to_be_validated, validated_model_dir)
        event_sender.send_event(key="model_validated", value=None)
    finally:
        event_sender.close()


def deploy():
    _prepare_working_dir()
    to_be_deployed = _get_latest_model(validated_model_dir)
    deploy_model_path = shutil.copy(to_be_deployed, deployed_model_dir)
    event_sender = AIFlowNotificationClient()
    try:
        event_sender.send_event(key="model_deployed", value=deploy_model_path)
    finally:
        event_sender.close()


class ModelLoader(ListenerProcessor):
    def __init__(self):
        self.current_model = None
        logging.info("Waiting for the first model deployed...")

    def process(self, events: list[Event]):
        for e in events:
            self.current_model = e.value


def predict():
    _prepare_working_dir()
    result_path = os.path.join(working_dir, "predict_result")
    x_predict, _ = _preprocess_data(dataset_path.format("predict"))
    model_loader = ModelLoader()
    current_model = model_loader.current_model
    event_listener = AIFlowNotificationClient()
    try:
        event_listener.register_listener(listener_processor=model_loader, event_keys=["model_deployed"])
        while True:
            if current_model != model_loader.current_model:
                current_model = model_loader.current_model
                logging.info(f"Predicting with new model: {current_model}")
                result = load(current_model).predict(x_predict)
                with open(result_path, "a") as f:
                    f.write(f"model [{current_model}] predict result: {result}\n")
            time.sleep(5)
    finally:
        event_listener.close()


with Workflow(name="online_machine_learning") as workflow:
    preprocess_task = PythonOperator(name="pre_processing", python_callable=preprocess)
    train_task = PythonOperator(name="training", python_callable=train)
    validate_task = PythonOperator(name="validating", python_callable=validate)
    deploy_task = PythonOperator(name="deploying", python_callable=deploy)
    predict_task = PythonOperator(name="predicting", python_callable=predict)

    train_task.action_on_event_received(action=TaskAction.START, event_key="data_prepared")
    validate_task.start_after(train_task)
    deploy_task.action_on_event_received(action=TaskAction.START, event_key="model_validated")
