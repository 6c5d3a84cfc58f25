"""A job's output on its dashboard page, in headless Chromium over the test jobs: shown
while the job runs and grown live from the event stream (no reading of it again per
line), its end kept with a line for what the record no longer holds, markup in it shown
as text, never run; no panel for a job that printed nothing."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import headers_of
from tests.support.browser import PATIENCE_MS, accessibility_violations, screenshot
from tests.support.web import ApiServer

PRINT = "tests.print"
HOSTILE = [
    '<img src=x onerror="window.__owned=1">\n',
    "</pre><script>window.__owned=2</script>\n",
    '<b>not bold</b> &amp; "quoted"\ttabbed\n',
]


@pytest.fixture(autouse=True)
def _patient_expectations() -> Iterator[None]:
    expect.set_options(timeout=PATIENCE_MS)
    yield
    expect.set_options(timeout=5_000)


def _start(server: ApiServer, **request: Any) -> str:
    with server.client("operator") as http:
        body = {"type": PRINT, "request": request, "owner": "alice"}
        response = http.post("/jobs", json=body)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def _status_of(server: ApiServer, job_id: str) -> str:
    with server.client("operator") as http:
        status: str = http.get(f"/jobs/{job_id}").json()["status"]
    return status


def _wait_for(server: ApiServer, job_id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while (found := _status_of(server, job_id)) != status:
        assert time.monotonic() < deadline, f"job {job_id} stayed {found}, never {status}"
        time.sleep(0.05)


def _open_job(open_page: Callable[..., Any], server: ApiServer, job_id: str) -> Page:
    page, _ = open_page(headers=headers_of(server, "operator"))
    page.goto(f"{server.base_url}/dashboard#/jobs/{job_id}")
    expect(page.locator("#connection")).to_have_text("Live")
    return page


def _output(page: Page) -> Any:
    return page.get_by_role("region", name="Output", exact=True).locator("pre")


def test_a_running_job_s_output_grows_live_and_markup_in_it_stays_text(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    lines = [*HOSTILE, *(f"step {n} of 8: done\n" for n in range(8))]
    job_id = _start(jobs_api, lines=lines, pause=0.6)
    page = _open_job(open_page, jobs_api, job_id)
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if _is_output_read(r) else None)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    expect(_output(page)).to_contain_text("step 1 of 8: done")
    assert _status_of(jobs_api, job_id) == "running"  # seen while it runs
    _output(page).scroll_into_view_if_needed()
    screenshot(page, "dashboard-output-running-desktop")
    expect(page.locator(".job-status")).to_contain_text("Succeeded")
    expect(_output(page)).to_have_text("".join(lines))

    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert page.locator("main b").count() == 0
    assert page.evaluate("window.__owned") is None
    assert dialogs == []
    # Live from the stream: the output was read when the page opened and when the status
    # changed, never once per line printed.
    assert len(reads) <= 4, reads
    assert accessibility_violations(page) == []
    _output(page).scroll_into_view_if_needed()
    screenshot(page, "dashboard-output-desktop")


def test_a_long_output_shows_its_end_and_says_how_much_is_not_kept(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    job_id = _start(jobs_api, numbered=800)  # 16,800 characters
    _wait_for(jobs_api, job_id, "succeeded")
    page = _open_job(open_page, jobs_api, job_id)

    output = _output(page)
    expect(output).to_contain_text("numbered line 00799")
    text = output.inner_text()
    first, rest = text.split("\n", 1)
    gone = re.fullmatch(r"\[… ([0-9,]+) characters not kept …\]", first)
    assert gone is not None, first
    assert int(gone[1].replace(",", "")) == 16_000 - len(rest.rstrip("\n")) - 1
    assert rest.startswith("numbered line ")
    assert "numbered line 00000" not in text


def test_a_job_that_printed_nothing_shows_no_output(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    job_id = _start(jobs_api)
    _wait_for(jobs_api, job_id, "succeeded")
    page = _open_job(open_page, jobs_api, job_id)

    expect(page.get_by_role("region", name="Result", exact=True)).to_contain_text("0")
    expect(page.get_by_role("region", name="Output", exact=True)).to_have_count(0)


def _is_output_read(request: Request) -> bool:
    return "/output" in request.url.split("?")[0]
