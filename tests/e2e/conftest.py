"""The pages in a real headless Chromium (Debian's ``chromium``, driven by Playwright)
against servers the tests start: the dashboard over the test jobs with API keys, and the
demo (``queued-jobs serve --demo``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support.azurite import free_ports
from tests.support.browser import DESKTOP, PATIENCE_MS, PageGuard, launch
from tests.support.processes import stop_all
from tests.support.web import ApiServer, start_api_server

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.integration.jobs:app"


# Per module, not per session: the synchronous Playwright API runs an event loop of its own
# in this thread while it is open, which the asynchronous tests of other folders must not meet.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
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
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start_worker(env, app=APP)``: a worker process of ``app``; stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], app: str = APP) -> subprocess.Popen[bytes]:
        with (tmp_path / "worker.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "queued_jobs", "worker", app, "--concurrency", "4"],
                cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                stdout=log, stderr=log,
            )  # fmt: skip
        started.append(process)
        return process

    yield start
    stop_all(started)


@pytest.fixture
def jobs_worker(
    jobs_env: dict[str, str], start_worker: Callable[..., subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    """A worker process running the test jobs."""
    return start_worker(jobs_env)


def free_port() -> int:
    [port] = free_ports(1)
    return port


class DemoServer:
    """``queued-jobs serve --demo`` on a port and directory of its own; restartable on both
    (the bell must come back by itself)."""

    def __init__(self, directory: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.log = log
        self.env = env or {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "queued_jobs", "serve", "--demo", "--port",
                 str(self.port), "--dir", str(self.directory), "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=out, stderr=out,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the demo exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the demo did not answer: {self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_all([process])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoServer]:
    server = DemoServer(tmp_path / "demo", tmp_path / "demo.log")
    server.start()
    yield server
    server.stop()
