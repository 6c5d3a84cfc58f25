"""The dashboard's Limits page in headless Chromium, over a worker running limited jobs: a
job holds the only place of ``exports`` and another is parked, so the page shows 1 / 1
and 1 waiting and the parked job's page and its owner's bell say what it waits on; an
operator raises the capacity to 2 through the form and sees the parked job let in; a
reader sees no form."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import headers_of
from tests.support.browser import PATIENCE_MS, PHONE, accessibility_violations, screenshot
from tests.support.waiting import PATIENCE
from tests.support.web import ApiServer, start_api_server

APP = "tests.integration.export_jobs:app"


@pytest.fixture(autouse=True)
def _patient_expectations() -> Iterator[None]:
    expect.set_options(timeout=PATIENCE_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def exports_api(jobs_env: dict[str, str], tmp_path: Path) -> Iterator[ApiServer]:
    server = start_api_server(APP, jobs_env, tmp_path / "api.log")
    yield server
    Path(jobs_env["QJ_TEST_EVENTS"] + ".release").touch()  # the holders end
    server.stop()


def _queue(server: ApiServer) -> str:
    with server.client("alice") as http:
        made = http.post("/jobs", json={"type": "tests.export", "request": {"customer": "acme"}})
    assert made.status_code == 202, made.text
    job_id: str = made.json()["id"]
    return job_id


def _until(server: ApiServer, path: str, condition: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + PATIENCE
    with server.client("operator") as http:
        while True:
            answer = http.get(path).json()
            if condition(answer):
                return answer
            assert time.monotonic() < deadline, f"{path} never became as expected: {answer}"
            time.sleep(0.1)


def _embed_bell(page: Page, base_url: str) -> None:
    """A page of the API's origin that loads the bell's script as any site would."""
    body = (
        '<!doctype html><html lang="en"><head><title>Host</title><link rel="icon" href="data:,">'
        f'<script type="module" src="{base_url}/assets/bell.js"></script></head>'
        "<body><header style='display: flex; justify-content: flex-end; padding: 1rem'>"
        "<queued-jobs-bell></queued-jobs-bell></header></body></html>"
    )
    page.route(
        f"{base_url}/host-page", lambda route: route.fulfill(content_type="text/html", body=body)
    )
    page.goto(f"{base_url}/host-page")


def _open(open_page: Callable[..., Any], server: ApiServer, caller: str, hash_: str) -> Page:
    page, _ = open_page(headers=headers_of(server, caller))
    page.goto(f"{server.base_url}/dashboard{hash_}")
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def test_an_operator_sees_a_full_limit_and_raises_its_capacity_and_a_reader_only_looks(
    exports_api: ApiServer,
    jobs_env: dict[str, str],
    start_worker: Callable[..., subprocess.Popen[bytes]],
    open_page: Callable[..., Any],
) -> None:
    start_worker(jobs_env, app=APP)
    first = _queue(exports_api)
    _until(exports_api, f"/jobs/{first}", lambda job: job["status"] == "running")
    second = _queue(exports_api)
    _until(exports_api, "/limits/exports", lambda limit: limit["parked"] == 1)

    page = _open(open_page, exports_api, "operator", f"#/jobs/{second}")
    waiting = page.locator(".waiting-text")
    expect(waiting).to_contain_text(
        "Waiting for limit exports (key acme): 1 of 1 running (at most 1 at once)"
    )
    expect(waiting.get_by_role("link", name="Limits")).to_have_attribute("href", "#/limits")
    screenshot(page, "dashboard-job-waiting")

    owner, _ = open_page(headers=headers_of(exports_api, "alice"))  # the end user's bell
    _embed_bell(owner, exports_api.base_url)
    bell = owner.locator("queued-jobs-bell")
    bell.get_by_role("button", name="Jobs").click()
    parked = bell.locator(f'li[data-job="{second}"] .waiting')
    expect(parked).to_have_text(
        "Waiting for limit exports (key acme): 1 of 1 running (at most 1 at once)"
    )
    screenshot(owner, "bell-job-waiting")

    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Limits").click()
    expect(page).to_have_url(re.compile(r"#/limits$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Limits")
    exports = page.locator('section[data-limit="exports"]')
    expect(exports.locator('[data-field="holding"]')).to_have_text("1 / 1")
    expect(exports.locator('[data-field="parked"]')).to_have_text("1")
    expect(exports.locator('[data-field="code"]')).to_have_text("1")
    expect(exports.locator('[data-field="override"]')).to_have_text("none")
    expect(exports.locator('tr[data-gate="acme"]')).to_contain_text(first)
    calls = page.locator('section[data-limit="calls"]')
    expect(calls.locator('[data-field="description"]')).to_contain_text("at most 5 starts per 1min")
    expect(calls.locator('[data-field="code"]')).to_have_text("5 per 1min")
    assert accessibility_violations(page) == []
    exports.locator("table").scroll_into_view_if_needed()
    screenshot(page, "dashboard-limits")

    field = exports.get_by_label("Jobs at once")
    field.fill("2")
    exports.get_by_role("button", name="Set", exact=True).click()
    expect(page.locator("#notices")).to_contain_text("exports: capacity 2")
    expect(exports.locator('[data-field="effective"]')).to_have_text("2")
    expect(exports.locator('[data-field="override"]')).to_have_text("2")
    expect(exports).to_contain_text("by olga")
    # the parked job is let in by a worker's sweep (every 5 s), the page reads it anew
    expect(exports.locator('[data-field="holding"]')).to_have_text("2 / 2")
    expect(exports.locator('[data-field="parked"]')).to_have_text("0")
    screenshot(page, "dashboard-limits-raised")
    running = _until(exports_api, f"/jobs/{second}", lambda job: job["status"] == "running")
    assert running["waiting"] is None

    reader = _open(open_page, exports_api, "reader", "#/limits")
    seen = reader.locator('section[data-limit="exports"]')
    expect(seen.locator('[data-field="effective"]')).to_have_text("2")
    expect(reader.get_by_role("button", name=re.compile("^(Set|Reset)"))).to_have_count(0)
    expect(reader.get_by_label("Jobs at once")).to_have_count(0)

    phone, _ = open_page(headers=headers_of(exports_api, "operator"), viewport=PHONE)
    phone.goto(f"{exports_api.base_url}/dashboard#/limits")
    expect(phone.locator('section[data-limit="exports"] [data-field="holding"]')).to_have_text(
        "2 / 2"
    )
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "dashboard-limits-phone")

    exports.get_by_role("button", name="Reset the override of exports").click()
    expect(exports.locator('[data-field="override"]')).to_have_text("none")
    expect(exports.locator('[data-field="effective"]')).to_have_text("1")
