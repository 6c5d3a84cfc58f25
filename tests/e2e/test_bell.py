"""The end user's bell on the demo's sample page, in headless Chromium: a zip build followed
from spinner to download, a failure with its reason, the unseen badge and dismissing,
a server restart survived, and nobody else's jobs."""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, expect

from queued_jobs.web.webpubsub.publisher import CONNECTION_SETTING
from tests.e2e.conftest import DemoServer, headers_of
from tests.support.browser import PHONE, accessibility_violations, screenshot
from tests.support.web import ApiServer
from tests.support.webpubsub import pubsub_stand_in

ADA = {"X-Queued-Jobs-User": "ada", "X-Queued-Jobs-Roles": ""}
GRACE = {"X-Queued-Jobs-User": "grace", "X-Queued-Jobs-Roles": ""}
#: Records, in the page, when the first download link appears in the bell.
_WATCH_LINKS = """() => {
  const bell = document.querySelector('queued-jobs-bell');
  window.__linkSeenAt = null;
  const look = () => {
    if (window.__linkSeenAt === null && bell.shadowRoot.querySelector('li a[href]')) {
      window.__linkSeenAt = Date.now();
    }
  };
  new MutationObserver(look).observe(bell.shadowRoot, {subtree: true, childList: true});
  look();
}"""


def _bell(page: Page) -> Locator:
    return page.locator("queued-jobs-bell")


def _open_bell(page: Page) -> Locator:
    bell = _bell(page)
    bell.get_by_role("button", name="Jobs").click()
    panel = bell.get_by_role("region", name="Your jobs")
    expect(panel).to_be_visible()
    return panel


def _job(bell: Locator, job_type: str | None = None, *, status: str | None = None) -> Locator:
    selector = "li[data-job]" + (f'[data-status="{status}"]' if status else "")
    items = bell.locator(selector)
    return items if job_type is None else items.filter(has_text=job_type)


def _jobs_of(demo: DemoServer, user: dict[str, str]) -> list[dict[str, object]]:
    answer = httpx.get(f"{demo.base_url}/jobs", headers=user, timeout=30)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def test_a_zip_is_followed_from_spinner_to_a_link_that_downloads_it(
    demo: DemoServer, open_page
) -> None:
    page, _ = open_page()
    page.goto(f"{demo.base_url}/?as=ada")
    page.evaluate(_WATCH_LINKS)
    page.get_by_role("button", name="Build my zip").click()
    expect(page.get_by_role("status").filter(has_text="Started")).to_be_visible()
    _open_bell(page)
    item = _job(_bell(page), "Zip of my documents")
    expect(item.locator(".spinner")).to_be_visible()
    progress = item.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuenow", re.compile(r"^[1-9][0-9]?$"))
    expect(item).to_contain_text("Running: ")
    screenshot(page, "bell-open-running-desktop")

    link = item.get_by_role("link")
    expect(link).to_be_visible()
    # Seen as it ended, the bell open: nothing new to count.
    expect(_bell(page).locator(".badge")).to_be_hidden()
    expect(item).to_contain_text("Link expires in 3 days")
    [job] = [j for j in _jobs_of(demo, ADA) if j["type"] == "samples.build_zip"]
    assert job["status"] == "succeeded"
    completed = datetime.fromisoformat(str(job["completed_at"])).timestamp()
    seen = page.evaluate("window.__linkSeenAt") / 1000
    assert seen - completed <= 2.0, f"the link showed {seen - completed:.2f} s after the job ended"

    with page.expect_download() as waiting:
        link.click()
    download = waiting.value
    saved = Path(download.path())
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        names = sorted(archive.namelist())
        assert names == [f"invoices/2026-11/INV-{1000 + n}.csv" for n in range(1, 9)]
        assert archive.read(names[0]).startswith(b"item,quantity,unit_price\n")
    screenshot(page, "bell-open-desktop")
    assert accessibility_violations(page) == []


def test_a_failed_job_says_why_and_counts_as_unseen_until_the_bell_is_opened(
    demo: DemoServer, open_page
) -> None:
    page, _ = open_page()
    page.goto(f"{demo.base_url}/?as=ada")
    bell = _bell(page)
    expect(bell.get_by_role("button", name="Jobs")).to_be_visible()
    page.get_by_role("button", name="Import contacts").click()
    badge = bell.locator(".badge")
    expect(badge).to_have_text("1")
    expect(bell.get_by_role("button", name="Jobs (1 new)")).to_be_visible()
    screenshot(page, "bell-closed-desktop")
    assert accessibility_violations(page) == []

    _open_bell(page)
    failed = _job(bell, "Contacts import", status="failed")
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("line 3: 'bob-at-example' is not an email address")
    expect(badge).to_be_hidden()

    failed.get_by_role("button", name="Dismiss: Contacts import").click()
    expect(failed).to_have_count(0)
    page.reload()
    _open_bell(page)
    expect(bell.get_by_text("No jobs yet.")).to_be_visible()


def test_the_bell_comes_back_by_itself_after_the_server_restarts(
    demo: DemoServer, open_page
) -> None:
    page, guard = open_page()
    page.goto(f"{demo.base_url}/?as=ada")
    bell = _bell(page)
    panel = _open_bell(page)
    expect(panel.get_by_text("No jobs yet.")).to_be_visible()

    with guard.allowing(_refused_by(demo)):
        demo.stop()
        expect(panel.get_by_text("Reconnecting…")).to_be_visible()
        demo.start()
        created = httpx.post(
            f"{demo.base_url}/jobs",
            headers=ADA,
            json={"type": "reports.render", "request": {"title": "After", "sections": 3}},
            timeout=30,
        )
        assert created.status_code == 202, created.text
        done = _job(bell, "reports.render", status="succeeded")
        expect(done).to_contain_text("After: 3 sections rendered")
    expect(panel.get_by_text("Reconnecting…")).to_be_hidden()


def _refused_by(demo: DemoServer) -> Callable[[str], bool]:
    """What a page sees of a server that is down: its calls refused or cut."""

    def refused(problem: str) -> bool:
        return demo.base_url in problem or "ERR_CONNECTION_REFUSED" in problem

    return refused


def test_an_end_user_sees_only_their_own_jobs(demo: DemoServer, open_page) -> None:
    created = httpx.post(
        f"{demo.base_url}/jobs",
        headers=ADA,
        json={"type": "reports.render", "request": {"title": "Ada's", "sections": 1}},
        timeout=30,
    )
    assert created.status_code == 202
    page, _ = open_page()
    page.goto(f"{demo.base_url}/?as=grace")
    page.get_by_role("button", name="Render a report").click()
    bell = _bell(page)
    _open_bell(page)
    expect(_job(bell, status="succeeded")).to_have_count(1)
    expect(_job(bell)).to_have_count(1)
    expect(bell).not_to_contain_text("Ada's")
    ada_job = created.json()["id"]
    assert httpx.get(f"{demo.base_url}/jobs/{ada_job}", headers=GRACE).status_code == 404


def test_the_bell_on_a_phone(demo: DemoServer, open_page) -> None:
    page, _ = open_page(viewport=PHONE)
    page.goto(f"{demo.base_url}/?as=ada")
    page.get_by_role("button", name="Render a report").click()
    expect(_bell(page).locator(".badge")).to_have_text("1")
    screenshot(page, "bell-closed-phone")
    panel = _open_bell(page)
    box = panel.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    screenshot(page, "bell-open-phone")
    assert accessibility_violations(page) == []
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(_bell(page).get_by_role("button", name="Jobs")).to_be_focused()


def test_a_host_page_translates_and_themes_the_bell(demo: DemoServer, open_page) -> None:
    page, _ = open_page()
    page.goto(f"{demo.base_url}/?as=ada")
    page.evaluate(
        """() => {
          const bell = document.querySelector('queued-jobs-bell');
          bell.texts = {button: 'Aufträge', title: 'Ihre Aufträge', empty: 'Noch keine Aufträge.'};
          bell.style.setProperty('--qj-bell-accent', 'rgb(10, 120, 60)');
        }"""
    )
    bell = _bell(page)
    bell.get_by_role("button", name="Aufträge").click()
    panel = bell.get_by_role("region", name="Ihre Aufträge")
    expect(panel.get_by_text("Noch keine Aufträge.")).to_be_visible()
    color = panel.locator(".link-button").evaluate(
        "(button) => getComputedStyle(button).color", None
    )
    assert color == "rgb(10, 120, 60)"


def test_the_bell_embedded_in_another_page_with_api_keys_shows_only_the_callers_jobs(
    jobs_api: ApiServer, jobs_worker: object, open_page
) -> None:
    """Outside development mode: the bell in a plain page of the API's origin, the browser
    sending alice's key, while bob's job exists too."""
    jobs = {}
    for caller in ("alice", "bob"):
        with jobs_api.client(caller) as client:
            answer = client.post("/jobs", json={"type": "tests.work", "request": {}})
            assert answer.status_code == 202, answer.text
            jobs[caller] = answer.json()["id"]
    page, _ = open_page(headers=headers_of(jobs_api, "alice"))
    _embed_bell(page, jobs_api.base_url)
    bell = _bell(page)
    _open_bell(page)
    expect(bell.locator(f'li[data-job="{jobs["alice"]}"][data-status="succeeded"]')).to_be_visible()
    expect(bell.locator(f'li[data-job="{jobs["bob"]}"]')).to_have_count(0)
    expect(_job(bell)).to_have_count(1)


def test_the_bell_follows_jobs_through_web_pubsub_when_the_app_has_a_hub(
    tmp_path: Path, open_page: Callable[..., tuple[Page, object]]
) -> None:
    """The demo with a Web PubSub hub in its settings: the page's bell takes its client URL
    from ``/negotiate`` and the changes from the hub's WebSocket (a stand-in of the
    service), and opens no event stream of the API."""
    with pubsub_stand_in() as hub:
        demo = DemoServer(
            tmp_path / "demo", tmp_path / "demo.log", {CONNECTION_SETTING: hub.connection_string}
        )
        demo.start()
        try:
            page, _ = open_page()
            streams: list[str] = []
            page.on("request", lambda r: streams.append(r.url) if "/events" in r.url else None)
            page.goto(f"{demo.base_url}/?as=ada")
            bell = _bell(page)
            panel = _open_bell(page)
            expect(panel.get_by_text("No jobs yet.")).to_be_visible()
            _wait_for(lambda: hub.connections == 1, "the bell's WebSocket")
            answer = httpx.post(
                f"{demo.base_url}/jobs",
                headers=ADA,
                json={"type": "reports.render", "request": {"title": "Hub", "sections": 6}},
                timeout=30,
            )
            assert answer.status_code == 202, answer.text
            job = answer.json()["id"]
            expect(bell.locator(f'li[data-job="{job}"][data-status="running"]')).to_be_visible()
            expect(bell.locator(f'li[data-job="{job}"][data-status="succeeded"]')).to_be_visible()
            assert hub.unsigned == 0
            assert any(message["job_id"] == job for _, message in hub.sent)
            assert streams == []
        finally:
            demo.stop()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within 30 s"
        time.sleep(0.02)


def _embed_bell(page: Page, base_url: str, attributes: str = "") -> None:
    """A page of the API's origin that loads the bell's script as any site would."""
    page.route(
        f"{base_url}/host-page",
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                '<!doctype html><html lang="en"><head><title>Host</title>'
                '<link rel="icon" href="data:,">'
                f'<script type="module" src="{base_url}/assets/bell.js"></script></head>'
                f"<body><header><queued-jobs-bell {attributes}></queued-jobs-bell></header>"
                "</body></html>"
            ),
        ),
    )
    page.goto(f"{base_url}/host-page")
