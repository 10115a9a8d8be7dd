"""REST contract: every route answers, refuses without or with a wrong token, names unknown objects (404)
and malformed fields (422); through a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aiflow_core.errors import ConfigError
from tests.web.conftest import TOKEN, WORKFLOW_FILE, Site

AUTH = {"Authorization": f"Bearer {TOKEN}"}
WF = "/api/namespaces/default/workflows/web_flow"


@pytest.fixture(scope="module")
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def ids(site: Site, http: httpx.Client) -> dict[str, Any]:
    """Objects the routes are called on: a finished execution, a task run, a schedule, a trigger, an event."""
    site.open_gate()
    execution = http.post(f"{WF}/executions", headers=AUTH).json()["id"]
    go = http.post("/api/events", json={"key": "go"}, headers=AUTH).json()["offset"]  # starts on_event, the last task
    site.wait(lambda: site.engine.get_workflow_execution(execution).status.is_final, what="execution end")
    run = site.engine.list_task_executions(execution)[0].id
    schedule = site.engine.list_workflow_schedules("web_flow")[0].id
    trigger = site.engine.list_workflow_triggers("web_flow")[0].id
    snapshot = site.engine.get_workflow("web_flow").snapshot_id  # type: ignore[union-attr]
    site.engine.add_namespace("scratch")
    return {
        "execution": execution, "run": run, "schedule": schedule, "trigger": trigger, "snapshot": snapshot,
        "event": go,
    }


# (method, path, body, expected status): every route of the API with valid arguments.
def routes(i: dict[str, Any]) -> list[tuple[str, str, Any, int]]:
    e, r, s, t = i["execution"], i["run"], i["schedule"], i["trigger"]
    return [
        ("GET", "/api/namespaces", None, 200),
        ("POST", "/api/namespaces", {"name": "made", "properties": {"team": "a"}}, 201),
        ("GET", "/api/namespaces/made", None, 200),
        ("PUT", "/api/namespaces/made", {"properties": {"team": "b"}}, 200),
        ("DELETE", "/api/namespaces/made", None, 204),
        ("GET", "/api/namespaces/default/workflows", None, 200),
        ("POST", "/api/workflows", {"file_name": "uploaded.py", "content": WORKFLOW_FILE.read_text()}, 201),
        ("GET", WF, None, 200),
        ("GET", f"{WF}/source", None, 200),
        ("GET", f"{WF}/graph", None, 200),
        ("POST", f"{WF}/disable", None, 204),
        ("POST", f"{WF}/enable", None, 204),
        ("GET", f"{WF}/snapshots", None, 200),
        ("GET", f"/api/snapshots/{i['snapshot']}", None, 200),
        ("GET", f"{WF}/schedules", None, 200),
        ("POST", f"{WF}/schedules", {"expression": "cron@0 3 * * *", "misfire_policy": "skip"}, 201),
        ("GET", f"/api/schedules/{s}", None, 200),
        ("POST", f"/api/schedules/{s}/pause", None, 204),
        ("POST", f"/api/schedules/{s}/resume", None, 204),
        ("GET", f"{WF}/triggers", None, 200),
        ("GET", f"/api/triggers/{t}", None, 200),
        ("POST", f"/api/triggers/{t}/pause", None, 204),
        ("POST", f"/api/triggers/{t}/resume", None, 204),
        ("GET", "/api/workflow-executions", None, 200),
        ("GET", f"{WF}/executions", None, 200),
        ("GET", f"/api/workflow-executions/{e}", None, 200),
        ("GET", f"/api/workflow-executions/{e}/task-executions", None, 200),
        ("POST", f"/api/workflow-executions/{e}/stop", None, 202),
        ("GET", f"/api/task-executions/{r}", None, 200),
        ("GET", f"/api/task-executions/{r}/log", None, 200),
        ("GET", "/api/events", None, 200),
        ("POST", "/api/events", {"key": "k", "value": "v"}, 201),
        ("GET", "/api/events/latest-offset", None, 200),
        ("GET", "/api/engine", None, 200),
        ("GET", "/metrics", None, 200),
        ("GET", f"/api/task-executions/{r}/explanation", None, 200),
        ("GET", f"/api/workflow-executions/{e}/tasks/on_event/explanation", None, 200),
        ("GET", f"/api/events/{i['event']}/explanation", None, 200),
        ("GET", f"/api/evaluations?workflow_execution_id={e}", None, 200),
    ]


# Routes that start, stop or delete things, called last on objects of their own (see the last test).
LATE = [
    ("POST", f"{WF}/executions", 201),
    ("POST", f"{WF}/executions/stop", 204),
    ("POST", "/api/workflow-executions/{own_execution}/tasks/hello/start", 409),  # a finished execution
    ("POST", "/api/workflow-executions/{own_execution}/tasks/hello/stop", 409),
    ("DELETE", "/api/workflow-executions/{own_execution}", 204),
    ("DELETE", "/api/schedules/{own_schedule}", 204),
    ("DELETE", f"{WF}/schedules", 204),
    ("DELETE", "/api/triggers/{trigger}", 204),
    ("DELETE", f"{WF}/triggers", 204),
    ("DELETE", "/api/snapshots/{snapshot}", 409),  # used by an execution
    ("DELETE", f"{WF}/snapshots", 204),
    ("DELETE", "/api/namespaces/default/workflows/uploaded_flow", 404),  # the upload names its workflow web_flow
]


def test_every_route_answers_and_acting_calls_need_the_token(http: httpx.Client, ids: dict[str, Any]) -> None:
    for method, path, body, status in routes(ids):
        if method != "GET":
            refused = http.request(method, path, json=body)
            assert refused.status_code == 401, (method, path, refused.text)
            assert refused.json()["error"] == "Unauthorized" and "token" in refused.json()["detail"]
            wrong = http.request(method, path, json=body, headers={"Authorization": "Bearer wrong-token"})
            assert wrong.status_code == 403, (method, path, wrong.text)
        answer = http.request(method, path, json=body, headers=AUTH)
        assert answer.status_code == status, (method, path, answer.text)


def test_the_openapi_description_lists_every_route_and_the_tests_cover_them(
    http: httpx.Client, ids: dict[str, Any]
) -> None:
    from openapi_spec_validator import validate

    spec = http.get("/api/openapi.json").json()
    validate(spec)
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    templated = {
        (method, _template(path, ids)) for method, path, _, _ in routes(ids)
    } | {(method, _template(t.format(**ids, own_execution=ids["execution"], own_schedule=ids["schedule"]), ids))
         for method, t, _ in LATE}
    assert described - templated == set()


def _template(path: str, ids: dict[str, Any]) -> str:
    """A concrete path with its ids and names put back as the OpenAPI parameters."""
    names = {
        "/api/namespaces/made": "/api/namespaces/{namespace}",
        "/api/namespaces/default/workflows/web_flow": "/api/namespaces/{namespace}/workflows/{workflow_name}",
        "/api/namespaces/default/workflows/uploaded_flow": "/api/namespaces/{namespace}/workflows/{workflow_name}",
        "/api/namespaces/default/workflows": "/api/namespaces/{namespace}/workflows",
        f"/api/workflow-executions/{ids['execution']}": "/api/workflow-executions/{workflow_execution_id}",
        f"/api/task-executions/{ids['run']}": "/api/task-executions/{task_execution_id}",
        f"/api/schedules/{ids['schedule']}": "/api/schedules/{schedule_id}",
        f"/api/triggers/{ids['trigger']}": "/api/triggers/{trigger_id}",
        f"/api/snapshots/{ids['snapshot']}": "/api/snapshots/{snapshot_id}",
        f"/api/events/{ids['event']}": "/api/events/{offset}",
    }
    path = path.partition("?")[0]
    path = path.replace("/tasks/hello/", "/tasks/{task_name}/").replace("/tasks/on_event/", "/tasks/{task_name}/")
    for concrete, template in sorted(names.items(), key=lambda kv: -len(kv[0])):
        if path == concrete or path.startswith(concrete + "/"):
            path = template + path[len(concrete):]
            break
    return path


@pytest.mark.parametrize(
    ("method", "path", "kind", "key"),
    [
        ("GET", "/api/namespaces/nowhere", "namespace", "nowhere"),
        ("GET", "/api/namespaces/nowhere/workflows", "namespace", "nowhere"),
        ("GET", "/api/namespaces/default/workflows/ghost", "workflow", "default.ghost"),
        ("POST", "/api/namespaces/default/workflows/ghost/executions", "workflow", "default.ghost"),
        ("POST", "/api/namespaces/default/workflows/ghost/enable", "workflow", "default.ghost"),
        ("GET", "/api/workflow-executions/987654", "workflow execution", 987654),
        ("POST", "/api/workflow-executions/987654/stop", "workflow execution", 987654),
        ("GET", "/api/workflow-executions/987654/task-executions", "workflow execution", 987654),
        ("POST", "/api/workflow-executions/987654/tasks/hello/start", "workflow execution", 987654),
        ("GET", "/api/task-executions/987654", "task execution", 987654),
        ("GET", "/api/task-executions/987654/log", "task execution", 987654),
        ("GET", "/api/task-executions/987654/log?follow=true", "task execution", 987654),
        ("GET", "/api/schedules/987654", "workflow schedule", 987654),
        ("POST", "/api/schedules/987654/pause", "workflow schedule", 987654),
        ("GET", "/api/triggers/987654", "workflow trigger", 987654),
        ("POST", "/api/triggers/987654/resume", "workflow trigger", 987654),
        ("GET", "/api/snapshots/987654", "workflow snapshot", 987654),
        ("GET", "/api/workflow-executions?namespace=nowhere", "namespace", "nowhere"),
        ("GET", "/api/task-executions/987654/explanation", "task execution", 987654),
        ("GET", "/api/workflow-executions/987654/tasks/hello/explanation", "workflow execution", 987654),
        ("GET", "/api/events/987654/explanation", "event", 987654),
    ],
)
def test_unknown_objects_are_404_naming_them(http: httpx.Client, method: str, path: str, kind: str, key: Any) -> None:
    answer = http.request(method, path, headers=AUTH)
    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert (body["error"], body["kind"], body["key"]) == ("NotFoundError", kind, key)
    assert str(key) in body["detail"]


def test_an_unknown_task_of_an_execution_is_404_naming_it(http: httpx.Client, ids: dict[str, Any]) -> None:
    answer = http.post(f"/api/workflow-executions/{ids['execution']}/tasks/nosuchtask/stop", headers=AUTH)
    assert answer.status_code == 404
    assert (answer.json()["kind"], answer.json()["key"]) == ("task", "nosuchtask")


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/events", {"value": "v"}, "key"),
        ("POST", "/api/events", {"key": "k", "value": 5}, "value"),
        ("POST", "/api/events", {"key": "k", "workflow_execution_id": 0}, "workflow_execution_id"),
        ("POST", "/api/events", {"key": "k", "surprise": 1}, "surprise"),
        ("POST", "/api/events", ["not", "an", "object"], ""),
        ("POST", "/api/namespaces", {"name": ""}, "name"),
        ("PUT", "/api/namespaces/default", {"properties": "text"}, "properties"),
        ("POST", f"{WF}/schedules", {"expression": "cron@0 3 * * *", "misfire_policy": "sometimes"}, "misfire_policy"),
        ("POST", "/api/workflows", {"file_name": "../escape.py", "content": ""}, "file_name"),
        ("GET", "/api/workflow-executions/abc", None, "workflow_execution_id"),
        ("GET", "/api/workflow-executions?limit=0", None, "limit"),
        ("GET", "/api/workflow-executions?status=SLEEPING", None, "status.0"),
        ("GET", "/api/events?before=-3", None, "before"),
        ("GET", "/api/events?since=yesterday", None, "since"),
        ("GET", "/api/task-executions/1/log?offset=-1", None, "offset"),
    ],
)
def test_malformed_requests_are_422_naming_the_field(
    http: httpx.Client, method: str, path: str, body: Any, field: str
) -> None:
    answer = http.request(method, path, json=body, headers=AUTH)
    assert answer.status_code == 422, answer.text
    got = answer.json()
    assert got["error"] == "ValidationError"
    if field:
        assert got["field"] == field and got["detail"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        (f"{WF}/schedules", {"expression": "cron@61 * * * *"}, "61 * * * *"),
        ("/api/events", {"key": "k", "namespace": "bad namespace!"}, "namespace"),
        ("/api/workflows", {"file_name": "broken.py", "content": "raise SystemExit('no')\n"}, "broken.py"),
    ],
)
def test_values_the_library_refuses_are_422_with_its_typed_error(
    http: httpx.Client, path: str, body: Any, named: str
) -> None:
    answer = http.post(path, json=body, headers=AUTH)
    assert answer.status_code in (404, 422), answer.text
    assert named in answer.json()["detail"]


def test_state_conflicts_are_409(http: httpx.Client, site: Site) -> None:
    assert http.post("/api/namespaces", json={"name": "default"}, headers=AUTH).status_code == 409
    answer = http.delete("/api/namespaces/default", headers=AUTH)
    assert answer.status_code == 409 and answer.json()["error"] == "InvalidStateError"


def test_secrets_are_masked_in_logs_events_and_errors(http: httpx.Client, site: Site, ids: dict[str, Any]) -> None:
    hello = next(r for r in site.engine.list_task_executions(ids["execution"]) if r.task_name == "hello")
    log = http.get(f"/api/task-executions/{hello.id}/log").json()
    assert "hello from postgresql://scott:***@db.example/app" in log["text"] and "tiger123" not in log["text"]
    streamed = http.get(f"/api/task-executions/{hello.id}/log", params={"follow": "true"}).text
    assert "scott:***@" in streamed and "tiger123" not in streamed
    http.post("/api/events", json={"key": "dsn", "value": "mysql://root:hunter2@h/db"}, headers=AUTH)
    events = http.get("/api/events", params={"key": "dsn"}).text
    assert "root:***@h" in events and "hunter2" not in events
    page = http.get("/ui/events", params={"key": "dsn"}).text
    assert "root:***@h" in page and "hunter2" not in page


def test_the_log_follows_a_running_task_until_it_ends(http: httpx.Client, site: Site) -> None:
    site.close_gate()
    execution = http.post(f"{WF}/executions", headers=AUTH).json()["id"]
    site.wait(lambda: site.run_status(execution, "gate") == "RUNNING", what="gate RUNNING")
    gate = next(r for r in site.engine.list_task_executions(execution) if r.task_name == "gate")
    with http.stream("GET", f"/api/task-executions/{gate.id}/log", params={"follow": "true"}) as stream:
        pieces = stream.iter_text()
        received = ""
        while "waiting for the gate" not in received:
            received += next(pieces)
        site.open_gate()
        received += "".join(pieces)  # ends once the run has ended and its log is read
    assert received.index("waiting for the gate") < received.index("gate open: done")
    assert site.run_status(execution, "gate") == "SUCCESS"


def test_keyset_pages_of_events_and_executions(http: httpx.Client, site: Site) -> None:
    sent = [http.post("/api/events", json={"key": "paged", "value": str(n)}, headers=AUTH).json()["offset"]
            for n in range(7)]
    seen: list[int] = []
    before = None
    while True:
        page = http.get("/api/events", params={"key": "paged", "limit": 3, **({"before": before} if before else {})})
        body = page.json()
        seen += [e["offset"] for e in body["items"]]
        before = body["next_before"]
        if before is None:
            break
    assert seen == sorted(sent, reverse=True)
    newer = http.get("/api/events", params={"key": "paged", "after": sent[4]}).json()
    assert [e["offset"] for e in newer["items"]] == sent[5:]
    assert newer["latest_offset"] >= sent[-1]

    executions = [e.id for e in site.engine.find_workflow_executions(limit=1000)]
    pages: list[int] = []
    before = None
    while True:
        params = {"limit": 1, **({"before": before} if before else {})}
        body = http.get("/api/workflow-executions", params=params).json()
        pages += [e["id"] for e in body["items"]]
        before = body["next_before"]
        if before is None:
            break
    assert pages == executions == sorted(executions, reverse=True) and len(pages) >= 2
    only = http.get("/api/workflow-executions", params={"status": "SUCCESS", "workflow_name": "web_flow"}).json()
    assert {e["status"] for e in only["items"]} == {"SUCCESS"}


def test_metrics_in_the_prometheus_format(http: httpx.Client, ids: dict[str, Any]) -> None:
    answer = http.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    for name in (
        "aiflow_events_appended_total", 'aiflow_task_executions{status="SUCCESS"}', "aiflow_executor_queue_depth",
        "aiflow_lease_holder{owner=", "aiflow_event_to_start_seconds_count", "aiflow_scheduler_step_seconds_count",
        "aiflow_events_behind_head", "aiflow_scheduler_leader 1",
    ):
        assert name in text, name
    steps = next(line for line in text.splitlines() if line.startswith("aiflow_scheduler_step_seconds_count"))
    assert int(steps.split()[1]) > 0


def test_a_page_link_with_the_token_signs_the_browser_in(site: Site) -> None:
    with httpx.Client(base_url=site.url) as fresh:
        assert fresh.get("/ui/events?token=wrong-token").status_code == 403
        signed = fresh.get("/ui/events?key=x&token=" + TOKEN, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/events?key=x"
    cookie = signed.cookies["aiflow_token"]
    set_cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    with httpx.Client(base_url=site.url, cookies={"aiflow_token": cookie}) as browser:
        refused = browser.post(f"{WF}/disable")
        assert refused.status_code == 403 and "x-aiflow-action" in refused.json()["detail"]
        assert browser.post(f"{WF}/disable", headers={"X-AIFlow-Action": "1"}).status_code == 204
        assert browser.post(f"{WF}/enable", headers={"X-AIFlow-Action": "1"}).status_code == 204


def test_a_non_loopback_bind_needs_the_token_for_every_call(site: Site) -> None:
    from aiflow_core.web import create_app
    from aiflow_core.web.server import BackgroundServer

    with pytest.raises(ConfigError, match="not a loopback address"):
        create_app(site.engine, host="0.0.0.0")
    server = BackgroundServer(create_app(site.engine, token=TOKEN, host="0.0.0.0"), "0.0.0.0", 0).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as remote:
            for path in ("/api/namespaces", "/metrics", "/api/openapi.json", "/"):
                assert remote.get(path).status_code == 401, path
                assert remote.get(path, headers={"Authorization": "Bearer nope"}).status_code == 403, path
                assert remote.get(path, headers=AUTH).status_code == 200, path
            assert remote.post("/api/events", json={"key": "k"}).status_code == 401
            assert remote.post("/api/events", json={"key": "k"}, headers=AUTH).status_code == 201
            page = remote.get("/ui/events")
            assert page.status_code == 401 and "?token=" in page.text
    finally:
        server.stop()


def test_a_loopback_app_without_a_token_reads_but_never_acts(site: Site) -> None:
    import asyncio

    from aiflow_core.web import create_app

    async def call(app: Any, base_url: str, method: str, path: str, **kw: Any) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
            return await client.request(method, path, **kw)

    tokenless = create_app(site.engine)
    assert asyncio.run(call(tokenless, "http://127.0.0.1", "GET", "/api/namespaces")).status_code == 200
    refused = asyncio.run(call(tokenless, "http://127.0.0.1", "POST", "/api/events", json={"key": "k"}))
    assert refused.status_code == 401 and "has none" in refused.json()["detail"]
    # the app believes it is on 127.0.0.1, but the server it runs in listens on another address
    elsewhere = asyncio.run(call(create_app(site.engine, token=TOKEN), "http://192.0.2.7", "GET", "/api/namespaces"))
    assert elsewhere.status_code == 401


def test_starting_stopping_and_deleting_routes(http: httpx.Client, site: Site, ids: dict[str, Any]) -> None:
    """Last in the module: these routes end or delete what they act on."""
    site.close_gate()
    own = http.post(f"{WF}/executions", headers=AUTH).json()["id"]
    site.wait(lambda: site.run_status(own, "gate") == "RUNNING", what="gate RUNNING")
    assert http.post(f"/api/workflow-executions/{own}/tasks/gate/stop", headers=AUTH).status_code == 202
    site.wait(lambda: site.run_status(own, "gate") == "STOPPED", what="gate STOPPED")
    assert http.post(f"/api/workflow-executions/{own}/tasks/gate/start", headers=AUTH).status_code == 202
    site.wait(lambda: site.run_status(own, "gate") == "RUNNING", what="gate RUNNING again")
    assert http.post(f"/api/workflow-executions/{own}/stop", headers=AUTH).status_code == 202
    site.wait(lambda: site.engine.get_workflow_execution(own).status.value == "STOPPED", what="STOPPED")  # type: ignore[union-attr]
    own_schedule = site.engine.add_workflow_schedule("cron@0 5 * * *", "web_flow").id
    site.open_gate()
    for method, template, status in LATE:
        path = template.format(**ids, own_execution=own, own_schedule=own_schedule)
        assert http.request(method, path).status_code == 401, (method, path)
        answer = http.request(method, path, headers=AUTH)
        assert answer.status_code == status, (method, path, answer.text)
    assert site.engine.get_workflow_execution(own) is None
    assert site.engine.list_workflow_schedules("web_flow") == []
    assert site.engine.list_workflow_triggers("web_flow") == []


def test_explanations_name_what_a_task_waits_for(http: httpx.Client, site: Site, ids: dict[str, Any]) -> None:
    execution = http.post("/api/namespaces/default/workflows/waiting_flow/executions", headers=AUTH).json()["id"]
    sent = http.post("/api/events", json={"key": "model_ready"}, headers=AUTH).json()["offset"]
    site.wait(lambda: http.get(f"/api/events/{sent}/explanation").json()["recorded"], what="model_ready applied")
    why = http.get(f"/api/workflow-executions/{execution}/tasks/report/explanation").json()
    assert why["task_status"] is None and "data_ready" in why["summary"]
    assert why["rules"][0]["waiting_for"] == ["event 'data_ready'"] or "data_ready" in str(why["rules"][0])
    assert "model_ready" not in " ".join(why["rules"][0]["waiting_for"])
    assert "has not started" in why["text"]
    hello = next(r for r in site.engine.list_task_executions(ids["execution"]) if r.task_name == "on_event")
    chain = http.get(f"/api/task-executions/{hello.id}/explanation").json()
    assert chain["chain"][0]["event"]["key"] == "go" and "started by a user" in chain["text"]
    pages = http.get("/api/evaluations", params={"workflow_execution_id": execution, "limit": 1}).json()
    assert [e["event_key"] for e in pages["items"]] == ["model_ready"]
