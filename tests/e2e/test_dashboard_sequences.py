"""The dashboard's Sequences pages in headless Chromium, over a worker that runs the steps:
an operator lists the sequences and filters them by owner, opens one to read its steps and
every run with its jobs (linked, with their statuses), follows a job to its page and back
through its sequence link, and cancels it; a reader, with no button, sees the cancel
arrive live, and the list announces a sequence started meanwhile and follows its changes.
A job started by a schedule links to its schedule."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import headers_of
from tests.support.browser import PATIENCE_MS, accessibility_violations, screenshot
from tests.support.web import ApiServer

WORK = "tests.work"
PATIENCE_S = PATIENCE_MS / 1000


@pytest.fixture(autouse=True)
def _patient_expectations() -> Iterator[None]:
    expect.set_options(timeout=PATIENCE_MS)
    yield
    expect.set_options(timeout=5_000)


def _start(server: ApiServer, owner: str, name: str, steps: list[dict[str, Any]]) -> str:
    with server.client("operator") as http:
        response = http.post("/sequences", json={"name": name, "steps": steps, "owner": owner})
    assert response.status_code == 202, response.text
    started: str = response.json()["id"]
    return started


def _when(server: ApiServer, sequence_id: str, holds: Callable[[dict[str, Any]], bool]) -> Any:
    """The sequence once ``holds`` is true of it (read through the API; 30 s at most)."""
    deadline = time.monotonic() + PATIENCE_S
    with server.client("operator") as http:
        while True:
            found = http.get(f"/sequences/{sequence_id}").json()
            if holds(found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"sequence {sequence_id} is still {found}")
            time.sleep(0.1)


def _open(open_page: Callable[..., Any], server: ApiServer, caller: str, hash_: str) -> Page:
    page, _ = open_page(headers=headers_of(server, caller))
    page.goto(f"{server.base_url}/dashboard{hash_}")
    expect(page.locator("#connection")).to_have_text("Live")
    return page


@pytest.mark.usefixtures("jobs_worker")
def test_an_operator_reads_a_sequence_s_runs_and_cancels_it_while_a_reader_watches_live(
    jobs_api: ApiServer, open_page: Callable[..., Any]
) -> None:
    quick = {"job_type": WORK, "request": {"sleeps": [0.1]}}
    billing = _start(jobs_api, "alice", "Monthly billing", [
        {"jobs": [quick, quick]},
        {"jobs": [{"job_type": WORK, "request": {"sleeps": [60]}}], "on_failure": "goto:0"},
    ])  # fmt: skip
    broken = _start(jobs_api, "bob", "<b>Nightly</b> export", [
        {"jobs": [{"job_type": WORK, "request": {"permanent": True}}]},
    ])  # fmt: skip
    running = _when(jobs_api, billing, lambda s: len(s["runs"]) == 2)
    _when(jobs_api, broken, lambda s: s["status"] == "failed")
    first_run = [job["job_id"] for job in running["runs"][0]["jobs"]]

    page = _open(open_page, jobs_api, "operator", "#/")
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Sequences").click()
    expect(page).to_have_url(re.compile(r"#/sequences$"))
    rows = page.get_by_role("table", name=re.compile(r"sequences?, newest first")).locator(
        "tbody tr"
    )
    expect(rows).to_have_count(2)
    row = page.locator(f'tr[data-sequence="{billing}"]')
    expect(row).to_contain_text("alice")
    expect(row).to_contain_text("Running")
    expect(row).to_contain_text("step 1 (steps 0-1) · iteration 1")
    failed = page.locator(f'tr[data-sequence="{broken}"]')
    expect(failed).to_contain_text("Failed")
    expect(page.get_by_role("link", name="<b>Nightly</b> export")).to_be_visible()  # text
    expect(page.locator("main b")).to_have_count(0)
    assert accessibility_violations(page) == []
    screenshot(page, "dashboard-sequences")
    page.get_by_label("Owner").fill("alice")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"#/sequences\?owner=alice$"))
    expect(rows).to_have_count(1)

    row.get_by_role("link", name="Monthly billing").click()
    expect(page).to_have_url(re.compile(f"#/sequences/{billing}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Monthly billing")
    steps = page.get_by_role("region", name="Steps, in order").locator("tbody tr")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("Wait for all")
    expect(steps.nth(1)).to_contain_text("go to step 0")
    expect(steps.nth(1)).to_have_attribute("aria-current", "step")
    runs = page.get_by_role("region", name="Runs, newest first").locator("tbody tr")
    expect(runs).to_have_count(2)
    expect(runs.nth(0)).to_contain_text("Waiting")
    expect(runs.nth(0).locator(".run-job-status")).to_have_text("Running")
    expect(runs.nth(1)).to_contain_text("Success")
    expect(runs.nth(1).locator(".run-job-status")).to_have_text(["Succeeded", "Succeeded"])
    expect(steps.nth(1)).to_contain_text("end succeeded (the last step)")
    assert accessibility_violations(page) == []
    screenshot(page, "dashboard-sequence")
    runs.first.scroll_into_view_if_needed()
    screenshot(page, "dashboard-sequence-runs")

    runs.nth(1).get_by_role("link", name=first_run[0]).click()
    expect(page).to_have_url(re.compile(f"#/jobs/{first_run[0]}$"))
    origin = page.locator('a[data-origin="sequence"]')
    expect(origin).to_have_text(billing)
    expect(page.locator(".facts")).to_contain_text("(step 0, iteration 1)")
    screenshot(page, "dashboard-job-of-a-sequence")
    origin.click()
    expect(page).to_have_url(re.compile(f"#/sequences/{billing}$"))

    reader = _open(open_page, jobs_api, "reader", f"#/sequences/{billing}")
    expect(reader.get_by_role("heading", level=1)).to_have_text("Monthly billing")
    expect(reader.locator(".job-status")).to_contain_text("Running")
    expect(reader.get_by_role("button", name="Cancel")).to_have_count(0)
    refused = reader.request.post(f"{jobs_api.base_url}/sequences/{billing}/cancel")
    assert refused.status == 403

    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel the sequence").click()
    expect(page.locator(".job-status")).to_contain_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(reader.locator(".job-status")).to_contain_text("Cancelled")  # from its event
    expect(reader.locator(".job-status")).to_contain_text("cancelled by")
    ended = _when(jobs_api, billing, lambda s: not s["cancel_pending"])
    assert ended["status"] == "cancelled"
    assert ended["runs"][-1]["jobs"][0]["status"] == "cancelled"

    page.get_by_role("link", name="Sequences", exact=True).first.click()
    expect(rows).to_have_count(2)
    slow = {"job_type": WORK, "request": {"sleeps": [60]}}
    later = _start(jobs_api, "alice", "Later run", [{"jobs": [slow]}])
    page.get_by_role("button", name="Show the latest").click()  # announced, not pushed in
    expect(rows).to_have_count(3)
    shown = page.locator(f'tr[data-sequence="{later}"]')
    expect(shown).to_contain_text("Running")
    with jobs_api.client("alice") as http:
        assert http.post(f"/sequences/{later}/cancel").status_code == 200
    expect(shown).to_contain_text("Cancelled")  # from its event: the page read it again


def test_a_job_started_by_a_schedule_links_to_its_schedule(
    jobs_api: ApiServer, open_page: Callable[..., Any]
) -> None:
    with jobs_api.client("operator") as http:
        made = http.post(
            "/schedules", json={"name": "hourly", "type": WORK, "request": {}, "rule": "every:PT1H"}
        ).json()
        job = http.post(f"/schedules/{made['id']}:trigger").json()
        plain = http.post("/jobs", json={"type": WORK, "request": {}}).json()

    page = _open(open_page, jobs_api, "operator", f"#/jobs/{job['id']}")
    origin = page.locator('a[data-origin="schedule"]')
    expect(origin).to_have_text(made["id"])
    expect(page.locator(".facts")).to_contain_text("(hourly)")
    origin.click()
    expect(page).to_have_url(re.compile(f"#/schedules/{made['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("hourly")
    page.goto(f"{jobs_api.base_url}/dashboard#/jobs/{plain['id']}")
    expect(page.locator(".facts")).to_contain_text(plain["id"])
    expect(page.locator("a[data-origin]")).to_have_count(0)
