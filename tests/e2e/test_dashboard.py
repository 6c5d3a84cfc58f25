"""The operators' dashboard in headless Chromium, over the test jobs with API keys: a failed
job found, read and retried until it succeeds (live, without a reload), bulk actions on a
filtered list, a reader who may look but not act, an end user refused, the stream lost and
found again, accessibility, and the pages at phone width."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from queued_jobs.app import SqliteStorage
from queued_jobs.models import Priority
from tests.e2e.conftest import ROOT, headers_of
from tests.integration.jobs import build_app
from tests.support.browser import (
    DESKTOP,
    PATIENCE_MS,
    PHONE,
    accessibility_violations,
    screenshot,
)
from tests.support.web import ApiServer

WORK = "tests.work"
#: Fails its first attempt, succeeds on the next: with one attempt allowed, it stays failed
#: until an operator retries it.
FAILS_ONCE = {"type": WORK, "request": {"failures": 1}, "max_attempts": 1}
#: Long enough for a page to see it running.
SLOW = {"type": WORK, "request": {"sleeps": [600]}}


@pytest.fixture(autouse=True)
def _patient_expectations() -> Iterator[None]:
    """Expectations wait as long as actions do: a busy machine is slow, never wrong."""
    expect.set_options(timeout=PATIENCE_MS)
    yield
    expect.set_options(timeout=5_000)


def _start(server: ApiServer, owner: str, **job: Any) -> str:
    """Queue a job for ``owner`` as the operator; its id."""
    with server.client("operator") as http:
        response = http.post("/jobs", json={"type": WORK, "request": {}, **job, "owner": owner})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def _wait_for(server: ApiServer, job_id: str, status: str) -> None:
    """Until the job has ``status`` (a generous bound for a busy machine)."""
    deadline = time.monotonic() + 60
    with server.client("operator") as http:
        while (found := http.get(f"/jobs/{job_id}").json()["status"]) != status:
            assert time.monotonic() < deadline, f"job {job_id} stayed {found}, never {status}"
            time.sleep(0.05)


def _status_of(server: ApiServer, job_id: str) -> str:
    with server.client("operator") as http:
        status: str = http.get(f"/jobs/{job_id}").json()["status"]
    return status


def _open(open_page: Callable[..., Any], server: ApiServer, caller: str, hash_: str = "#/",
          viewport: dict[str, int] = DESKTOP) -> tuple[Page, Any]:  # fmt: skip
    page, guard = open_page(headers=headers_of(server, caller), viewport=viewport)
    page.goto(f"{server.base_url}/dashboard{hash_}")
    expect(page.locator("#connection")).to_have_text("Live")
    return page, guard


def _row(page: Page, job_id: str) -> Any:
    return page.locator(f'tr[data-job="{job_id}"]')


def _nav(page: Page, name: str) -> Any:
    """A link of the dashboard's navigation."""
    return page.get_by_role("navigation", name="Dashboard").get_by_role("link", name=name)


def _section(page: Page, name: str) -> Any:
    """A section of the page by its heading."""
    return page.get_by_role("region", name=name, exact=True)


def _no_serious_violations(page: Page) -> None:
    assert accessibility_violations(page) == []


def test_an_operator_finds_a_failed_job_reads_why_and_retries_it_until_it_succeeds(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    done = [_start(jobs_api, "alice") for _ in range(2)]
    failed = _start(jobs_api, "bob", **FAILS_ONCE)
    other = _start(jobs_api, "alice", **FAILS_ONCE)
    for job_id in done:
        _wait_for(jobs_api, job_id, "succeeded")
    _wait_for(jobs_api, failed, "failed")
    _wait_for(jobs_api, other, "failed")

    page, _ = _open(open_page, jobs_api, "operator")
    expect(page.locator(".status-card.status-failed .status-count")).to_have_text("2")
    expect(page.locator(".status-card.status-succeeded .status-count")).to_have_text("2")
    assert page.evaluate("performance.getEntriesByName('qj-overview-ready').length") == 1
    expect(page.get_by_role("table", name="Messages waiting per priority band")).to_be_visible()
    hosts = page.get_by_role("table", name="Hosts seen in the last 10 minutes")
    expect(hosts.locator("tbody tr").filter(has_text="Worker")).to_contain_text("Active")
    _no_serious_violations(page)
    screenshot(page, "dashboard-overview-desktop")

    # The counts follow the jobs by themselves.
    _wait_for(jobs_api, _start(jobs_api, "alice"), "succeeded")
    expect(page.locator(".status-card.status-succeeded .status-count")).to_have_text("3")

    _nav(page, "Jobs").click()
    filters = page.get_by_role("search", name="Filter jobs")
    filters.get_by_role("checkbox", name="Failed").check()
    filters.get_by_label("Owner").fill("bob")
    filters.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"#/jobs\?status=failed&owner=bob$"))
    expect(page.locator("tbody tr")).to_have_count(1)
    row = _row(page, failed)
    expect(row).to_contain_text("Failed")
    expect(row).to_contain_text("bob")
    _no_serious_violations(page)

    row.get_by_role("link", name=failed).click()
    expect(page).to_have_url(re.compile(f"#/jobs/{failed}$"))
    attempts = _section(page, "Attempts")
    expect(attempts.locator("tbody tr")).to_have_count(1)
    expect(attempts.locator("tbody tr").first).to_contain_text("Failed")
    error = _section(page, "Error")
    expect(error).to_contain_text("RuntimeError: attempt 1 failed on purpose")
    traceback = error.locator("pre")
    expect(traceback).to_contain_text("Traceback (most recent call last)")
    expect(traceback).to_contain_text('raise RuntimeError(f"attempt {context.attempt} failed')
    history = _section(page, "History").locator("tbody tr")
    expect(history).to_have_count(3)
    expect(history.nth(0)).to_contain_text("Queued")
    expect(history.nth(1)).to_contain_text("Running")
    host = attempts.locator("tbody tr").first.locator("td").first.inner_text()
    expect(history.nth(1)).to_contain_text(host)  # where it ran
    expect(history.nth(2)).to_contain_text("Failed")
    expect(history.nth(2)).to_contain_text("attempt 1 failed on purpose")
    _no_serious_violations(page)
    screenshot(page, "dashboard-detail-desktop")

    page.evaluate("window.__notReloaded = true")
    page.get_by_role("button", name="Retry").click()
    status = page.locator(".job-status")
    expect(status).to_contain_text("Succeeded")
    expect(attempts.locator("tbody tr")).to_have_count(2)
    expect(attempts.locator("tbody tr").nth(1)).to_contain_text("Succeeded")
    expect(_section(page, "Result").locator("pre")).to_contain_text('"attempt": 2')
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)  # nothing left to retry
    expect(history.last).to_contain_text("Succeeded")
    expect(history.filter(has_text="Running")).to_have_count(2)
    assert page.evaluate("window.__notReloaded") is True
    assert _status_of(jobs_api, failed) == "succeeded"
    assert _status_of(jobs_api, other) == "failed"


def test_an_operator_retries_a_selection_and_then_everything_a_filter_matches(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    batch = [_start(jobs_api, "alice", **FAILS_ONCE, tags=["batch"]) for _ in range(4)]
    outside = _start(jobs_api, "alice", **FAILS_ONCE)
    for job_id in [*batch, outside]:
        _wait_for(jobs_api, job_id, "failed")

    page, _ = _open(open_page, jobs_api, "operator", "#/jobs?tag=batch")
    expect(page.locator("tbody tr")).to_have_count(4)
    expect(page.locator("tbody tr").filter(has_text="Failed")).to_have_count(4)

    first = _row(page, batch[0])
    first.get_by_role("checkbox").check()
    expect(page.get_by_text("1 selected")).to_be_visible()
    page.get_by_role("button", name="Retry selected").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Retry 1 selected job?")
    dialog.get_by_role("button", name="Retry 1").click()
    expect(page.locator("#notices")).to_contain_text("1 job retried.")
    expect(first).to_contain_text("Succeeded")
    expect(page.locator("tbody tr").filter(has_text="Failed")).to_have_count(3)
    _no_serious_violations(page)
    screenshot(page, "dashboard-list-desktop")

    page.get_by_role("button", name="Retry all matching").click()
    expect(dialog).to_contain_text("every job with tag batch, on every page")
    dialog.get_by_role("button", name="Retry all matching").click()
    expect(page.locator("#notices")).to_contain_text("4 matched: 3 jobs retried; 1 refused")
    expect(page.locator("tbody tr").filter(has_text="Succeeded")).to_have_count(4)
    for job_id in batch:
        assert _status_of(jobs_api, job_id) == "succeeded"
    assert _status_of(jobs_api, outside) == "failed"


def test_a_long_list_pages_forward_by_cursor_and_back(
    jobs_api: ApiServer, open_page: Callable[..., Any]
) -> None:
    made = {_start(jobs_api, "carol", tags=["paging"]) for _ in range(30)}
    page, _ = _open(open_page, jobs_api, "reader", "#/jobs?tag=paging&limit=25")
    rows = page.locator("tbody tr")
    pager = page.get_by_role("navigation", name="Pages of jobs")
    expect(rows).to_have_count(25)
    expect(pager).to_contain_text("Page 1")
    first = [row.get_attribute("data-job") for row in rows.all()]
    pager.get_by_role("button", name="Next page").click()
    expect(pager).to_contain_text("Page 2")
    expect(rows).to_have_count(5)
    second = [row.get_attribute("data-job") for row in rows.all()]
    assert set(first) | set(second) == made
    assert not set(first) & set(second)
    expect(pager.get_by_role("button", name="Next page")).to_have_count(0)
    pager.get_by_role("button", name="Previous page").click()
    expect(pager).to_contain_text("Page 1")
    expect(rows).to_have_count(25)
    assert [row.get_attribute("data-job") for row in rows.all()] == first

    filters = page.get_by_role("search", name="Filter jobs")
    filters.get_by_label("Created before").fill("2001-01-01T00:00")
    filters.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"tag=paging&created_before=200[01]-[0-9-]+T[0-9:.]+Z"))
    expect(page.get_by_text("No jobs match this filter.")).to_be_visible()
    filters.get_by_label("Created before").fill("")
    filters.get_by_label("Created from").fill("2001-01-01T00:00")
    filters.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(25)


def test_a_reader_sees_every_job_but_no_action_and_a_forged_action_is_refused(
    jobs_api: ApiServer,
    jobs_env: dict[str, str],
    jobs_worker: subprocess.Popen[bytes],
    open_page: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QJ_TEST_QUEUE", jobs_env["QJ_TEST_QUEUE"])
    _dead_letter(jobs_env, FOREIGN, Priority.HIGH, poison=False)
    failed = _start(jobs_api, "alice", **FAILS_ONCE)
    _wait_for(jobs_api, failed, "failed")

    page, _ = _open(open_page, jobs_api, "reader", "#/jobs?status=failed")
    expect(page.locator("#caller")).to_contain_text("reader")
    expect(_row(page, failed)).to_contain_text("Failed")
    expect(page.get_by_role("checkbox", name=re.compile("^Select"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Retry|Cancel|Delete"))).to_have_count(0)

    _row(page, failed).get_by_role("link", name=failed).click()
    expect(_section(page, "Error").locator("pre")).to_contain_text("Traceback")
    expect(_section(page, "Attempts").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Retry|Cancel|Delete"))).to_have_count(0)

    # The page offers nothing, and the server refuses what a reader sends anyway.
    forged = page.request.post(f"{jobs_api.base_url}/jobs/{failed}/retry")
    assert forged.status == 403
    assert forged.json()["code"] == "permission_denied"
    bulk = page.request.post(f"{jobs_api.base_url}/jobs:retry", data={"status": ["failed"]})
    assert bulk.status == 403
    assert _status_of(jobs_api, failed) == "failed"

    _nav(page, "Dead letters").click()
    letters = _section(page, "Oldest messages").locator("tbody tr")
    expect(letters).to_have_count(1)
    expect(page.get_by_role("button", name=re.compile("Requeue|Delete"))).to_have_count(0)
    with jobs_api.client("operator") as http:
        [letter] = http.get("/dead-letters").json()["items"]
    forged = page.request.post(
        f"{jobs_api.base_url}/dead-letters/high/deadletter/{letter['id']}:requeue"
    )
    assert forged.status == 403


def test_the_pages_work_from_the_keyboard(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    failed = _start(jobs_api, "alice", **FAILS_ONCE)
    _wait_for(jobs_api, failed, "failed")
    page, _ = _open(open_page, jobs_api, "operator", "#/jobs?status=failed")
    expect(_row(page, failed)).to_be_visible()

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    _row(page, failed).get_by_role("link", name=failed).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()  # the new view's heading
    delete = page.get_by_role("button", name="Delete")
    delete.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete this job?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Go back")).to_be_focused()  # the safe choice
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(delete).to_be_focused()
    assert _status_of(jobs_api, failed) == "failed"  # nothing was deleted

    delete.press("Enter")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Delete the job")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/jobs$"))
    expect(page.locator("#notices")).to_contain_text("The job was deleted.")
    with jobs_api.client("operator") as http:
        assert http.get(f"/jobs/{failed}").status_code == 404


#: A body no store of ours sent, meant to run as markup if it were shown as such.
FOREIGN = '<img src="data:," onerror="window.__ran = true"> not a job'


def _dead_letter(jobs_env: dict[str, str], body: str, band: Priority, *, poison: bool) -> None:
    """Put ``body`` on ``band``'s dead-letter (or poison) queue of the test jobs' store (its
    queue names are read from the environment: set ``QJ_TEST_QUEUE`` first)."""

    async def send() -> None:
        client = build_app(SqliteStorage(jobs_env["QJ_TEST_SQLITE"])).client()
        await client.create_storage()
        queue = client.broker.queue(client.queues.for_priority(band))
        await (queue.poison_queue() if poison else queue.dead_letter_queue()).send(body)
        await client.close()

    # Playwright's sync API keeps an event loop running in this thread: send from another.
    with ThreadPoolExecutor(1) as other:
        other.submit(asyncio.run, send()).result()


def test_an_operator_requeues_a_dead_letter_and_deletes_a_poison_message(
    jobs_api: ApiServer,
    jobs_env: dict[str, str],
    open_page: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QJ_TEST_QUEUE", jobs_env["QJ_TEST_QUEUE"])
    _dead_letter(jobs_env, FOREIGN, Priority.LOW, poison=False)
    _dead_letter(jobs_env, '{"v":1,"id":"nothing-of-ours"}', Priority.NORMAL, poison=True)
    page, _ = _open(open_page, jobs_api, "operator")
    queues = page.get_by_role("table", name="Messages waiting per priority band")
    low = queues.locator("tbody tr").filter(has_text="Low")
    low.get_by_role("link", name="1").click()
    expect(page).to_have_url(re.compile(r"#/dead-letters\?band=low&side=deadletter$"))
    messages = _section(page, "Oldest messages").locator("tbody tr")
    expect(messages).to_have_count(1)
    letter = messages.first
    expect(letter).to_contain_text("Dead letter")
    letter.locator("summary").click()
    expect(letter.locator("pre")).to_have_text(FOREIGN)  # as text, never as markup
    expect(letter.locator("img")).to_have_count(0)
    assert page.evaluate("window.__ran === undefined")
    _no_serious_violations(page)

    letter.get_by_role("button", name=re.compile("^Requeue")).click()
    expect(page.locator("#notices")).to_contain_text("The message is back on its queue.")
    expect(page.get_by_text("No message is waiting here.")).to_be_visible()

    _nav(page, "Dead letters").click()
    expect(messages).to_have_count(1)
    expect(messages.first).to_contain_text("Poison")
    messages.first.get_by_role("button", name=re.compile("^Delete")).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete the message").click()
    expect(page.locator("#notices")).to_contain_text("The message was deleted.")
    expect(page.get_by_text("No message is waiting here.")).to_be_visible()
    with jobs_api.client("operator") as http:
        counts = http.get("/dead-letters").json()["counts"]
    assert all(found["messages"] == 0 for found in counts), counts


def test_an_end_user_is_refused_the_dashboard_with_a_page_saying_why(
    jobs_api: ApiServer, open_page: Callable[..., Any]
) -> None:
    page, guard = open_page(headers=headers_of(jobs_api, "alice"))
    with guard.allowing(lambda problem: "403" in problem and "/dashboard" in problem):
        response = page.goto(f"{jobs_api.base_url}/dashboard")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "The dashboard is for operators and readers"
    )
    expect(page.locator("#connection")).to_have_count(0)  # none of the dashboard's code ran


def test_the_page_says_when_the_stream_is_lost_and_catches_up_when_it_is_back(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    running = _start(jobs_api, "alice", **SLOW)
    _wait_for(jobs_api, running, "running")
    page, guard = _open(open_page, jobs_api, "operator", f"#/jobs/{running}")
    expect(page.locator(".job-status")).to_contain_text("Running")

    with guard.allowing(lambda problem: jobs_api.base_url in problem):
        jobs_api.stop()
        expect(page.locator("#connection")).to_have_text("Connection lost, reconnecting…")
        _restart(jobs_api)
        with jobs_api.client("operator") as http:
            assert http.post(f"/jobs/{running}/cancel").status_code == 200
        expect(page.locator("#connection")).to_have_text("Live")
        expect(page.locator(".job-status")).to_contain_text("Cancelled")


def test_the_pages_fit_a_phone_and_the_navigation_folds_away(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    for _ in range(3):
        _start(jobs_api, "alice")
    failed = _start(jobs_api, "bob", **FAILS_ONCE)
    _wait_for(jobs_api, failed, "failed")

    page, _ = _open(open_page, jobs_api, "operator", viewport=PHONE)
    expect(page.locator(".status-card.status-failed .status-count")).to_have_text("1")
    navigation = page.get_by_role("navigation", name="Dashboard")
    expect(navigation.get_by_role("link", name="Jobs")).to_be_hidden()
    _fits(page)
    _no_serious_violations(page)
    screenshot(page, "dashboard-overview-phone")

    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    navigation.get_by_role("link", name="Failed").click()
    expect(navigation.get_by_role("link", name="Jobs")).to_be_hidden()
    expect(_row(page, failed)).to_contain_text("Failed")
    _fits(page)
    _no_serious_violations(page)
    screenshot(page, "dashboard-list-phone")

    _row(page, failed).get_by_role("link", name=failed).click()
    expect(_section(page, "Error").locator("pre")).to_contain_text("Traceback")
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    _fits(page)
    _no_serious_violations(page)
    screenshot(page, "dashboard-detail-phone")


def _fits(page: Page) -> None:
    """Nothing makes the page itself scroll sideways (wide tables scroll in their own box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"


def _restart(server: ApiServer) -> None:
    """Start ``server`` again on its port with its keys (what ``start_api_server`` ran)."""
    port = str(httpx.URL(server.base_url).port)
    with server.log.open("ab") as out:
        server.process = subprocess.Popen(
            [sys.executable, "-m", "queued_jobs", "serve", "tests.integration.jobs:app",
             "--port", port, "--log-level", "warning"],
            cwd=ROOT, env=server.env, stdout=out, stderr=out,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    with server.client("operator") as http:
        while True:
            assert server.process.poll() is None, server.log.read_text()[-3000:]
            try:
                if http.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API server did not come back"
            time.sleep(0.05)


HOSTILE = '<img src=x onerror="window.__owned=1">'


def test_markup_in_a_job_s_fields_is_shown_as_text_never_run(
    jobs_api: ApiServer, jobs_worker: subprocess.Popen[bytes], open_page: Callable[..., Any]
) -> None:
    """Owner, tag and custom data come from callers: the pages print them, never parse them."""
    job_id = _start(
        jobs_api,
        f"mallory {HOSTILE}",
        tags=[HOSTILE[:64]],
        custom_data={"title": HOSTILE, "note": "</pre><script>window.__owned=2</script>"},
    )
    _wait_for(jobs_api, job_id, "succeeded")
    page, _ = _open(open_page, jobs_api, "operator", "#/jobs")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    expect(_row(page, job_id)).to_contain_text(f"mallory {HOSTILE}")
    page.goto(f"{jobs_api.base_url}/dashboard#/jobs/{job_id}")
    expect(page.get_by_text("</pre><script>window.__owned=2</script>", exact=False)).to_be_visible()
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.__owned") is None
    assert dialogs == []
