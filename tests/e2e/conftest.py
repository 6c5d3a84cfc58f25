"""The pages in a real headless Chromium (Debian's ``chromium``, driven by Playwright)
against servers the tests start: the dashboard over the test jobs with API keys, and the
demo (``queued-jobs serve --demo``)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.azurite import free_ports
from tests.support.browser import DESKTOP, PATIENCE_MS, PageGuard, launch
from tests.support.web import ApiServer, start_api_server

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.integration.jobs:app"


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = launch(playwright)
    yield chromium
    chromium.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., tuple[Page, PageGuard]]]:
    """``open_page(headers={...}, viewport=...)``: a fresh browser context (its own storage)
    and page, watched; every page's problems fail the test at its end."""
    made: list[tuple[BrowserContext, PageGuard]] = []

    def open_(
        *, headers: dict[str, str] | None = None, viewport: dict[str, int] = DESKTOP
    ) -> tuple[Page, PageGuard]:
        context = browser.new_context(
            extra_http_headers=headers or {}, viewport=viewport, accept_downloads=True
        )
        context.set_default_timeout(PATIENCE_MS)
        page = context.new_page()
        guard = PageGuard(page).watch()
        made.append((context, guard))
        return page, guard

    yield open_
    for context, _ in made:
        context.close()
    for _, guard in made:
        guard.check()


@pytest.fixture
def jobs_env(tmp_path: Path) -> dict[str, str]:
    """The test jobs' app on a SQLite file of this test's."""
    suffix = uuid.uuid4().hex[:10]
    return {
        "QJ_TEST_EVENTS": str(tmp_path / "events.log"),
        "QJ_TEST_QUEUE": f"jobs{suffix}",
        "QJ_TEST_SQLITE": str(tmp_path / "jobs.db"),
    }


@pytest.fixture
def jobs_api(jobs_env: dict[str, str], tmp_path: Path) -> Iterator[ApiServer]:
    """``queued-jobs serve`` over the test jobs, with API keys for alice, bob, a reader
    and an operator (``headers_of(server, name)`` for a browser context)."""
    server = start_api_server(APP, jobs_env, tmp_path / "api.log")
    yield server
    server.stop()


def headers_of(server: ApiServer, caller: str) -> dict[str, str]:
    return {"X-API-Key": server.keys[caller]}


@pytest.fixture
def jobs_worker(jobs_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process running the test jobs."""
    env = {**os.environ, **jobs_env, "PYTHONPATH": str(ROOT)}
    with (tmp_path / "worker.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "queued_jobs", "worker", APP, "--concurrency", "4"],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )  # fmt: skip
    yield process
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def free_port() -> int:
    [port] = free_ports(1)
    return port
