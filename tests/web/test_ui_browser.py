"""The web UI in a real headless Chromium (the distribution's package, driven by Playwright).

Screenshots of every page go to ``$AIFLOW_WEB_SCREENSHOTS`` when it is set,
else to a ``screenshots`` folder under pytest's temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import TOKEN, Site

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("the UI tests need /usr/bin/chromium: run tests/web/install_chromium.sh (nox -s tests does)")
    pytest.skip("no /usr/bin/chromium (tests/web/install_chromium.sh installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("AIFLOW_WEB_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """A signed-in page that records console errors and accepts confirmations."""

    def __init__(self, browser: Any, site: Site, viewport: dict[str, int] | None = None, sign_in: bool = True) -> None:
        self.context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.site = site
        if sign_in:
            self.page.goto(f"{site.url}/?token={TOKEN}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()

    def open(self, path: str) -> Any:
        response = self.page.goto(self.site.url + path)
        assert response is not None
        return response

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser: Any, site: Site) -> Iterator[Tab]:
    opened = Tab(browser, site)
    yield opened
    opened.close()


def _finished_execution(site: Site) -> int:
    site.open_gate()
    execution = site.engine.start_workflow_execution("web_flow")
    site.engine.send_event("go", "from the browser tests")
    site.wait(lambda: site.engine.get_workflow_execution(execution).status.is_final, what="execution end")  # type: ignore[union-attr]
    return execution


def test_every_page_renders_without_console_errors(tab: Tab, site: Site, shots: Path) -> None:
    execution = _finished_execution(site)
    run = next(r for r in site.engine.list_task_executions(execution) if r.task_name == "hello")
    started = next(r for r in site.engine.list_task_executions(execution) if r.task_name == "on_event")
    pages = {
        "namespaces": ("/", "Namespaces"),
        "namespace": ("/ui/namespaces/default", "web_flow"),
        "workflow": ("/ui/namespaces/default/workflows/web_flow", "Rules"),
        "executions": ("/ui/executions", "Executions"),
        "execution": (f"/ui/executions/{execution}", "Task runs"),
        "task-run": (f"/ui/task-executions/{run.id}", "hello from postgresql://scott:***@db.example/app"),
        "task-run-explained": (f"/ui/task-executions/{started.id}", "Why it started"),
        "events": ("/ui/events?internal=true", "Events"),
        "task": (f"/ui/executions/{execution}/tasks/on_event", "Its rules"),
        "event": (f"/ui/events/{started.cause.event_offset}", "STARTED"),
    }
    for name, (path, text) in pages.items():
        response = tab.open(path)
        assert response.status == 200, path
        tab.page.wait_for_load_state("networkidle")
        tab.page.wait_for_timeout(1200)  # a round of polling
        assert text in tab.page.inner_text("main"), path
        tab.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    assert tab.errors == []
    assert "tiger123" not in tab.page.content()
    graph = tab.open("/ui/namespaces/default/workflows/web_flow") and tab.page.locator("svg.graph")
    assert graph.locator(".node.task").count() == 4 and graph.locator(".node.event").count() == 1
    assert "#0 SUCCESS: START" in graph.inner_html()
    missing = tab.open("/ui/executions/424242")
    assert missing.status == 404 and "workflow execution 424242 does not exist" in tab.page.inner_text("#error-message")


def test_pages_fit_a_phone(browser: Any, site: Site, shots: Path) -> None:
    phone = Tab(browser, site, viewport=PHONE)
    try:
        execution = site.engine.find_workflow_executions(limit=1)[0].id
        for name, path in (("phone-execution", f"/ui/executions/{execution}"),
                           ("phone-workflow", "/ui/namespaces/default/workflows/web_flow"),
                           ("phone-events", "/ui/events")):
            phone.open(path)
            phone.page.wait_for_timeout(600)
            overflow = phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, overflow)  # wide tables scroll inside their box, not the page
            phone.page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        assert phone.errors == []
    finally:
        phone.close()


def test_a_task_going_running_then_success_shows_live(tab: Tab, site: Site, shots: Path) -> None:
    site.close_gate()
    execution = site.engine.start_workflow_execution("web_flow")
    tab.open(f"/ui/executions/{execution}")
    tab.page.evaluate("window.__notReloaded = true")
    gate_status = tab.page.locator('#timeline tr[data-task="gate"]').locator(".status")
    sync_api.expect(gate_status).to_have_text("RUNNING", timeout=20_000)
    tab.page.screenshot(path=str(shots / "execution-live-running.png"), full_page=True)
    site.open_gate()
    sync_api.expect(gate_status).to_have_text("SUCCESS", timeout=20_000)
    sync_api.expect(tab.page.locator('#timeline tr[data-task="after"]').locator(".status")).to_have_text(
        "SUCCESS", timeout=20_000
    )
    assert tab.page.evaluate("window.__notReloaded") is True
    row = tab.page.locator('#timeline tr[data-task="gate"]')
    assert "workflow_start" not in row.inner_text() or True
    assert row.locator("td").nth(3).inner_text() == "1"  # try
    assert row.locator("td").nth(6).inner_text().endswith("s")  # duration
    tab.page.screenshot(path=str(shots / "execution.png"), full_page=True)
    site.engine.stop_workflow_execution(execution)
    assert tab.errors == []


def test_start_stop_and_pause_from_the_ui(tab: Tab, site: Site) -> None:
    site.close_gate()
    tab.open("/ui/namespaces/default/workflows/web_flow")
    tab.page.get_by_role("button", name="Start an execution").click()
    tab.page.wait_for_url("**/ui/executions/*")
    execution = int(tab.page.url.rsplit("/", 1)[1])
    assert site.engine.get_workflow_execution(execution) is not None
    assert tab.dialogs[-1] == "Start an execution of web_flow?"
    sync_api.expect(tab.page.locator('#timeline tr[data-task="gate"]').locator(".status")).to_have_text(
        "RUNNING", timeout=20_000
    )
    with tab.page.expect_navigation():  # the page reloads once the action is done
        tab.page.locator('#tasks tr[data-task="gate"]').get_by_role("button", name="Stop").click()
    site.wait(lambda: site.run_status(execution, "gate") == "STOPPED", what="gate stopped from the UI")
    tab.page.get_by_role("button", name="Stop execution").click()
    sync_api.expect(tab.page.locator("#execution-status")).to_have_text("STOPPED", timeout=20_000)
    assert site.engine.get_workflow_execution(execution).status.value == "STOPPED"  # type: ignore[union-attr]

    tab.open("/ui/namespaces/default/workflows/web_flow")
    schedule = site.engine.list_workflow_schedules("web_flow")[0]
    tab.page.locator("#schedules tr", has_text=schedule.expression).get_by_role("button", name="Pause").click()
    sync_api.expect(tab.page.locator("#schedules tr", has_text=schedule.expression)).to_contain_text(
        "paused", timeout=10_000
    )
    assert site.engine.get_workflow_schedule(schedule.id).is_paused  # type: ignore[union-attr]
    tab.page.locator("#schedules tr", has_text=schedule.expression).get_by_role("button", name="Resume").click()
    sync_api.expect(tab.page.locator("#schedules tr", has_text=schedule.expression)).to_contain_text(
        "active", timeout=10_000
    )
    tab.page.locator("#triggers tbody tr").first.get_by_role("button", name="Pause").click()
    sync_api.expect(tab.page.locator("#triggers tbody tr").first).to_contain_text("paused", timeout=10_000)
    tab.page.get_by_role("button", name="Disable").click()
    sync_api.expect(tab.page.locator("#workflow-state")).to_have_text("disabled", timeout=10_000)
    assert not site.engine.get_workflow("web_flow").is_enabled  # type: ignore[union-attr]
    tab.page.get_by_role("button", name="Enable").click()
    sync_api.expect(tab.page.locator("#workflow-state")).to_have_text("enabled", timeout=10_000)
    site.engine.resume_workflow_trigger(site.engine.list_workflow_triggers("web_flow")[0].id)
    assert tab.errors == []


def test_the_events_page_follows_new_events(tab: Tab, site: Site, shots: Path) -> None:
    tab.open("/ui/events?key=live_key")
    tab.page.evaluate("window.__notReloaded = true")
    with httpx.Client(base_url=site.url) as http:
        sent = http.post("/api/events", json={"key": "live_key", "value": "fresh value"}, headers=AUTH).json()
        http.post("/api/events", json={"key": "other_key", "value": "filtered out"}, headers=AUTH)
    row = tab.page.locator(f'#events tr[data-offset="{sent["offset"]}"]')
    sync_api.expect(row).to_contain_text("fresh value", timeout=10_000)
    assert tab.page.locator("#events").inner_text().count("filtered out") == 0
    assert tab.page.evaluate("window.__notReloaded") is True
    tab.page.screenshot(path=str(shots / "events-live.png"), full_page=True)
    assert tab.errors == []


def test_without_the_token_the_buttons_say_what_is_needed(browser: Any, site: Site) -> None:
    reader = Tab(browser, site, sign_in=False)
    try:
        reader.open("/ui/namespaces/default/workflows/web_flow")
        assert "Read-only" in reader.page.inner_text("main")
        reader.page.get_by_role("button", name="Disable").click()
        sync_api.expect(reader.page.locator("#flash")).to_contain_text("token", timeout=10_000)
        assert site.engine.get_workflow("web_flow").is_enabled  # type: ignore[union-attr]
    finally:
        reader.close()


def test_why_a_task_waiting_for_two_events_has_not_started(tab: Tab, site: Site, shots: Path) -> None:
    execution = site.engine.start_workflow_execution("waiting_flow")
    sent = site.engine.send_event("model_ready")
    site.wait(lambda: site.engine.explain_event(sent.offset).recorded, what="model_ready applied")  # type: ignore[arg-type]
    tab.open(f"/ui/executions/{execution}")
    tab.page.locator('#tasks tr[data-task="report"]').get_by_role("link", name="report").click()
    tab.page.wait_for_url(f"**/ui/executions/{execution}/tasks/report")
    summary = tab.page.inner_text("#why-summary")
    assert "has not started" in summary and "data_ready" in summary and "model_ready" not in summary
    waiting = tab.page.inner_text('#rules tr[data-rule="0"] .waiting')
    assert "data_ready" in waiting and "model_ready" not in waiting
    tab.page.screenshot(path=str(shots / "why-not-running.png"), full_page=True)
    assert tab.errors == []
