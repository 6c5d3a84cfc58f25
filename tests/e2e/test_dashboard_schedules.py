"""The dashboard's Schedules page in headless Chromium: an operator lists the schedules
with their next slot in each one's local time, opens one to read its next slots and the
slot a firing pass fired (linked to its job), then pauses, resumes, triggers and deletes
it; a reader sees the same with no button at all."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from queued_jobs.app import SqliteStorage
from tests.e2e.conftest import headers_of
from tests.integration.jobs import build_app
from tests.support.browser import PATIENCE_MS, accessibility_violations, screenshot
from tests.support.schedules import fire_next_slot
from tests.support.web import ApiServer

WORK = "tests.work"


@pytest.fixture(autouse=True)
def _patient_expectations() -> Iterator[None]:
    expect.set_options(timeout=PATIENCE_MS)
    yield
    expect.set_options(timeout=5_000)


def _make(server: ApiServer, **fields: Any) -> dict[str, Any]:
    with server.client("operator") as http:
        response = http.post("/schedules", json={"type": WORK, "request": {}, **fields})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def _fire(jobs_env: dict[str, str], schedule_id: str) -> str:
    """Fire the schedule's next slot as a worker's firing pass does: its job's id."""
    storage = SqliteStorage(jobs_env["QJ_TEST_SQLITE"])
    fired = fire_next_slot(build_app, storage, schedule_id, holder="worker-1:42")
    with ThreadPoolExecutor(1) as other:  # Playwright's loop runs in this thread
        _, job_id = other.submit(asyncio.run, fired).result()
    return job_id


def _open(open_page: Callable[..., Any], server: ApiServer, caller: str, hash_: str) -> Page:
    page, _ = open_page(headers=headers_of(server, caller))
    page.goto(f"{server.base_url}/dashboard{hash_}")
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def test_an_operator_reads_a_schedule_and_its_slots_then_steers_it_and_a_reader_only_reads(
    jobs_api: ApiServer, jobs_env: dict[str, str], open_page: Callable[..., Any]
) -> None:
    paris = _make(jobs_api, name="Weekday report", owner="alice", rule="cron:0 9 * * mon-fri",
                  time_zone="Europe/Paris")  # fmt: skip
    _make(jobs_api, name="<b>Hourly</b> sync", owner="bob", rule="every:PT1H",
          time_zone="America/New_York", paused=True)  # fmt: skip
    job_id = _fire(jobs_env, paris["id"])

    page = _open(open_page, jobs_api, "operator", "#/")
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Schedules").click()
    expect(page).to_have_url(re.compile(r"#/schedules$"))
    rows = page.get_by_role("table", name=re.compile("schedules, newest first")).locator("tbody tr")
    expect(rows).to_have_count(2)
    row = page.locator(f'tr[data-schedule="{paris["id"]}"]')
    expect(row).to_contain_text("cron:0 9 * * MON-FRI")
    expect(row).to_contain_text("Europe/Paris")
    expect(row.locator("time")).to_contain_text("09:00")  # the schedule's local time
    expect(row).to_contain_text("Active")
    expect(row.get_by_role("link", name=job_id)).to_have_attribute("href", f"#/jobs/{job_id}")
    expect(page.get_by_role("link", name="<b>Hourly</b> sync")).to_be_visible()  # text, not markup
    expect(page.locator("b")).to_have_count(0)
    expect(page.locator("tbody tr").filter(has_text="Hourly")).to_contain_text("Paused")
    assert accessibility_violations(page) == []
    screenshot(page, "dashboard-schedules")

    row.get_by_role("link", name="Weekday report").click()
    expect(page).to_have_url(re.compile(f"#/schedules/{paris['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Weekday report")
    upcoming = page.get_by_role("region", name="Next slots", exact=True).locator("tbody tr")
    expect(upcoming).to_have_count(10)
    expect(upcoming.first.locator("time")).to_contain_text("09:00")
    fired = page.get_by_role("region", name="Fired slots", exact=True).locator("tbody tr")
    expect(fired).to_have_count(1)
    expect(fired).to_contain_text("worker-1:42")
    expect(fired.get_by_role("link", name=job_id)).to_be_visible()
    assert accessibility_violations(page) == []
    screenshot(page, "dashboard-schedule")

    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".job-status")).to_contain_text("Paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator(".job-status")).to_contain_text("Active")
    page.get_by_role("button", name="Trigger now").click()
    expect(page.locator("#notices")).to_contain_text("started")
    with jobs_api.client("operator") as http:
        started = http.get("/jobs", params={"owner": "alice"}).json()["items"]
    assert len(started) == 2  # the fired slot's job and the one triggered now

    reader = _open(open_page, jobs_api, "reader", f"#/schedules/{paris['id']}")
    expect(reader.get_by_role("heading", level=1)).to_have_text("Weekday report")
    expect(
        reader.get_by_role("region", name="Next slots", exact=True).locator("tbody tr")
    ).to_have_count(10)
    buttons = reader.get_by_role("button", name=re.compile("Pause|Resume|Trigger|Delete"))
    expect(buttons).to_have_count(0)
    assert reader.request.post(f"{jobs_api.base_url}/schedules/{paris['id']}:pause").status == 403

    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete the schedule").click()
    expect(page).to_have_url(re.compile(r"#/schedules$"))
    expect(page.locator("tbody tr")).to_have_count(1)
    with jobs_api.client("operator") as http:
        assert http.get(f"/schedules/{paris['id']}").status_code == 404
