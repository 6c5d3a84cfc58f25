"""The dashboard's first paint on a large store: the time from a navigation to
``/dashboard`` until the overview's data is on the page, in headless Chromium (Debian's
``chromium``, driven by Playwright), read from the page's own ``qj-overview-ready``
performance mark (milliseconds after the navigation started).

The SQLite store holds ``jobs`` jobs created over the last day (four in five finished).
Each run is a cold start: a new server process (nothing cached of the counts) and a new
browser context (no cached assets).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from queued_jobs.repositories.sqlite import SqliteJobRepository
from queued_jobs.web.auth import Role, new_api_key

from .listings import fill, stored_jobs
from .results import Measurement

__all__ = ["dashboard_first_paint"]

#: The issue's bound: the overview's data painted within a second.
TARGET_MS = 1000
_READY = "() => performance.getEntriesByName('qj-overview-ready').length > 0"
_AT = "performance.getEntriesByName('qj-overview-ready')[0].startTime"


def _store(path: Path, jobs: int) -> None:
    async def run() -> None:
        repo = SqliteJobRepository(path)
        await repo.create()
        now = datetime.now(UTC)
        await fill(
            repo, stored_jobs(jobs, 50, 5, start=now - timedelta(days=1), span=timedelta(days=1))
        )
        await repo.close()

    asyncio.run(run())


def _serve(
    spec: dict[str, str], port: int, keys: list[dict[str, object]]
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "benchmarks.web_server", json.dumps(spec), str(port),
               json.dumps(keys)]  # fmt: skip
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/bench/floor", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the benchmark's web server did not start")


def dashboard_first_paint(work: Path, *, jobs: int = 100_000, runs: int = 3) -> list[Measurement]:
    from playwright.sync_api import sync_playwright

    from tests.support.azurite import free_ports
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP

    path = work / "dashboard.db"
    began = time.perf_counter()
    _store(path, jobs)
    filled = time.perf_counter() - began
    key, entry = new_api_key("ops", {Role.OPERATOR})
    spec = {"backend": "sqlite", "path": str(path)}
    times: list[float] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                [port] = free_ports(1)
                server = _serve(spec, port, [entry.to_json()])
                try:
                    context = browser.new_context(
                        extra_http_headers={"X-API-Key": key}, viewport=DESKTOP
                    )
                    page = context.new_page()
                    page.goto(f"http://127.0.0.1:{port}/dashboard")
                    page.wait_for_function(_READY, timeout=60_000)
                    times.append(round(float(page.evaluate(_AT)), 1))
                    context.close()
                finally:
                    server.terminate()
                    server.wait(30)
        finally:
            browser.close()
    return [
        Measurement(
            "dashboard first paint",
            "queued-jobs (SQLite)",
            "ms",
            times,
            params={"jobs": jobs, "target_ms": TARGET_MS, "cold": True, "fill_s": round(filled, 1)},
        )
    ]
